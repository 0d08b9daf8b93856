"""Date filters of list pages: a day typed in a date input, read as the organization's
day (from its midnight, up to the next one)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def iso_date(raw: str) -> str:
    """The date as YYYY-MM-DD, or "" for anything that is not one (a filter ignored)."""
    try:
        return date.fromisoformat(raw.strip()).isoformat()
    except ValueError:
        return ""


def day_start(day: str, timezone: str, *, next_day: bool = False) -> datetime | None:
    """Midnight of `day` in `timezone` (of the day after, for the end of a range);
    None for no day, or for an end past the last representable date."""
    if not day:
        return None
    moment = date.fromisoformat(day)
    if next_day:
        if moment == date.max:
            return None
        moment += timedelta(days=1)
    return datetime.combine(moment, time(), tzinfo=ZoneInfo(timezone))
