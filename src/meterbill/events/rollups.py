"""Hourly rollups of events, maintained in the transaction that stores the events.

Counting and summing a period then reads at most one row per hour (and property)
plus the events of the period's partial first and last hours, so the cost no
longer grows with the number of events. The numbers a rollup keeps are the ones
the event scan would compute from the same events.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from meterbill.events.models import EventRollup
from meterbill.events.schemas import EventInput

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
COUNT_PROPERTY = ""
HOUR = timedelta(hours=1)

UPSERT_POSTGRES = text(
    "INSERT INTO event_rollups (organization_id, external_subscription_id, code, hour,"
    " property, events_count, total)"
    " SELECT * FROM unnest(CAST(:organization_id AS uuid[]),"
    " CAST(:external_subscription_id AS text[]), CAST(:code AS text[]),"
    " CAST(:hour AS timestamptz[]), CAST(:property AS text[]), CAST(:events_count AS bigint[]),"
    " CAST(:total AS numeric[]))"
    " ON CONFLICT (organization_id, external_subscription_id, code, hour, property)"
    " DO UPDATE SET events_count = event_rollups.events_count + EXCLUDED.events_count,"
    " total = event_rollups.total + EXCLUDED.total"
)
_table = EventRollup.__table__
UPSERT_SQLITE = (
    sqlite.insert(_table)
    .on_conflict_do_update(
        index_elements=[
            "organization_id", "external_subscription_id", "code", "hour", "property",
        ],
        set_={
            "events_count": _table.c.events_count + sqlite.insert(_table).excluded.events_count,
            "total": func.mb_add(_table.c.total, sqlite.insert(_table).excluded.total),
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
                totals[(*base, name)] += number
    # A constant order of keys keeps concurrent writers from deadlocking.
    keys = sorted(counts)
    rows = [
        {
            "organization_id": organization_id,
            "external_subscription_id": subscription,
            "code": code,
            "hour": hour,
            "property": name,
            "events_count": counts[(subscription, code, hour, name)],
            "total": totals.get((subscription, code, hour, name), Decimal(0)),
        }
        for subscription, code, hour, name in keys
    ]
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
    `edge_totals(lo, hi)`, which scans events with lo ≤ timestamp < hi.
    """
    stop = end + timedelta(seconds=1)
    first_full = None if start is None else hour_of(start + HOUR - timedelta(microseconds=1))
    last_full = hour_of(stop)
    count, total = 0, Decimal(0)
    if first_full is not None and first_full > last_full:
        # The whole range lies inside one hour.
        return edge_totals(start, stop)
    conditions = [
        EventRollup.organization_id == organization_id,
        EventRollup.external_subscription_id == external_subscription_id,
        EventRollup.code == code,
        EventRollup.hour < last_full,
        EventRollup.property.in_([COUNT_PROPERTY, field_name or COUNT_PROPERTY]),
    ]
    if first_full is not None:
        conditions.append(EventRollup.hour >= first_full)
    dialect_sum = func.sum if session.get_bind().dialect.name == "postgresql" else func.mb_sum
    for name, events_count, value in session.execute(
        select(
            EventRollup.property, func.sum(EventRollup.events_count), dialect_sum(EventRollup.total)
        )
        .where(*conditions)
        .group_by(EventRollup.property)
    ).all():
        if name == COUNT_PROPERTY:
            count += int(events_count or 0)
        if field_name and name == field_name:
            total += Decimal(str(value or 0))
    if start is not None and first_full is not None and start < first_full:
        edge_count, edge_total = edge_totals(start, first_full)
        count, total = count + edge_count, total + edge_total
    if last_full < stop:
        edge_count, edge_total = edge_totals(last_full, stop)
        count, total = count + edge_count, total + edge_total
    return count, total
