"""HTTP plumbing shared by every feature's api.py: auth context, JSON bodies, envelopes."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterbill.core.auth import KeyCache, bearer_token, key_use, note_key_use
from meterbill.core.db import Database
from meterbill.core.errors import BadRequest, MeterbillError, ValidationFailed
from meterbill.core.times import utc_now

logger = logging.getLogger("meterbill")


class JsonResponse(Response):
    """JSON through orjson; bodies are plain dicts built by the schemas modules."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(payload: dict[str, Any]) -> JsonResponse:
    return JsonResponse(payload)


@dataclass(frozen=True)
class ApiContext:
    """What every authenticated request carries into the services."""

    db: Database
    organization_id: uuid.UUID
    now: datetime


def database(request: Request) -> Database:
    return request.app.state.database


def _cached_context(request: Request) -> tuple[ApiContext | None, str | None]:
    key = bearer_token(request.headers.get("authorization"))
    organization_id = request.app.state.key_cache.lookup(key, time.monotonic()) if key else None
    if organization_id is None:
        return None, key
    return ApiContext(database(request), organization_id, utc_now()), key


def _checked_context(request: Request, key: str | None) -> ApiContext:
    db = database(request)
    now = utc_now()
    with db.transaction(write=False) as session:
        use = key_use(session, key, now)
    if use.stale:
        # At most once a minute per key: the request path reads, it does not write.
        with db.transaction() as session:
            note_key_use(session, use.key_id, now)
    cache: KeyCache = request.app.state.key_cache
    cache.remember(key, use.organization_id, time.monotonic())  # type: ignore[arg-type]
    return ApiContext(db=db, organization_id=use.organization_id, now=now)


def api_context(request: Request) -> ApiContext:
    context, key = _cached_context(request)
    return context or _checked_context(request, key)


async def async_api_context(request: Request) -> ApiContext:
    """The same, for async endpoints: only a key not seen yet costs a thread hop."""
    context, key = _cached_context(request)
    return context or await run_in_threadpool(_checked_context, request, key)


def _parsed(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the request body is not valid JSON") from exc


async def json_body(request: Request) -> Any:
    raw = await request.body()
    # JSON can only carry a NUL as the escape \u0000: the walk costs nothing otherwise.
    return without_nul(_parsed(raw)) if b"\\u0000" in raw else _parsed(raw)


async def raw_json_body(request: Request) -> Any:
    """The body as sent, NUL bytes included. Events take it so: parse_event refuses a
    NUL anywhere, since an event is a record to store as sent or not at all."""
    return _parsed(await request.body())


def without_nul(body: Any) -> Any:
    """The body with NUL bytes stripped from its strings, as Lago strips them from names.

    PostgreSQL cannot store a NUL in text or jsonb. In an object key it is refused
    (422 on the field below the root object) rather than stripped, since stripping
    could merge two keys into one.
    """
    field = _nul_key_field(body)
    if field is not None:
        raise ValidationFailed.single(field, "value_is_invalid")
    return _stripped(body)


def _stripped(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {key: _stripped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stripped(item) for item in value]
    return value


def _nul_key_field(body: Any) -> str | None:
    if not _has_nul_key(body):
        return None
    scope = body
    if isinstance(body, dict) and len(body) == 1:
        [inner] = body.values()
        scope = inner if isinstance(inner, dict) else body
    if isinstance(scope, dict):
        for key, item in scope.items():
            if "\x00" not in key and _has_nul_key(item):
                return key
    return "base"


def _has_nul_key(value: Any) -> bool:
    if isinstance(value, dict):
        return any("\x00" in key or _has_nul_key(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul_key(item) for item in value)
    return False


def query_params(request: Request) -> QueryParams:
    return request.query_params


Context = Annotated[ApiContext, Depends(api_context)]
AsyncContext = Annotated[ApiContext, Depends(async_api_context)]
JsonBody = Annotated[Any, Depends(json_body)]
RawJsonBody = Annotated[Any, Depends(raw_json_body)]
Query = Annotated[QueryParams, Depends(query_params)]


def error_response(error: MeterbillError) -> JsonResponse:
    return JsonResponse(error.body(), status_code=error.status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MeterbillError)
    async def _domain(_request: Request, exc: MeterbillError) -> JsonResponse:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _routing(_request: Request, exc: StarletteHTTPException) -> JsonResponse:
        if exc.status_code in (404, 405):
            # Lago's catch-all route answers any unknown path or verb, before auth.
            return JsonResponse(
                {"status": 404, "error": "Not Found", "code": "resource_not_found"},
                status_code=404,
            )
        return JsonResponse(
            {"status": exc.status_code, "error": str(exc.detail)}, status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _request_shape(_request: Request, _exc: RequestValidationError) -> JsonResponse:
        return error_response(BadRequest("the request is malformed"))

    app.add_middleware(CatchAllErrors)


class CatchAllErrors:
    """Any unexpected error becomes Lago's 500 envelope, and the connection stays usable.

    (Starlette's own handler for bare exceptions re-raises after answering.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception:
            logger.exception("unhandled error")
            if started:
                raise
            response = JsonResponse({"status": 500, "error": "Internal Server Error"}, 500)
            await response(scope, receive, send)


def query_date(params: QueryParams, key: str) -> date | None:
    """An optional ISO date query parameter; a malformed one is 422 `invalid_date`."""
    raw = params.get(key)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed.single(key, "invalid_date") from None
