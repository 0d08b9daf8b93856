"""Event requests as Lago reads them, and Lago's event object."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from meterbill.core.limits import LARGEST_DECIMAL, OUT_OF_RANGE, TEXT_MAX
from meterbill.core.validation import INVALID, MANDATORY, MISSING, TOO_LONG, Reader

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TIMESTAMP_END = 253402300800  # 10000-01-01T00:00:00Z
BATCH_MAX = 100
# A number sent as a string is read as a number (aggregation, rollups) when it matches.
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
# Usage properties are small; the bound keeps one request from carrying megabytes into
# a shared group commit (a group holds up to 2000 events).
PROPERTIES_MAX_BYTES = 64 * 1024
# Rails' JSON parser (Lago's) refuses deeper nesting; orjson writes at most 254 levels.
PROPERTIES_MAX_DEPTH = 100
# PostgreSQL's NUMERIC reads at most 16383 digits after the point: beyond, the cast fails.
NUMERIC_MAX_SCALE = 16383
# The rollup's unique index holds (organization, subscription, code, hour, property name);
# PostgreSQL refuses a B-tree entry over 2704 bytes, so the three texts get 2600 of them.
ROLLUP_KEY_MAX_BYTES = 2600
NO_NAMES: frozenset[str] = frozenset()
LARGEST_INTEGER = int(LARGEST_DECIMAL)
LARGEST_FLOAT = float(LARGEST_DECIMAL)


@dataclass(frozen=True)
class EventInput:
    transaction_id: str
    external_subscription_id: str
    code: str
    timestamp: datetime
    properties: dict[str, Any]
    precise_total_amount_cents: Decimal | None
    # Found by parse_event: `properties` as compact JSON (the size it was measured at,
    # reused by the insert), and the top-level properties holding a number no column
    # holds (refused only where a metric aggregates them: events.service).
    properties_json: str | None = None
    big_numbers: frozenset[str] = NO_NAMES


def parse_timestamp(raw: Any, now: datetime) -> datetime | None:
    """Unix seconds (int, float or numeric string, millisecond precision); None if invalid."""
    if raw is None:
        return now
    if type(raw) is int:  # the usual form, without decimal arithmetic
        return EPOCH + timedelta(seconds=raw) if 0 <= raw < TIMESTAMP_END else None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        seconds = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    if not seconds.is_finite() or not Decimal(0) <= seconds < TIMESTAMP_END:
        return None
    whole = int(seconds)
    micros = int(((seconds - whole) * 1_000_000).to_integral_value())
    return EPOCH + timedelta(seconds=whole, microseconds=micros)


def _fraction_digits(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _shape(properties: dict[str, Any]) -> tuple[bool, int]:
    """Whether a key or a string anywhere inside holds a NUL, and how deep it nests."""
    holds_nul, deepest = False, 0
    pending: list[tuple[Any, int]] = [(properties, 1)]
    while pending:  # iterative: JSON may nest deeper than Python's recursion limit
        value, depth = pending.pop()
        if isinstance(value, str):
            holds_nul = holds_nul or "\x00" in value
        elif isinstance(value, dict):
            deepest = max(deepest, depth)
            pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            deepest = max(deepest, depth)
            pending.extend((item, depth + 1) for item in value)
    return holds_nul, deepest


def _identifier(reader: Reader, key: str, *, required: bool) -> Any:
    raw = reader.data.get(key)
    if isinstance(raw, str) and "\x00" in raw:
        # Refused rather than stripped: "a\0b" and "ab" must not become one idempotency key.
        reader.add(key, INVALID)
        return MISSING
    return reader.string(key, required=required, max_length=TEXT_MAX)


def _check_properties(
    reader: Reader, properties: dict[str, Any], subscription: str, code: str
) -> tuple[str | None, frozenset[str]]:
    """Refuse what no database row or index can take; return the compact JSON and the
    top-level properties holding numbers no column holds."""
    try:
        text = orjson.dumps(properties)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (254 levels)
        reader.add("properties", INVALID)
        return None, NO_NAMES
    if len(text) > PROPERTIES_MAX_BYTES:
        reader.add("properties", TOO_LONG)
        return None, NO_NAMES
    # The walk is needed only when the text hints at a NUL (orjson writes \u0000) or at
    # deep nesting (each level takes two brackets).
    if b"\\u0000" in text or (
        len(text) > 2 * PROPERTIES_MAX_DEPTH
        and text.count(b"[") + text.count(b"{") > PROPERTIES_MAX_DEPTH
    ):
        holds_nul, depth = _shape(properties)
        if holds_nul or depth > PROPERTIES_MAX_DEPTH:
            reader.add("properties", INVALID)
    big: set[str] = set()
    names_length = len(subscription) + len(code)
    for key, value in properties.items():
        if len(key) > TEXT_MAX:
            reader.add("properties", TOO_LONG)
            continue
        # Fast paths first: this runs for every numeric property of every event.
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        if isinstance(value, int):
            if not -LARGEST_INTEGER < value < LARGEST_INTEGER:
                big.add(key)
        elif isinstance(value, float):
            # Floats order like their shortest decimal forms, which aggregation reads.
            if abs(value) >= LARGEST_FLOAT:
                big.add(key)
        elif not NUMBER.match(value):
            continue
        elif len(value) > 23:  # shorter, it is below 10^23 with few decimals
            number = Decimal(value)
            if _fraction_digits(number) > NUMERIC_MAX_SCALE:
                reader.add("properties", OUT_OF_RANGE)
            elif number.copy_abs() >= LARGEST_DECIMAL:
                big.add(key)
        # Every numeric property gets a rollup row, keyed by its name.
        if (names_length + len(key)) * 4 > ROLLUP_KEY_MAX_BYTES and (
            sum(len(name.encode()) for name in (subscription, code, key)) > ROLLUP_KEY_MAX_BYTES
        ):
            reader.add("properties", TOO_LONG)
    return text.decode(), frozenset(big) if big else NO_NAMES


def parse_event(data: Any, now: datetime) -> tuple[EventInput | None, dict[str, list[str]]]:
    """The event, or the errors by field (Lago collects them all).

    Everything a database would refuse is refused here, before the event joins a
    shared group commit: NUL bytes, identifiers longer than their indexes take,
    numbers no NUMERIC reads, properties too large.
    """
    if not isinstance(data, dict):
        return None, {"event": ["value_is_invalid"]}
    reader = Reader(data)
    transaction_id = _identifier(reader, "transaction_id", required=True)
    code = _identifier(reader, "code", required=True)
    subscription = _identifier(reader, "external_subscription_id", required=False)
    if "external_subscription_id" not in reader.errors and not subscription:
        reader.add("external_subscription_id", MANDATORY)
    timestamp = parse_timestamp(data.get("timestamp"), now)
    if timestamp is None:
        reader.add("timestamp", "invalid_format")
    properties = data.get("properties") or {}
    properties_json, big_numbers = None, NO_NAMES
    if not isinstance(properties, dict):
        reader.add("properties", INVALID)
    else:
        properties_json, big_numbers = _check_properties(
            reader,
            properties,
            subscription if isinstance(subscription, str) else "",
            code if isinstance(code, str) else "",
        )
    amount = reader.decimal("precise_total_amount_cents")
    if isinstance(amount, Decimal) and _fraction_digits(amount) > NUMERIC_MAX_SCALE:
        reader.add("precise_total_amount_cents", OUT_OF_RANGE)
    if reader.errors:
        return None, reader.errors
    assert isinstance(transaction_id, str) and isinstance(code, str)
    assert isinstance(subscription, str) and timestamp is not None
    return (
        EventInput(
            transaction_id=transaction_id,
            external_subscription_id=subscription,
            code=code,
            timestamp=timestamp,
            properties=properties,
            precise_total_amount_cents=amount if isinstance(amount, Decimal) else None,
            properties_json=properties_json,
            big_numbers=big_numbers,
        ),
        {},
    )


def iso_millis(value: datetime) -> str:
    # isoformat is several times cheaper than strftime, and this runs for every event
    # of every answer; event timestamps lie in years 1970 to 9999, so the width is fixed.
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def iso_seconds(value: datetime) -> str:
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="seconds")[:19] + "Z"


def event_object(
    lago_id: str, event: EventInput, created_at: datetime, created: str | None = None
) -> dict[str, Any]:
    """Lago's event object; `created`, when given, is `created_at` already written (a
    batch's events share it)."""
    return {
        "lago_id": lago_id,
        "transaction_id": event.transaction_id,
        "lago_customer_id": None,
        "code": event.code,
        "timestamp": iso_millis(event.timestamp),
        "precise_total_amount_cents": (
            format(event.precise_total_amount_cents, "f")
            if event.precise_total_amount_cents is not None
            else None
        ),
        "properties": event.properties,
        "lago_subscription_id": None,
        "external_subscription_id": event.external_subscription_id,
        "created_at": created or iso_seconds(created_at),
    }
