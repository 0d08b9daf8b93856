"""Event requests as Lago reads them, and Lago's event object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from meterbill.core.validation import MANDATORY, Reader

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH_MAX = 100


@dataclass(frozen=True)
class EventInput:
    transaction_id: str
    external_subscription_id: str
    code: str
    timestamp: datetime
    properties: dict[str, Any]
    precise_total_amount_cents: Decimal | None


def parse_timestamp(raw: Any, now: datetime) -> datetime | None:
    """Unix seconds (int, float or numeric string, millisecond precision); None if invalid."""
    if raw is None:
        return now
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        seconds = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    if not seconds.is_finite() or not Decimal(0) <= seconds < Decimal(253402300800):
        return None
    whole = int(seconds)
    micros = int(((seconds - whole) * 1_000_000).to_integral_value())
    return EPOCH + timedelta(seconds=whole, microseconds=micros)


def parse_event(data: Any, now: datetime) -> tuple[EventInput | None, dict[str, list[str]]]:
    """The event, or the errors by field (Lago collects them all)."""
    if not isinstance(data, dict):
        return None, {"event": ["value_is_invalid"]}
    reader = Reader(data)
    transaction_id = reader.string("transaction_id", required=True)
    code = reader.string("code", required=True)
    subscription = reader.string("external_subscription_id")
    if not isinstance(subscription, str) or not subscription:
        reader.add("external_subscription_id", MANDATORY)
    timestamp = parse_timestamp(data.get("timestamp"), now)
    if timestamp is None:
        reader.add("timestamp", "invalid_format")
    properties = data.get("properties") or {}
    if not isinstance(properties, dict):
        reader.add("properties", "value_is_invalid")
    amount = reader.decimal("precise_total_amount_cents")
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
        ),
        {},
    )


def iso_millis(value: datetime) -> str:
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def event_object(lago_id: str, event: EventInput, created_at: datetime) -> dict[str, Any]:
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
        "created_at": created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
