"""/api/v1/webhook_endpoints, /api/v1/webhooks (public key, delivery log, retry)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok, query_date
from meterbill.core.pagination import PageRequest
from meterbill.core.records import uuid_or_none
from meterbill.core.validation import root_object
from meterbill.webhooks import service
from meterbill.webhooks.keys import organization_keys, public_key_base64
from meterbill.webhooks.models import STATUSES, Webhook
from meterbill.webhooks.schemas import endpoint_object, parse_endpoint, webhook_object

router = APIRouter(prefix="/api/v1")


@router.post("/webhook_endpoints")
def create_endpoint(ctx: Context, body: JsonBody) -> JsonResponse:
    values = parse_endpoint(root_object(body, "webhook_endpoint"), creating=True)
    with ctx.db.transaction() as session:
        endpoint = service.create_endpoint(session, ctx.organization_id, values, ctx.now)
        return ok({"webhook_endpoint": endpoint_object(endpoint)})


@router.get("/webhook_endpoints")
def list_endpoints(ctx: Context, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        page = service.list_endpoints(session, ctx.organization_id, PageRequest.from_query(params))
        return ok(
            {"webhook_endpoints": [endpoint_object(e) for e in page.items], "meta": page.meta}
        )


@router.get("/webhook_endpoints/{lago_id}")
def get_endpoint(ctx: Context, lago_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        endpoint = service.find_endpoint(session, ctx.organization_id, lago_id)
        return ok({"webhook_endpoint": endpoint_object(endpoint)})


@router.put("/webhook_endpoints/{lago_id}")
def update_endpoint(ctx: Context, lago_id: str, body: JsonBody) -> JsonResponse:
    values = parse_endpoint(root_object(body, "webhook_endpoint"), creating=False)
    with ctx.db.transaction() as session:
        endpoint = service.update_endpoint(session, ctx.organization_id, lago_id, values, ctx.now)
        return ok({"webhook_endpoint": endpoint_object(endpoint)})


@router.delete("/webhook_endpoints/{lago_id}")
def delete_endpoint(ctx: Context, lago_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        endpoint = service.delete_endpoint(session, ctx.organization_id, lago_id)
        return ok({"webhook_endpoint": endpoint_object(endpoint)})


def _public_key(ctx: Context) -> str:
    # A write transaction: the keys are made on first use.
    with ctx.db.transaction() as session:
        return public_key_base64(organization_keys(session, ctx.organization_id, ctx.now))


@router.get("/webhooks/json_public_key")
def json_public_key(ctx: Context) -> JsonResponse:
    return ok({"webhook": {"public_key": _public_key(ctx)}})


@router.get("/webhooks/public_key")
def public_key(ctx: Context) -> PlainTextResponse:
    """Deprecated by Lago, still served: the same base64 text, as text/plain."""
    return PlainTextResponse(_public_key(ctx))


def _render(session: Session, webhooks: list[Webhook]) -> list[dict[str, Any]]:
    urls = service.endpoint_url_by_id(session, {w.webhook_endpoint_id for w in webhooks})
    return [webhook_object(w, urls[w.webhook_endpoint_id]) for w in webhooks]


def _instant(params: Query, key: str, *, end: bool) -> datetime | None:
    day = query_date(params, key)
    if day is None:
        return None
    if end and day == date.max:
        return None  # up to the end of time
    moment = datetime.combine(day, time(), tzinfo=UTC)
    # to_date is a whole day: up to the next midnight.
    return moment + timedelta(days=1) if end else moment


def filters_from(params: Query) -> service.WebhookFilters:
    endpoint_id = None
    if params.get("webhook_endpoint_id"):
        endpoint_id = uuid_or_none(params["webhook_endpoint_id"])
        if endpoint_id is None:
            raise ValidationFailed.single("webhook_endpoint_id", "value_is_invalid")
    statuses = tuple(params.getlist("statuses[]")) + (
        (params["status"],) if params.get("status") else ()
    )
    if any(status not in STATUSES for status in statuses):
        raise ValidationFailed.single("status", "value_is_invalid")
    types = tuple(params.getlist("webhook_types[]")) + (
        (params["webhook_type"],) if params.get("webhook_type") else ()
    )
    return service.WebhookFilters(
        webhook_endpoint_id=endpoint_id,
        statuses=statuses,
        webhook_types=types,
        object_id=params.get("object_id") or None,
        from_date=_instant(params, "from_date", end=False),
        to_date=_instant(params, "to_date", end=True),
    )


@router.get("/webhooks")
def list_webhooks(ctx: Context, params: Query) -> JsonResponse:
    filters = filters_from(params)

    def show(session: Session) -> tuple[list[Webhook], JsonResponse]:
        page = service.list_webhooks(
            session, ctx.organization_id, filters, PageRequest.from_query(params)
        )
        items = list(page.items)
        return items, ok({"webhooks": _render(session, items), "meta": page.meta})

    return service.read_rendered(ctx.db, show)


@router.get("/webhooks/{lago_id}")
def get_webhook(ctx: Context, lago_id: str) -> JsonResponse:
    def show(session: Session) -> tuple[list[Webhook], JsonResponse]:
        webhook = service.find_webhook(session, ctx.organization_id, lago_id)
        return [webhook], ok({"webhook": _render(session, [webhook])[0]})

    return service.read_rendered(ctx.db, show)


@router.post("/webhooks/{lago_id}/retry")
def retry_webhook(ctx: Context, lago_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        webhook = service.retry_webhook(session, ctx.organization_id, lago_id, ctx.now)
        return ok({"webhook": _render(session, [webhook])[0]})
