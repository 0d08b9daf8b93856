"""Hourly rollups of events, maintained in the transaction that stores the events.

Counting and summing a period then reads at most one row per hour (and property)
plus the events of the period's partial first and last hours, so the cost no
longer grows with the number of events. The numbers a rollup keeps are the ones
the event scan would compute from the same events.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, or_, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from meterbill.core.sqlite_functions import EXACT
from meterbill.core.validation import LARGEST_DECIMAL
from meterbill.events.models import EventRollup
from meterbill.events.schemas import NUMBER, EventInput

COUNT_PROPERTY = ""
HOUR = timedelta(hours=1)
BEGINNING = datetime(1, 1, 1, tzinfo=UTC)

# Every numeric property is rolled up, whatever its size: most are quantities, but some
# are identifiers (an ICCID, a snowflake id) that no metric sums. A total is kept only
# while NUMERIC(38, 15) holds it (rounded to 15 decimals: one unit short of 10^23). An
# hour whose total would not fit keeps events_count UNREADABLE and total 0 instead, and
# range_totals scans the events of a range that meets one. So ingestion never fails on a
# large number, and a sum read later stays the exact sum of the events.
TOTAL_LIMIT = LARGEST_DECIMAL - 1
UNREADABLE = -1
_LIMIT = format(TOTAL_LIMIT, "f")
_OVERFLOW_POSTGRES = (
    "event_rollups.events_count < 0 OR EXCLUDED.events_count < 0"
    f" OR abs(event_rollups.total + EXCLUDED.total) >= {_LIMIT}"
)
# The ON CONFLICT clause both PostgreSQL upserts share (here, and events.service's insert).
CONFLICT_POSTGRES = (
    " ON CONFLICT (organization_id, external_subscription_id, code, hour, property)"
    f" DO UPDATE SET events_count = CASE WHEN {_OVERFLOW_POSTGRES} THEN {UNREADABLE}"
    " ELSE event_rollups.events_count + EXCLUDED.events_count END,"
    f" total = CASE WHEN {_OVERFLOW_POSTGRES} THEN 0"
    " ELSE event_rollups.total + EXCLUDED.total END"
)
# Fresh increments (columns events_count and total of a row source) as rollup values.
FITTING_POSTGRES = (
    f"CASE WHEN abs(total) < {_LIMIT} THEN events_count ELSE {UNREADABLE} END,"
    f" CASE WHEN abs(total) < {_LIMIT} THEN total ELSE 0 END"
)

UPSERT_POSTGRES = text(
    "INSERT INTO event_rollups (organization_id, external_subscription_id, code, hour,"
    " property, events_count, total)"
    " SELECT * FROM unnest(CAST(:organization_id AS uuid[]),"
    " CAST(:external_subscription_id AS text[]), CAST(:code AS text[]),"
    " CAST(:hour AS timestamptz[]), CAST(:property AS text[]), CAST(:events_count AS bigint[]),"
    " CAST(:total AS numeric[]))" + CONFLICT_POSTGRES
)
_table = EventRollup.__table__
_excluded = sqlite.insert(_table).excluded
_sum_sqlite = func.mb_add(_table.c.total, _excluded.total)
_overflow_sqlite = or_(
    _table.c.events_count < 0,
    _excluded.events_count < 0,
    func.mb_cmp(func.mb_abs(_sum_sqlite), _LIMIT) >= 0,
)
UPSERT_SQLITE = (
    sqlite.insert(_table)
    .on_conflict_do_update(
        index_elements=[
            "organization_id", "external_subscription_id", "code", "hour", "property",
        ],
        set_={
            "events_count": case(
                (_overflow_sqlite, UNREADABLE),
                else_=_table.c.events_count + _excluded.events_count,
            ),
            "total": case((_overflow_sqlite, "0"), else_=_sum_sqlite),
        },
    )
)  # fmt: skip


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def numeric_value(value: Any, postgres: bool) -> Decimal | None:
    """The number the event scan reads from a property value, or None.

    PostgreSQL casts JSON numbers directly; SQLite reads them through their text
    form (15 significant digits), and both accept numeric strings.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        text_form = repr(value) if postgres else format(value, ".15g")
        if postgres:
            return Decimal(text_form)
        return Decimal(text_form) if NUMBER.match(text_form) else None
    if isinstance(value, str) and NUMBER.match(value):
        return Decimal(value)
    return None


def record(session: Session, organization_id: uuid.UUID, events: Sequence[EventInput]) -> None:
    """Add freshly stored events to their hourly rollups."""
    if not events:
        return
    postgres = session.get_bind().dialect.name == "postgresql"
    counts: dict[tuple[str, str, datetime, str], int] = defaultdict(int)
    totals: dict[tuple[str, str, datetime, str], Decimal] = defaultdict(Decimal)
    for event in events:
        hour = hour_of(event.timestamp)
        base = (event.external_subscription_id, event.code, hour)
        counts[(*base, COUNT_PROPERTY)] += 1
        for name, value in event.properties.items():
            number = numeric_value(value, postgres)
            if number is not None and name != COUNT_PROPERTY:
                counts[(*base, name)] += 1
                totals[(*base, name)] = EXACT.add(totals[(*base, name)], number)
    # A constant order of keys keeps concurrent writers from deadlocking.
    keys = sorted(counts)
    rows = []
    for key in keys:
        subscription, code, hour, name = key
        total = totals.get(key, Decimal(0))
        fits = total.copy_abs() < TOTAL_LIMIT
        rows.append(
            {
                "organization_id": organization_id,
                "external_subscription_id": subscription,
                "code": code,
                "hour": hour,
                "property": name,
                "events_count": counts[key] if fits else UNREADABLE,
                "total": total if fits else Decimal(0),
            }
        )
    if postgres:
        columns = {key: [row[key] for row in rows] for key in rows[0]}
        session.execute(UPSERT_POSTGRES, columns)
    else:
        session.execute(UPSERT_SQLITE, rows)


def range_totals(
    session: Session,
    organization_id: uuid.UUID,
    external_subscription_id: str,
    code: str,
    field_name: str | None,
    start: datetime | None,
    end: datetime,
    edge_totals: Any,
) -> tuple[int, Decimal]:
    """(events, Σ field) for events from `start` (None: the beginning) to the end of the
    second `end`.

    Whole hours come from the rollups; the partial hours at both ends from
    `edge_totals(lo, hi)`, which scans events with lo ≤ timestamp < hi. One
    subscription's `range_totals_many`.
    """

    def edge_totals_many(
        low: datetime, high: datetime, subscriptions: Sequence[str]
    ) -> dict[str, tuple[int, Decimal]]:
        return {subscription: edge_totals(low, high) for subscription in subscriptions}

    found = range_totals_many(
        session,
        organization_id,
        [external_subscription_id],
        code,
        field_name,
        start,
        end,
        edge_totals_many,
    )
    return found[external_subscription_id]


# What `range_totals_many` is given to scan the edges: (lo, hi, subscriptions) →
# (events, Σ field) per subscription that has events there.
EdgesMany = Any


def range_totals_many(
    session: Session,
    organization_id: uuid.UUID,
    subscriptions: Sequence[str],
    code: str,
    field_name: str | None,
    start: datetime | None,
    end: datetime,
    edge_totals_many: EdgesMany,
) -> dict[str, tuple[int, Decimal]]:
    """(events, Σ field) of several subscriptions over the same range, in one rollup
    query and one scan per partial hour; every subscription answered."""
    stop = end + timedelta(seconds=1)
    first_full = None if start is None else hour_of(start + HOUR - timedelta(microseconds=1))
    last_full = hour_of(stop)
    zero = (0, Decimal(0))
    if first_full is not None and first_full > last_full:
        inside = edge_totals_many(start, stop, subscriptions)
        return {subscription: inside.get(subscription, zero) for subscription in subscriptions}
    conditions = [
        EventRollup.organization_id == organization_id,
        EventRollup.external_subscription_id.in_(list(subscriptions)),
        EventRollup.code == code,
        EventRollup.hour < last_full,
        EventRollup.property.in_([COUNT_PROPERTY, field_name or COUNT_PROPERTY]),
    ]
    if first_full is not None:
        conditions.append(EventRollup.hour >= first_full)
    dialect_sum = func.sum if session.get_bind().dialect.name == "postgresql" else func.mb_sum
    found: dict[str, tuple[int, Decimal]] = dict.fromkeys(subscriptions, zero)
    unreadable: list[str] = []
    for subscription, name, events_count, value, lowest in session.execute(
        select(
            EventRollup.external_subscription_id,
            EventRollup.property,
            func.sum(EventRollup.events_count),
            dialect_sum(EventRollup.total),
            func.min(EventRollup.events_count),
        )
        .where(*conditions)
        .group_by(EventRollup.external_subscription_id, EventRollup.property)
        # The count row before the field's: sums added in one order, whatever the plan.
        .order_by(EventRollup.external_subscription_id, EventRollup.property)
    ).all():
        if field_name and name == field_name and lowest is not None and lowest < 0:
            unreadable.append(subscription)
            continue
        count, total = found[subscription]
        if name == COUNT_PROPERTY:
            count += int(events_count or 0)
        if field_name and name == field_name:
            total = EXACT.add(total, Decimal(str(value or 0)))
        found[subscription] = (count, total)
    readable = [subscription for subscription in subscriptions if subscription not in unreadable]
    edges = []
    if start is not None and first_full is not None and start < first_full:
        edges.append((start, first_full))
    if last_full < stop:
        edges.append((last_full, stop))
    for low, high in edges:
        for subscription, (edge_count, edge_total) in edge_totals_many(low, high, readable).items():
            count, total = found[subscription]
            found[subscription] = (count + edge_count, EXACT.add(total, edge_total))
    if unreadable:
        # An hour whose total no column holds (see TOTAL_LIMIT): scan the whole range.
        scanned = edge_totals_many(start or BEGINNING, stop, unreadable)
        for subscription in unreadable:
            found[subscription] = scanned.get(subscription, zero)
    return found
