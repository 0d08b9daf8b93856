"""The relational reads of events by the time they were received: the dashboard's events
page (events.listing) and the hourly events.errors report (events.validation).

The page is paged by a cursor, (created_at, id) of the last event shown, rather than an
offset: a page costs the same at the head of ten million events as anywhere else, and
no count is taken. A subscription's page reads the index ix_events_subscription_received
from its right edge; a customer's merges the heads of its subscriptions' (one short
index range each); the organization's reads ix_events_org_created_at, as does the
report's hour.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, tuple_, union_all
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound
from meterbill.events.listing import EventLogFilters
from meterbill.events.models import Event
from meterbill.events.validation import CodeIn, PropertyMissing, PropertyNotIn, ReceivedCheck
from meterbill.usage.sql import Dialect

# Beyond this many subscriptions, one range per subscription costs more than a scan.
MERGED_SUBSCRIPTIONS_MAX = 100


def event_by_id(session: Session, organization_id: uuid.UUID, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None or event.organization_id != organization_id:
        raise NotFound("event")
    return event


def cursor_of(
    session: Session, organization_id: uuid.UUID, event_id: int
) -> tuple[datetime, int] | None:
    row = session.execute(
        select(Event.created_at, Event.id).where(
            Event.id == event_id, Event.organization_id == organization_id
        )
    ).first()
    return (row.created_at, row.id) if row else None


def page(
    session: Session,
    organization_id: uuid.UUID,
    filters: EventLogFilters,
    cursor: tuple[datetime, int] | None,
    *,
    ascending: bool,
    limit: int,
) -> tuple[list[Event], bool]:
    conditions = _conditions(organization_id, filters)
    if cursor is not None:
        key = tuple_(Event.created_at, Event.id)
        conditions.append(key > tuple_(*cursor) if ascending else key < tuple_(*cursor))
    # One id more than shown tells whether another page follows; only those shown load.
    ids = _page_ids(session, filters, conditions, limit + 1, ascending=ascending)
    more = len(ids) > limit
    ids = ids[:limit]
    by_id = {event.id: event for event in session.scalars(select(Event).where(Event.id.in_(ids)))}
    return [by_id[event_id] for event_id in ids], more


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


# The events.errors report: an organization's events received in [since, until).


def _received(organization_id: uuid.UUID, since: datetime, until: datetime) -> ColumnElement[bool]:
    return (
        (Event.organization_id == organization_id)
        & (Event.created_at >= since)
        & (Event.created_at < until)
    )


def received_any(
    session: Session, organization_id: uuid.UUID, since: datetime, until: datetime
) -> bool:
    received = _received(organization_id, since, until)
    return session.scalar(select(Event.id).where(received).limit(1)) is not None


def received_codes(
    session: Session, organization_id: uuid.UUID, since: datetime, until: datetime
) -> set[str]:
    received = _received(organization_id, since, until)
    return set(session.scalars(select(Event.code).where(received).distinct()))


def _check(sql: Dialect, check: ReceivedCheck) -> ColumnElement[bool]:
    if isinstance(check, CodeIn):
        return Event.code.in_(check.codes)
    value = sql.prop(check.key)
    if isinstance(check, PropertyMissing):
        wrong = value.is_(None)
        if check.numeric:
            wrong = wrong | ~sql.is_number(value)
        return (Event.code == check.code) & wrong
    assert isinstance(check, PropertyNotIn)
    return (Event.code == check.code) & value.is_not(None) & value.not_in(check.values)


def received_transaction_ids(
    session: Session,
    organization_id: uuid.UUID,
    since: datetime,
    until: datetime,
    checks: Sequence[ReceivedCheck],
) -> list[str]:
    """Each transaction id once, in the order first received."""
    if not checks:
        return []
    sql = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    query = (
        select(Event.transaction_id)
        .where(
            _received(organization_id, since, until), or_(*(_check(sql, item) for item in checks))
        )
        .group_by(Event.transaction_id)
        .order_by(func.min(Event.id))
    )
    return list(session.scalars(query))
