"""Developers › Events: the latest events received, filtered by customer, subscription,
code and date, each with whether it is billed and, when not, why; an event's page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import QueryParams

from meterbill.core.errors import NotFound
from meterbill.customers.service import subscription_external_ids
from meterbill.dashboard.date_filters import day_start, iso_date
from meterbill.dashboard.web import Page, list_url, render, requires
from meterbill.events.billability import (
    INVALID_VALUE,
    NO_CHARGE,
    UNKNOWN_METRIC,
    UNKNOWN_SUBSCRIPTION,
    billability,
)
from meterbill.events.listing import EventLogFilters, find_event_by_id, latest_events

router = APIRouter(include_in_schema=False)

PERMISSION = requires("developers:manage")
REASON_LABELS = {
    UNKNOWN_METRIC: "Unknown metric",
    UNKNOWN_SUBSCRIPTION: "Unknown subscription",
    NO_CHARGE: "No charge",
    INVALID_VALUE: "Invalid value",
}
# Event ids are PostgreSQL bigints: a larger number names nothing (and must not reach it).
ID_MAX = 2**63 - 1


@dataclass(frozen=True)
class EventsState:
    """The page's filters and cursor, as the URL holds them."""

    customer: str = ""
    subscription: str = ""
    code: str = ""
    from_date: str = ""
    to_date: str = ""
    before: int | None = None
    after: int | None = None

    @classmethod
    def read(cls, params: QueryParams) -> EventsState:
        def text(key: str) -> str:
            return params.get(key, "").strip()[:255]

        return cls(
            customer=text("external_customer_id"),
            subscription=text("external_subscription_id"),
            code=text("code"),
            from_date=iso_date(params.get("from", "")),
            to_date=iso_date(params.get("to", "")),
            before=_event_id(params.get("before")),
            after=_event_id(params.get("after")),
        )

    def link(self, **changes: Any) -> str:
        state = {
            "external_customer_id": self.customer, "external_subscription_id": self.subscription,
            "code": self.code, "from": self.from_date, "to": self.to_date, **changes,
        }  # fmt: skip
        return list_url("/developers/events", state)

    @property
    def filtered(self) -> bool:
        return any((self.customer, self.subscription, self.code, self.from_date, self.to_date))


def _event_id(raw: str | None) -> int | None:
    try:
        value = int(raw or "")
    except ValueError:
        return None
    return value if 0 < value <= ID_MAX else None


@router.get("/developers/events", dependencies=[PERMISSION])
def events(request: Request, page: Page) -> HTMLResponse:
    state = EventsState.read(request.query_params)
    timezone = page.user.organization_timezone
    unknown_customer = False
    with page.db.transaction(write=False) as session:
        subscriptions: tuple[str, ...] | None = None
        if state.customer:
            subscriptions = subscription_external_ids(session, page.organization_id, state.customer)
            unknown_customer = subscriptions is None
            subscriptions = subscriptions or ()
        if state.subscription:
            wanted = (state.subscription,)
            subscriptions = (
                wanted
                if subscriptions is None
                else tuple(item for item in subscriptions if item in wanted)
            )
        filters = EventLogFilters(
            external_subscription_ids=subscriptions,
            code=state.code or None,
            timestamp_from=day_start(state.from_date, timezone),
            timestamp_before=day_start(state.to_date, timezone, next_day=True),
        )
        result = latest_events(
            session, page.organization_id, filters, before=state.before, after=state.after
        )
        verdicts = billability(session, page.organization_id, result.events)
        session.expunge_all()
    return render(
        request,
        "developers/events.html",
        {
            "section": "developers",
            "tab": "events",
            "state": state,
            "events": result.events,
            "verdicts": verdicts,
            "reasons": REASON_LABELS,
            "older": result.older,
            "newer": result.newer,
            "paged": state.before is not None or state.after is not None,
            "unknown_customer": unknown_customer,
        },
    )


@router.get("/developers/events/{event_id}", dependencies=[PERMISSION])
def event_page(request: Request, page: Page, event_id: str) -> HTMLResponse:
    key = _event_id(event_id)
    if key is None:
        raise NotFound("event")
    with page.db.transaction(write=False) as session:
        event = find_event_by_id(session, page.organization_id, key)
        verdict = billability(session, page.organization_id, [event])[event.id]
        # A store other than the relational one makes events the session never held.
        session.expunge_all()
    return render(
        request,
        "developers/event.html",
        {
            "section": "developers",
            "tab": "events",
            "event": event,
            "verdict": verdict,
            "reasons": REASON_LABELS,
            "properties": json.dumps(event.properties, indent=2, ensure_ascii=False),
        },
    )
