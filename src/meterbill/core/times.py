"""Rendering and parsing of instants on the wire."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utc_now() -> datetime:
    """The wall clock; read only at the HTTP and CLI edges, then passed down as `now`."""
    return datetime.now(UTC)


def iso_seconds(value: datetime | None) -> str | None:
    """Lago's `created_at` style: ISO 8601 in UTC, second precision, `Z` suffix."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
