"""Parsing instants sent by clients (ISO 8601 strings, as Lago accepts them)."""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)


def parse_instant(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string; None when it is not one.

    A string without an offset is read as UTC, as Rails does for API input.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    # A century of billing periods (and a century of trial) in any timezone must still
    # be a date: the years 0001 or 9999 would overflow in the first local conversion.
    return parsed if EARLIEST_INSTANT <= parsed < LATEST_INSTANT else None
