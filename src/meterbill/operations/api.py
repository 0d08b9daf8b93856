"""GET /metrics (Prometheus), /health/live and /health/ready."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from meterbill.core.auth import bearer_token
from meterbill.core.errors import Unauthorized
from meterbill.core.http import JsonResponse, error_response
from meterbill.operations import telemetry
from meterbill.operations.health import Readiness
from meterbill.operations.telemetry import CONTENT_TYPE

router = APIRouter(tags=["Operations"])
VERSION = "0.1.0"
LIVE = {
    "type": "object",
    "required": ["status", "version"],
    "properties": {"status": {"type": "string", "enum": ["ok"]}, "version": {"type": "string"}},
}
READY = {
    "type": "object",
    "required": ["status", "version", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "version": {"type": "string"},
        # Each check: "ok", or why not.
        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


@router.get(
    "/health/live",
    summary="Liveness",
    description="200 as long as the process answers; no API key needed.",
    responses={200: _json(LIVE)},
)
def live() -> JsonResponse:
    return JsonResponse({"status": "ok", "version": VERSION})


@router.get(
    "/health/ready",
    summary="Readiness",
    description="200 when the database and the event store answer and the schema is at the "
    "code's migrations; 503 with the reason otherwise. No API key needed.",
    responses={200: _json(READY), 503: _json(READY)},
)
def ready(request: Request) -> JsonResponse:
    readiness: Readiness = request.app.state.readiness
    is_ready, checks = readiness.report()
    body: dict[str, Any] = {"status": "ok" if is_ready else "unavailable", "version": VERSION}
    return JsonResponse({**body, "checks": checks}, status_code=200 if is_ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="The text exposition format; with METERBILL_METRICS_TOKEN set, only for "
    "`Authorization: Bearer <token>`.",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    token: str | None = request.app.state.settings.metrics_token
    if token:
        given = bearer_token(request.headers.get("authorization")) or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            # Answered here: the dashboard's error pages would make a raised one HTML.
            return error_response(Unauthorized())
    backlog: Callable[[], dict[str, int]] = request.app.state.backlog
    body = await run_in_threadpool(telemetry.exposition, [telemetry.Backlog(backlog)])
    return Response(body, media_type=telemetry.CONTENT_TYPE)
