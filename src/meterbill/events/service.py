"""Event ingestion (idempotent, all-or-nothing batches) and event lookups."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Insert, false, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.dates import parse_instant
from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.validation import INVALID, OUT_OF_RANGE
from meterbill.event_store import store_for
from meterbill.events import rollups
from meterbill.events.errors import report_unbillable
from meterbill.events.models import Event
from meterbill.events.schemas import BATCH_MAX, EventInput, parse_event
from meterbill.metrics import service as metrics_service

DUPLICATE = {"transaction_id": ["value_already_exist"]}


@dataclass(frozen=True)
class StoredEvent:
    lago_id: str
    event: EventInput
    created_at: datetime


def _build_insert(dialect: Any) -> Insert:
    # One constant statement executed with many parameter sets: SQLAlchemy compiles it
    # once and sends the rows in batches ("insertmanyvalues").
    table = Event.__table__
    return (
        dialect.insert(table)
        .on_conflict_do_nothing(
            index_elements=["organization_id", "external_subscription_id", "transaction_id"]
        )
        .returning(
            table.c.organization_id, table.c.external_subscription_id, table.c.transaction_id
        )
    )


INSERT_SQLITE = _build_insert(sqlite)

# PostgreSQL takes the whole group as one JSON document (one short parameter that orjson
# writes in C, where arrays of text would be escaped element by element in Python), in
# one round trip, and rolls the rows it actually inserted into the hourly rollups in the
# same statement, reading numbers exactly as the usage scan does.
INSERT_POSTGRES = text(
    "WITH inserted AS ("
    " INSERT INTO events (lago_id, organization_id, transaction_id, external_subscription_id,"
    " code, timestamp, properties, precise_total_amount_cents, created_at)"
    " SELECT lago_id, organization_id, transaction_id, external_subscription_id, code,"
    " timestamp, properties, precise_total_amount_cents, created_at"
    " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(lago_id uuid, organization_id uuid,"
    " transaction_id text, external_subscription_id text, code text, timestamp timestamptz,"
    " properties jsonb, precise_total_amount_cents numeric, created_at timestamptz)"
    " ON CONFLICT (organization_id, external_subscription_id, transaction_id) DO NOTHING"
    " RETURNING organization_id, external_subscription_id, transaction_id, code, timestamp,"
    " properties),"
    " increments AS ("
    " SELECT organization_id, external_subscription_id, code,"
    " date_trunc('hour', timestamp, 'UTC') AS hour, '' AS property,"
    " count(*) AS events_count, 0::numeric AS total FROM inserted GROUP BY 1, 2, 3, 4"
    " UNION ALL"
    " SELECT i.organization_id, i.external_subscription_id, i.code,"
    " date_trunc('hour', i.timestamp, 'UTC'), p.key, count(*), sum((p.value #>> '{}')::numeric)"
    " FROM inserted i, jsonb_each(i.properties) p"
    " WHERE p.key <> '' AND (jsonb_typeof(p.value) = 'number' OR"
    " (jsonb_typeof(p.value) = 'string' AND (p.value #>> '{}') ~ '^-?\\d+(\\.\\d+)?$'))"
    " GROUP BY 1, 2, 3, 4, 5),"
    " rolled AS ("
    " INSERT INTO event_rollups (organization_id, external_subscription_id, code, hour,"
    " property, events_count, total)"
    " SELECT organization_id, external_subscription_id, code, hour, property, "
    + rollups.FITTING_POSTGRES
    + " FROM increments ORDER BY 1, 2, 3, 4, 5"
    + rollups.CONFLICT_POSTGRES
    + ") SELECT organization_id, external_subscription_id, transaction_id FROM inserted"
)
# The database refused the row itself (not an outage): SQLSTATE classes 22 (data
# exception: a number out of range, an untranslatable character), 23 (integrity
# constraint) and 54 (program limit exceeded: an index row too large).
REFUSED_SQLSTATE_CLASSES = ("22", "23", "54")

EventKey = tuple[uuid.UUID, str, str]  # organization, subscription, transaction


@dataclass(frozen=True)
class NewEvent:
    """An event to store for an organization, as received at `received_at`."""

    organization_id: uuid.UUID
    event: EventInput
    received_at: datetime


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _insert_postgres(session: Session, items: Sequence[NewEvent], ids: list[str]) -> Any:
    rows = [
        {
            "lago_id": lago_id,
            "organization_id": item.organization_id,
            "transaction_id": item.event.transaction_id,
            "external_subscription_id": item.event.external_subscription_id,
            "code": item.event.code,
            "timestamp": item.event.timestamp,
            # parse_event already wrote the properties as JSON to measure them.
            "properties": orjson.Fragment(
                item.event.properties_json or orjson.dumps(item.event.properties)
            ),
            "precise_total_amount_cents": _decimal_text(item.event.precise_total_amount_cents),
            "created_at": item.received_at,
        }
        for lago_id, item in zip(ids, items, strict=True)
    ]
    document = orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC).decode()
    return session.execute(INSERT_POSTGRES, {"rows": document})


def _insert_sqlite(session: Session, items: Sequence[NewEvent], ids: list[str]) -> Any:
    rows = [
        {
            "lago_id": uuid.UUID(lago_id),
            "organization_id": item.organization_id,
            "transaction_id": item.event.transaction_id,
            "external_subscription_id": item.event.external_subscription_id,
            "code": item.event.code,
            "timestamp": item.event.timestamp,
            "properties": item.event.properties,
            "precise_total_amount_cents": item.event.precise_total_amount_cents,
            "created_at": item.received_at,
        }
        for lago_id, item in zip(ids, items, strict=True)
    ]
    return session.execute(INSERT_SQLITE, rows)


# Byte maps setting a version 4 UUID's version and variant bits, applied to every id's
# byte at once (bytes.translate over a stride) rather than by a Python loop per id.
_UUID_VERSION = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_UUID_VARIANT = bytes((byte & 0x3F) | 0x80 for byte in range(256))


def random_uuids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as text, from one read of the system's randomness:
    uuid.uuid4() reads it once per id, a system call per event."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_UUID_VERSION)
    raw[8::16] = raw[8::16].translate(_UUID_VARIANT)  # RFC 4122 variant
    text = raw.hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def sql_insert_many(
    session: Session, items: Sequence[NewEvent]
) -> tuple[list[StoredEvent], set[int]]:
    """Insert what is new, for any organizations, in one statement; return the stored
    events and the positions that were duplicates.

    The database decides (ON CONFLICT DO NOTHING on the idempotency key), so
    concurrent duplicates can never both be stored.
    """
    if not items:
        return [], set()
    ids = random_uuids(len(items))
    postgres = session.get_bind().dialect.name == "postgresql"
    result = (_insert_postgres if postgres else _insert_sqlite)(session, items, ids)
    inserted: set[EventKey] = {(row[0], row[1], row[2]) for row in result}
    duplicates = {
        index
        for index, item in enumerate(items)
        if (item.organization_id, item.event.external_subscription_id, item.event.transaction_id)
        not in inserted
    }
    if not postgres:
        # PostgreSQL updated the rollups inside the insert statement.
        fresh: dict[uuid.UUID, list[EventInput]] = {}
        for index, item in enumerate(items):
            if index not in duplicates:
                fresh.setdefault(item.organization_id, []).append(item.event)
        for organization_id, events in fresh.items():
            rollups.record(session, organization_id, events)
    stored = [
        StoredEvent(lago_id, item.event, item.received_at)
        for lago_id, item in zip(ids, items, strict=True)
    ]
    by_organization: dict[uuid.UUID, list[tuple[str, EventInput, datetime]]] = {}
    for index, (lago_id, item) in enumerate(zip(ids, items, strict=True)):
        if index not in duplicates:
            by_organization.setdefault(item.organization_id, []).append(
                (lago_id, item.event, item.received_at)
            )
    for organization_id, fresh_events in by_organization.items():
        report_unbillable(session, organization_id, fresh_events)
    return stored, duplicates


def insert_many(session: Session, items: Sequence[NewEvent]) -> tuple[list[StoredEvent], set[int]]:
    """Store what is new, for any organizations; return the stored events and the
    positions that were duplicates (the session's event store decides)."""
    return store_for(session).insert_many(session, items)


def insert_events(
    session: Session, organization_id: uuid.UUID, events: Sequence[EventInput], now: datetime
) -> tuple[list[StoredEvent], set[int]]:
    """`insert_many` for one organization's events received at `now`."""
    return insert_many(session, [NewEvent(organization_id, event, now) for event in events])


def parse_batch(data: Any, now: datetime) -> list[EventInput]:
    """A batch's events, or 422 with every invalid or repeated one keyed by position."""
    if not isinstance(data, list) or not data:
        raise ValidationFailed.single("events", "no_events")
    if len(data) > BATCH_MAX:
        raise ValidationFailed.single("events", "too_many_events")
    errors: dict[str, Any] = {}
    events: list[EventInput] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(data):
        event, event_errors = parse_event(raw, now)
        if event is None:
            errors[str(index)] = event_errors
            continue
        key = (event.external_subscription_id, event.transaction_id)
        if key in seen:
            errors[str(index)] = DUPLICATE
        seen.add(key)
        events.append(event)
    if errors:
        raise ValidationFailed(errors)
    return events


def refuse_big_numbers(
    session: Session, organization_id: uuid.UUID, events: Sequence[EventInput], *, batch: bool
) -> None:
    """Refuse events holding a number no column holds in a property that a sum, max,
    weighted sum or latest metric of their code reads (Lago's 422, for a batch keyed by
    position).

    Only there: such a number in any other property (an ICCID or a snowflake id sent as
    a number) is an identifier, stored like Lago stores it; refusing it everywhere would
    refuse events Lago accepts. The rollups keep no total they cannot hold and fall back
    to scanning the events (rollups.TOTAL_LIMIT), so a metric created later over such a
    property still sums exactly what the events hold.
    """
    codes = {event.code for event in events if event.big_numbers}
    if not codes:
        return
    fields = metrics_service.numeric_fields(session, organization_id, codes)
    refused = [
        index for index, event in enumerate(events) if fields.get(event.code) in event.big_numbers
    ]
    if not refused:
        return
    details = {"properties": [OUT_OF_RANGE]}
    if not batch:
        raise ValidationFailed(details)
    raise ValidationFailed({str(index): details for index in refused})


def database_refusal(error: BaseException, *, batch: bool) -> ValidationFailed | None:
    """Lago's 422 for a request whose own rows the database refused, None for a failure
    of the database itself (an outage is a 500, never the client's fault)."""
    if isinstance(error, DataError | IntegrityError):
        refused = True
    elif isinstance(error, DBAPIError):
        state = getattr(error.orig, "sqlstate", None) or ""
        refused = state[:2] in REFUSED_SQLSTATE_CLASSES
    else:
        refused = False
    if not refused:
        return None
    return ValidationFailed.single("events" if batch else "event", INVALID)


def create_batch(
    session: Session, organization_id: uuid.UUID, data: Any, now: datetime
) -> list[StoredEvent]:
    """All or nothing: any invalid or duplicate event refuses the whole batch."""
    events = parse_batch(data, now)
    refuse_big_numbers(session, organization_id, events, batch=True)
    with session.begin_nested() as savepoint:
        stored, duplicates = insert_events(session, organization_id, events, now)
        if duplicates:
            savepoint.rollback()
            raise ValidationFailed({str(index): DUPLICATE for index in sorted(duplicates)})
    return stored


def _holds_nul(*values: str | None) -> bool:
    # No stored identifier holds a NUL (parse_event refuses them), and PostgreSQL would
    # refuse the query's parameter: such a lookup finds nothing.
    return any(value is not None and "\x00" in value for value in values)


def sql_find_event(session: Session, organization_id: uuid.UUID, transaction_id: str) -> Event:
    if _holds_nul(transaction_id):
        raise NotFound("event")
    event = session.scalar(
        select(Event)
        .where(Event.organization_id == organization_id, Event.transaction_id == transaction_id)
        .order_by(Event.id)
        .limit(1)
    )
    if event is None:
        raise NotFound("event")
    return event


def find_event(session: Session, organization_id: uuid.UUID, transaction_id: str) -> Event:
    return store_for(session).find_event(session, organization_id, transaction_id)


@dataclass(frozen=True)
class EventFilters:
    external_subscription_id: str | None = None
    code: str | None = None
    timestamp_from: datetime | None = None
    timestamp_to: datetime | None = None


def parse_event_filters(params: Any) -> EventFilters:
    errors: dict[str, list[str]] = {}
    bounds: dict[str, datetime | None] = {}
    for key in ("timestamp_from", "timestamp_to"):
        raw = params.get(key)
        bounds[key] = parse_instant(raw) if raw else None
        if raw and bounds[key] is None:
            errors[key] = ["invalid_date"]
    if errors:
        raise ValidationFailed(errors)
    return EventFilters(
        external_subscription_id=params.get("external_subscription_id"),
        code=params.get("code"),
        timestamp_from=bounds["timestamp_from"],
        timestamp_to=bounds["timestamp_to"],
    )


def sql_list_events(
    session: Session, organization_id: uuid.UUID, filters: EventFilters, page: PageRequest
) -> Page[Event]:
    query = select(Event).where(Event.organization_id == organization_id)
    if _holds_nul(filters.external_subscription_id, filters.code):
        query = query.where(false())
    if filters.external_subscription_id is not None:
        query = query.where(Event.external_subscription_id == filters.external_subscription_id)
    if filters.code is not None:
        query = query.where(Event.code == filters.code)
    if filters.timestamp_from is not None:
        query = query.where(Event.timestamp >= filters.timestamp_from)
    if filters.timestamp_to is not None:
        query = query.where(Event.timestamp <= filters.timestamp_to)
    return paginate(session, query.order_by(Event.timestamp.desc(), Event.id.desc()), page)


def list_events(
    session: Session, organization_id: uuid.UUID, filters: EventFilters, page: PageRequest
) -> Page[Event]:
    return store_for(session).list_events(session, organization_id, filters, page)
