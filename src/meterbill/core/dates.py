"""Parsing instants sent by clients (ISO 8601 strings, as Lago accepts them)."""

from __future__ import annotations

from datetime import UTC, datetime


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
    return parsed.astimezone(UTC)
