"""/api/v1/events."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from meterbill.core.errors import MissingParam, ValidationFailed
from meterbill.core.http import (
    ApiContext,
    AsyncContext,
    Context,
    JsonBody,
    JsonResponse,
    Query,
    RawJsonBody,
    ok,
)
from meterbill.core.pagination import PageRequest
from meterbill.events import service
from meterbill.events.group_commit import GroupCommitter
from meterbill.events.models import Event
from meterbill.events.schemas import EventInput, event_object, iso_seconds, parse_event
from meterbill.operations import ingestion
from meterbill.usage import estimate

router = APIRouter(prefix="/api/v1")


def _stored_object(event: Event) -> dict[str, object]:
    return event_object(
        str(event.lago_id),
        EventInput(
            transaction_id=event.transaction_id,
            external_subscription_id=event.external_subscription_id,
            code=event.code,
            timestamp=event.timestamp,
            properties=event.properties,
            precise_total_amount_cents=event.precise_total_amount_cents,
        ),
        event.created_at,
    )


def _refuse_big_numbers(ctx: ApiContext, events: Sequence[EventInput], batch: bool) -> None:
    with ctx.db.transaction(write=False) as session:
        service.refuse_big_numbers(session, ctx.organization_id, events, batch=batch)


async def _checked(ctx: ApiContext, events: Sequence[EventInput], *, batch: bool) -> None:
    # Rare: only an event holding a number no column holds needs the metrics (and a thread).
    if any(event.big_numbers for event in events):
        await run_in_threadpool(_refuse_big_numbers, ctx, events, batch)


@router.post("/events")
@ingestion.counted
async def create_event(ctx: AsyncContext, body: RawJsonBody, request: Request) -> JsonResponse:
    # Async on purpose: the hot path of ingestion waits for its group commit without a
    # worker thread, and does no blocking work itself.
    if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
        raise MissingParam("event")
    event, errors = parse_event(body["event"], ctx.now)
    if event is None:
        raise ValidationFailed(errors)
    await _checked(ctx, [event], batch=False)
    committer: GroupCommitter = request.app.state.group_committer
    outcome = await committer.submit(ctx.organization_id, [event], ctx.now, atomic=False)
    if outcome.duplicates:
        raise ValidationFailed(service.DUPLICATE)
    [stored] = outcome.stored
    return ok({"event": event_object(stored.lago_id, stored.event, stored.created_at)})


@router.post("/events/batch")
@ingestion.counted
async def create_batch(ctx: AsyncContext, body: RawJsonBody, request: Request) -> JsonResponse:
    if not isinstance(body, dict) or "events" not in body:
        raise MissingParam("events")
    events = service.parse_batch(body["events"], ctx.now)
    await _checked(ctx, events, batch=True)
    committer: GroupCommitter = request.app.state.group_committer
    outcome = await committer.submit(ctx.organization_id, events, ctx.now, atomic=True)
    if outcome.duplicates:
        raise ValidationFailed(
            {str(index): service.DUPLICATE for index in sorted(outcome.duplicates)}
        )
    created = iso_seconds(ctx.now)
    return ok(
        {
            "events": [
                event_object(item.lago_id, item.event, item.created_at, created)
                for item in outcome.stored
            ]
        }
    )


@router.post("/events/estimate_fees")
def estimate_fees(ctx: Context, body: JsonBody) -> JsonResponse:
    if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
        raise MissingParam("event")
    data = estimate.parse_estimate(body["event"])
    return ok({"fees": estimate.estimate_fees(ctx.db, ctx.organization_id, data, ctx.now)})


@router.get("/events/{transaction_id:path}")
def get_event(ctx: Context, transaction_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        event = service.find_event(session, ctx.organization_id, transaction_id)
        return ok({"event": _stored_object(event)})


@router.get("/events")
def list_events(ctx: Context, params: Query) -> JsonResponse:
    filters = service.parse_event_filters(params)
    with ctx.db.transaction(write=False) as session:
        page = service.list_events(
            session, ctx.organization_id, filters, PageRequest.from_query(params)
        )
        return ok({"events": [_stored_object(event) for event in page.items], "meta": page.meta})
