"""Writing events to ClickHouse as part of the relational transaction that accepts them.

ClickHouse has no transaction to join: rows accepted in a session wait in it, a
savepoint rolled back drops its own, and the rows are written (one synchronous insert
per table) just before the relational commit, so a request is answered only once its
events are durable. The duplicate check reads event_keys under a lock the relational
database holds until that commit (a PostgreSQL advisory lock per organization; SQLite
has one writer), so two requests can never both store one transaction id.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import event, text
from sqlalchemy.orm import Session, SessionTransaction

from meterbill.event_store.clickhouse.connection import Connection
from meterbill.events.rollups import numeric_value

EVENT_COLUMNS = [
    "organization_id", "external_subscription_id", "code", "timestamp", "id",
    "transaction_id", "lago_id", "properties", "props", "precise_total_amount_cents",
    "created_at",
]  # fmt: skip
KEY_COLUMNS = [
    "organization_id", "transaction_id", "external_subscription_id", "code", "timestamp", "id",
]  # fmt: skip
PENDING = "meterbill.clickhouse_pending"


def prop_text(value: Any) -> str | None:
    """A property value as aggregation reads it: strings as they are, numbers written out
    in full (as PostgreSQL reads a JSON number), anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        exact = numeric_value(value, True)
        return format(exact, "f") if exact is not None else orjson.dumps(value).decode()
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class Ids:
    """Event ids increasing with arrival (ties in time are broken by them): microseconds
    since the epoch times 1024, plus a counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def take(self, count: int) -> range:
        with self._lock:
            first = max(self._last + 1, time.time_ns() // 1000 * 1024)
            self._last = first + count - 1
        return range(first, first + count)


@dataclass
class Pending:
    transaction: SessionTransaction
    connection: Connection
    events: dict[str, list[Any]]
    keys: dict[str, list[Any]]
    index: set[tuple[str, str, str]]


def pending_of(session: Session) -> list[Pending]:
    return session.info.setdefault(PENDING, [])  # type: ignore[no-any-return]


def pending_keys(session: Session) -> set[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for item in session.info.get(PENDING, ()):
        found |= item.index
    return found


def lock_organizations(session: Session, organization_ids: Sequence[uuid.UUID]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for organization_id in sorted(set(organization_ids)):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"meterbill.events:{organization_id}"},
        )


def _utc_text(moment: datetime) -> str:
    # isoformat is C; ClickHouse reads "YYYY-MM-DD hh:mm:ss[.ffffff]" as DateTime64.
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ")[:-6]


def rows(
    items: Sequence[Any], ids: Sequence[str], numbers: Sequence[int]
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The events' and keys' columns (ClickHouse's JSONColumns input: one JSON document
    a batch, written by orjson in C)."""
    # One pass, plain lists appended through bound methods: this loop runs for every
    # ingested event.
    organizations: list[str] = []
    subscriptions: list[str] = []
    codes: list[str] = []
    stamps: list[str] = []
    transactions: list[str] = []
    properties: list[str] = []
    props_column: list[dict[str, str]] = []
    amounts: list[str | None] = []
    created: list[str] = []
    received: dict[datetime, str] = {}
    organization_text: dict[Any, str] = {}
    for item in items:
        data = item.event
        props = {}
        for name, value in data.properties.items():
            kind = type(value)
            if kind is str:
                props[name] = value
            elif kind is int:
                props[name] = str(value)
            elif (as_text := prop_text(value)) is not None:
                props[name] = as_text
        props_column.append(props)
        organization = organization_text.get(item.organization_id)
        if organization is None:
            organization = organization_text[item.organization_id] = str(item.organization_id)
        organizations.append(organization)
        at = received.get(item.received_at)
        if at is None:
            at = received[item.received_at] = _utc_text(item.received_at)
        created.append(at)
        stamp = data.timestamp
        stamps.append(stamp.isoformat(" ")[:-6] if stamp.tzinfo is UTC else _utc_text(stamp))
        subscriptions.append(data.external_subscription_id)
        codes.append(data.code)
        transactions.append(data.transaction_id)
        properties.append(data.properties_json or orjson.dumps(data.properties).decode())
        amount = data.precise_total_amount_cents
        amounts.append(None if amount is None else format(amount, "f"))
    events: dict[str, list[Any]] = {
        "organization_id": organizations,
        "external_subscription_id": subscriptions,
        "code": codes,
        "timestamp": stamps,
        "id": list(numbers),
        "transaction_id": transactions,
        "lago_id": list(ids),
        "properties": properties,
        "props": props_column,
        "precise_total_amount_cents": amounts,
        "created_at": created,
    }
    keys = {name: events[name] for name in KEY_COLUMNS}
    return events, keys


def hold(session: Session, connection: Connection, events: dict[str, list[Any]],
         keys: dict[str, list[Any]], index: set[tuple[str, str, str]]) -> None:  # fmt: skip
    """Keep rows in the session until its commit."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    assert transaction is not None
    pending_of(session).append(Pending(transaction, connection, events, keys, index))


def write(connection: Connection, events: dict[str, list[Any]], keys: dict[str, list[Any]]) -> None:
    # Keys last: a failure between the two leaves rows no duplicate check can see, and
    # the client's retry is accepted (the request failed, so it was not acknowledged).
    connection.insert_json("events", EVENT_COLUMNS, orjson.dumps(events))
    connection.insert_json("event_keys", KEY_COLUMNS, orjson.dumps(keys))


@event.listens_for(Session, "before_commit")
def _flush(session: Session) -> None:
    if session.in_nested_transaction():
        return
    held = session.info.pop(PENDING, None)
    if not held:
        return
    by_connection: dict[int, tuple[Connection, dict[str, list[Any]], dict[str, list[Any]]]] = {}
    for item in held:
        entry = by_connection.setdefault(
            id(item.connection),
            (item.connection, {n: [] for n in EVENT_COLUMNS}, {n: [] for n in KEY_COLUMNS}),
        )
        for name, values in item.events.items():
            entry[1][name].extend(values)
        for name, values in item.keys.items():
            entry[2][name].extend(values)
    for connection, events, keys in by_connection.values():
        write(connection, events, keys)


@event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous: SessionTransaction) -> None:
    held = session.info.get(PENDING)
    if not held:
        return
    session.info[PENDING] = [item for item in held if not _within(item.transaction, previous)]


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
