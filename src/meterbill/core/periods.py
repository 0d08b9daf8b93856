"""Billing periods: calendar and anniversary schedules, as local dates in a timezone.

A period is a run of whole local days. Every schedule is "anchor dates every N
months (or 7 days)": calendar schedules anchor on fixed dates (the 1st of a month,
a Monday), anniversary schedules on the subscription's own date. An anchor on the
29th-31st falls on the last day of shorter months and is never dragged: it comes
back to the 31st in the next long month.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Interval = Literal["weekly", "monthly", "quarterly", "semiannual", "yearly"]
BillingTime = Literal["calendar", "anniversary"]

MONTHS_PER_INTERVAL: dict[str, int] = {"monthly": 1, "quarterly": 3, "semiannual": 6, "yearly": 12}
# Calendar schedules: months start on the 1st of January-aligned months, weeks on Mondays.
CALENDAR_MONTH_ANCHOR = date(2000, 1, 1)
CALENDAR_WEEK_ANCHOR = date(2000, 1, 3)  # a Monday


@dataclass(frozen=True, order=True)
class Period:
    """Local dates `start`..`end`, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def add_months(anchor: date, months: int) -> date:
    """The anchor's day-of-month `months` later, clamped to that month's length."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last))


def _anchor(interval: Interval, billing_time: BillingTime, subscription_day: date) -> date:
    if billing_time == "anniversary":
        return subscription_day
    return CALENDAR_WEEK_ANCHOR if interval == "weekly" else CALENDAR_MONTH_ANCHOR


def period_containing(
    interval: Interval, billing_time: BillingTime, subscription_day: date, day: date
) -> Period:
    """The full period of the schedule that contains local date `day`."""
    anchor = _anchor(interval, billing_time, subscription_day)
    if interval == "weekly":
        offset = (day - anchor).days // 7
        start = anchor + timedelta(weeks=offset)
        return Period(start, start + timedelta(days=6))
    step = MONTHS_PER_INTERVAL[interval]
    months = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    k = months // step
    # The estimate is off by at most one step either way, because of day clamping.
    while add_months(anchor, k * step) > day:
        k -= 1
    while add_months(anchor, (k + 1) * step) <= day:
        k += 1
    start = add_months(anchor, k * step)
    return Period(start, add_months(anchor, (k + 1) * step) - timedelta(days=1))


def next_period(
    interval: Interval, billing_time: BillingTime, subscription_day: date, period: Period
) -> Period:
    return period_containing(
        interval, billing_time, subscription_day, period.end + timedelta(days=1)
    )


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC instant at which local date `day` begins in `timezone`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def utc_bounds(period: Period, timezone: str) -> tuple[datetime, datetime]:
    """`from` = the first day's local midnight; `to` = one second before the next day's.

    That is local 23:59:59 of the last day, and it keeps periods tiling time exactly
    even where a DST change happens at midnight.
    """
    start = local_midnight(period.start, timezone)
    end = local_midnight(period.end + timedelta(days=1), timezone) - timedelta(seconds=1)
    return start, end


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()
