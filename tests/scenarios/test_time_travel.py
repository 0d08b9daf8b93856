"""Fourteen months of monthly billing driven only by `tick(now)`, in three timezones.

Each scenario runs in a database of its own, so the clock bills only its subscriptions.
The expectations are computed here from the calendar alone: which local days are
billing days, which local days each period covers, one event per local day.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from meterbill.core.db import Database
from tests.conftest import make_org
from tests.scenarios.billing import Billing, InvoiceRow, utc

TIMEZONES = ("UTC", "America/Los_Angeles", "Asia/Tokyo")
PLAN_CENTS = 3_100
CALL_CENTS = 100
# One event a day, at moments that sit on the edges of the local day.
MOMENTS = (time(0, 0), time(12, 0), time(23, 59, 59, 500_000))
FIRST_TICK = utc(2023, 1, 9)
LAST_TICK = utc(2024, 3, 31, 20)  # already April 1st in Tokyo, not in UTC or Los Angeles
# The clock runs every 6 hours, twice each time, around this month end...
BUSY = (utc(2023, 6, 28), utc(2023, 7, 4))
# ...and not at all here: the missed billing days are caught up afterwards.
STOPPED = (utc(2023, 10, 20), utc(2023, 11, 9))


def local(day: date, moment: time, timezone: str) -> datetime:
    return datetime.combine(day, moment, ZoneInfo(timezone)).astimezone(ZoneInfo("UTC"))


def month_after(day: date) -> tuple[int, int]:
    return (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)


def billing_days(start: date, billing_time: str, until: date) -> list[date]:
    """1st of each month (calendar), or the start's day-of-month capped at month end."""
    days = []
    year, month = month_after(start)
    while True:
        anchor = 1 if billing_time == "calendar" else start.day
        day = date(year, month, min(anchor, calendar.monthrange(year, month)[1]))
        if day > until:
            return days
        days.append(day)
        year, month = month_after(day)


def ticks() -> Iterator[datetime]:
    now = FIRST_TICK
    while now <= LAST_TICK:
        if STOPPED[0] <= now < STOPPED[1]:
            now += timedelta(days=1)
        elif BUSY[0] <= now < BUSY[1]:
            yield now
            yield now
            now += timedelta(hours=6)
        else:
            yield now
            now += timedelta(days=1)
    yield LAST_TICK


@pytest.mark.parametrize(
    ("billing_time", "start"),
    [("calendar", date(2023, 1, 10)), ("anniversary", date(2023, 1, 31))],
)
def test_fourteen_months_billed_once_without_gap_or_overlap(
    fresh: Database, billing_time: str, start: date
) -> None:
    billing = Billing(fresh, make_org(fresh))
    calls = billing.metric("calls")
    billing.plan("monthly", [{"billable_metric_id": calls, "charge_model": "standard",
                              "properties": {"amount": "1"}}], amount_cents=PLAN_CENTS)  # fmt: skip
    last_event_day = LAST_TICK.date() + timedelta(days=1)
    for timezone in TIMEZONES:
        billing.customer(timezone, timezone=timezone)
        billing.subscribe(timezone, "monthly", timezone, local(start, time(0), timezone),
                          billing_time=billing_time)  # fmt: skip
        days = [start + timedelta(days=n) for n in range((last_event_day - start).days + 1)]
        moments = [(local(day, MOMENTS[n % 3], timezone), {}) for n, day in enumerate(days)]
        for index in range(0, len(moments), 100):
            billing.events(timezone, "calls", *moments[index : index + 100])

    for now in ticks():
        billing.tick(now)

    for timezone in TIMEZONES:
        today = LAST_TICK.astimezone(ZoneInfo(timezone)).date()
        expected_days = billing_days(start, billing_time, today)
        # Feb 1 2023 … Mar 1 2024 (+ Apr 1 in Tokyo), or Feb 28 2023 … Mar 31 2024.
        assert len(expected_days) == 14 + (timezone == "Asia/Tokyo" and billing_time == "calendar")
        invoices = billing.invoices(timezone)
        check_invoices(invoices, expected_days, start, billing_time, timezone)


def check_invoices(
    invoices: list[InvoiceRow], days: list[date], start: date, billing_time: str, timezone: str
) -> None:
    assert [invoice.billing_date for invoice in invoices] == days
    assert all(invoice.status == "finalized" for invoice in invoices)
    period_start = local(start, time(0), timezone)
    first_day = start
    events = 0
    for invoice, day in zip(invoices, days, strict=True):
        [period] = invoice.periods
        period_end = local(day, time(0), timezone) - timedelta(seconds=1)
        # Plan fee and charges cover exactly the local days first_day … day - 1.
        assert (period["from"], period["to"]) == (period_start, period_end)
        assert (period["charges_from"], period["charges_to"]) == (period_start, period_end)
        covered = (day - first_day).days
        month_days = calendar.monthrange(first_day.year, first_day.month)[1]
        partial = billing_time == "calendar" and first_day.day != 1
        plan_cents = PLAN_CENTS * covered // month_days if partial else PLAN_CENTS
        plan_fee = invoice.fee("monthly")
        calls_fee = invoice.fee("calls")
        assert (plan_fee.amount_cents, plan_fee.from_datetime) == (plan_cents, period_start)
        assert (calls_fee.events_count, calls_fee.amount_cents) == (covered, covered * CALL_CENTS)
        assert invoice.totals == (plan_cents + covered * CALL_CENTS, 0,
                                  plan_cents + covered * CALL_CENTS, 0,
                                  plan_cents + covered * CALL_CENTS,
                                  plan_cents + covered * CALL_CENTS)  # fmt: skip
        events += calls_fee.events_count
        period_start = period_end + timedelta(seconds=1)
        first_day = day
    # Every event before the last billing day was billed, once.
    assert events == (days[-1] - start).days
