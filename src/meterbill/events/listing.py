"""The latest events received, a page at a time, for the dashboard's events page.

Newest received first (`created_at`, then `id`), paged by a cursor (the id of the last
event shown) rather than an offset: a page costs the same at the head of ten million
events as anywhere else, and no count is taken. A subscription's page reads the index
ix_events_subscription_received from its right edge; a customer's merges the heads of
its subscriptions' (one short index range each); the organization's reads
ix_events_org_created_at.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, select, tuple_, union_all
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound
from meterbill.events.models import Event

PAGE_SIZE = 50
# Beyond this many subscriptions, one range per subscription costs more than a scan.
MERGED_SUBSCRIPTIONS_MAX = 100


@dataclass(frozen=True)
class EventLogFilters:
    # None: every subscription; a tuple (possibly empty: nothing matches) restricts them.
    external_subscription_ids: tuple[str, ...] | None = None
    code: str | None = None
    timestamp_from: datetime | None = None
    # Exclusive: the events before this instant.
    timestamp_before: datetime | None = None


@dataclass(frozen=True)
class EventLogPage:
    events: list[Event]
    # Cursors for the neighbouring pages: pass as `before` (older) or `after` (newer).
    older: int | None
    newer: int | None


def latest_events(
    session: Session,
    organization_id: uuid.UUID,
    filters: EventLogFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> EventLogPage:
    """The page of events received just before the event `before` (or just after
    `after`; or the newest), newest first."""
    cursor_id = after if after is not None else before
    cursor = _cursor(session, organization_id, cursor_id) if cursor_id is not None else None
    newer_side = after is not None and cursor is not None
    conditions = _conditions(organization_id, filters)
    if cursor is not None:
        key = tuple_(Event.created_at, Event.id)
        conditions.append(key > tuple_(*cursor) if newer_side else key < tuple_(*cursor))
    ids = _page_ids(session, filters, conditions, limit + 1, ascending=newer_side)
    more = len(ids) > limit
    ids = ids[:limit]
    if newer_side:
        ids.reverse()
    by_id = {event.id: event for event in session.scalars(select(Event).where(Event.id.in_(ids)))}
    events = [by_id[event_id] for event_id in ids]
    if not events:
        return EventLogPage([], None, None)
    # Walking newer, the older page exists (we came from it); walking older, the newer
    # one exists when we started from a cursor.
    older = events[-1].id if (more or newer_side) else None
    newer = events[0].id if cursor is not None and (more or not newer_side) else None
    return EventLogPage(events, older, newer)


def find_event_by_id(session: Session, organization_id: uuid.UUID, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.organization_id != organization_id:
        raise NotFound("event")
    return event


def _cursor(
    session: Session, organization_id: uuid.UUID, event_id: int
) -> tuple[datetime, int] | None:
    row = session.execute(
        select(Event.created_at, Event.id).where(
            Event.id == event_id, Event.organization_id == organization_id
        )
    ).first()
    return (row.created_at, row.id) if row else None


def _conditions(organization_id: uuid.UUID, filters: EventLogFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Event.organization_id == organization_id]
    # PostgreSQL cannot compare text with a NUL: such a filter matches nothing.
    texts = (filters.code or "", *(filters.external_subscription_ids or ()))
    if any("\x00" in value for value in texts):
        conditions.append(false())
    if filters.code:
        conditions.append(Event.code == filters.code)
    if filters.timestamp_from is not None:
        conditions.append(Event.timestamp >= filters.timestamp_from)
    if filters.timestamp_before is not None:
        conditions.append(Event.timestamp < filters.timestamp_before)
    return conditions


def _ordered(query: Select[Any], ascending: bool) -> Select[Any]:
    if ascending:
        return query.order_by(Event.created_at, Event.id)
    return query.order_by(Event.created_at.desc(), Event.id.desc())


def _page_ids(
    session: Session,
    filters: EventLogFilters,
    conditions: list[ColumnElement[bool]],
    limit: int,
    *,
    ascending: bool,
) -> list[int]:
    subscriptions = filters.external_subscription_ids
    if subscriptions is not None and not subscriptions:
        return []
    if subscriptions is None or len(subscriptions) > MERGED_SUBSCRIPTIONS_MAX:
        if subscriptions is not None:
            conditions = [*conditions, Event.external_subscription_id.in_(subscriptions)]
        query = _ordered(select(Event.id).where(*conditions), ascending).limit(limit)
        return list(session.scalars(query))
    return _merged_ids(session, subscriptions, conditions, limit, ascending=ascending)


def _merged_ids(
    session: Session,
    subscriptions: Sequence[str],
    conditions: list[ColumnElement[bool]],
    limit: int,
    *,
    ascending: bool,
) -> list[int]:
    """The first `limit` of the union of each subscription's first `limit`: each part is
    one index range (an IN list would make the database sort every matching row)."""
    parts = []
    for external_id in dict.fromkeys(subscriptions):
        head = _ordered(
            select(Event.id, Event.created_at).where(
                *conditions, Event.external_subscription_id == external_id
            ),
            ascending,
        ).limit(limit)
        inner = head.subquery()
        parts.append(select(inner.c.id, inner.c.created_at))
    merged = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
    order = (
        (merged.c.created_at, merged.c.id)
        if ascending
        else (merged.c.created_at.desc(), merged.c.id.desc())
    )
    return list(session.scalars(select(merged.c.id).order_by(*order).limit(limit)))
