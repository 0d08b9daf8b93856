"""Billing periods: worked examples and tiling properties in any timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.core.formats import TIMEZONES
from meterbill.core.periods import (
    Period,
    add_months,
    next_period,
    period_containing,
    utc_bounds,
)

INTERVALS = ["weekly", "monthly", "quarterly", "semiannual", "yearly"]


@pytest.mark.parametrize(
    ("interval", "day", "expected"),
    [
        ("monthly", date(2024, 2, 10), Period(date(2024, 2, 1), date(2024, 2, 29))),
        ("weekly", date(2022, 6, 22), Period(date(2022, 6, 20), date(2022, 6, 26))),
        ("quarterly", date(2024, 5, 20), Period(date(2024, 4, 1), date(2024, 6, 30))),
        ("semiannual", date(2024, 8, 1), Period(date(2024, 7, 1), date(2024, 12, 31))),
        ("yearly", date(2023, 8, 8), Period(date(2023, 1, 1), date(2023, 12, 31))),
    ],
)
def test_calendar_periods(interval: str, day: date, expected: Period) -> None:
    assert period_containing(interval, "calendar", date(2020, 5, 17), day) == expected  # type: ignore[arg-type]


def test_quarter_two_has_91_days() -> None:
    # billing.md E12: Q2 = 91 days, so 91 000 cents is 1 000 per day.
    assert (
        period_containing("quarterly", "calendar", date(2024, 1, 1), date(2024, 6, 20)).days == 91
    )


@pytest.mark.parametrize(
    ("anchor", "day", "expected"),
    [
        # customers.md §8: anchored on the 7th, asked on 2022-06-22.
        (date(2022, 3, 7), date(2022, 6, 22), Period(date(2022, 6, 7), date(2022, 7, 6))),
        # The 31st falls on the last day of shorter months and comes back afterwards.
        (date(2024, 1, 31), date(2024, 2, 15), Period(date(2024, 1, 31), date(2024, 2, 28))),
        (date(2024, 1, 31), date(2024, 3, 1), Period(date(2024, 2, 29), date(2024, 3, 30))),
        (date(2024, 1, 31), date(2024, 3, 31), Period(date(2024, 3, 31), date(2024, 4, 29))),
        (date(2023, 1, 31), date(2023, 2, 28), Period(date(2023, 2, 28), date(2023, 3, 30))),
        (date(2024, 1, 30), date(2024, 2, 29), Period(date(2024, 2, 29), date(2024, 3, 29))),
    ],
)
def test_anniversary_monthly(anchor: date, day: date, expected: Period) -> None:
    assert period_containing("monthly", "anniversary", anchor, day) == expected


def test_anniversary_yearly_on_february_29() -> None:
    period = period_containing("yearly", "anniversary", date(2024, 2, 29), date(2025, 6, 1))
    assert period == Period(date(2025, 2, 28), date(2026, 2, 27))
    after = period_containing("yearly", "anniversary", date(2024, 2, 29), date(2028, 3, 1))
    assert after.start == date(2028, 2, 29)


def test_anniversary_weekly_keeps_the_weekday() -> None:
    period = period_containing("weekly", "anniversary", date(2022, 6, 22), date(2022, 7, 4))
    assert period == Period(date(2022, 6, 29), date(2022, 7, 5))


@pytest.mark.parametrize(
    ("timezone", "to_datetime"),
    [
        # customers.md §8: yearly calendar plan asked on 2023-08-08.
        ("UTC", datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Europe/Berlin", datetime(2023, 12, 31, 22, 59, 59, tzinfo=UTC)),
        ("America/Los_Angeles", datetime(2024, 1, 1, 7, 59, 59, tzinfo=UTC)),
    ],
)
def test_utc_bounds_follow_the_timezone(timezone: str, to_datetime: datetime) -> None:
    period = period_containing("yearly", "calendar", date(2023, 1, 1), date(2023, 8, 8))
    assert utc_bounds(period, timezone)[1] == to_datetime


def test_add_months_clamps() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 1, 31), 2) == date(2024, 3, 31)
    assert add_months(date(2024, 11, 30), -12) == date(2023, 11, 30)


days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@settings(max_examples=300, deadline=None)
@given(
    interval=st.sampled_from(INTERVALS),
    billing_time=st.sampled_from(["calendar", "anniversary"]),
    anchor=days,
    day=days,
)
def test_period_contains_the_day_and_the_next_one_follows(
    interval: str, billing_time: str, anchor: date, day: date
) -> None:
    period = period_containing(interval, billing_time, anchor, day)  # type: ignore[arg-type]
    assert period.contains(day)
    following = next_period(interval, billing_time, anchor, period)  # type: ignore[arg-type]
    assert following.start == period.end + timedelta(days=1)
    # Every day of a period maps back to the same period: periods never overlap.
    assert period_containing(interval, billing_time, anchor, period.end) == period  # type: ignore[arg-type]
    assert period_containing(interval, billing_time, anchor, period.start) == period  # type: ignore[arg-type]
    assert 7 <= period.days <= 366 if interval != "weekly" else period.days == 7
    if billing_time == "anniversary" and interval != "weekly" and anchor.day <= 28:
        assert period.start.day == anchor.day


@settings(max_examples=300, deadline=None)
@given(
    interval=st.sampled_from(INTERVALS),
    billing_time=st.sampled_from(["calendar", "anniversary"]),
    anchor=days,
    day=days,
    timezone=st.sampled_from(sorted(TIMEZONES)),
)
def test_utc_periods_tile_time_across_dst(
    interval: str, billing_time: str, anchor: date, day: date, timezone: str
) -> None:
    period = period_containing(interval, billing_time, anchor, day)  # type: ignore[arg-type]
    following = next_period(interval, billing_time, anchor, period)  # type: ignore[arg-type]
    start, end = utc_bounds(period, timezone)
    next_start, _ = utc_bounds(following, timezone)
    assert start < end
    # No gap and no overlap: the next period starts one second after this one ends.
    assert next_start - end == timedelta(seconds=1)
    assert start.tzinfo is UTC and end.tzinfo is UTC
