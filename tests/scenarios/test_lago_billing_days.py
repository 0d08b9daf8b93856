"""Billing days as Lago's scenario spec subscriptions/billing_spec.rb has them: for each
interval, calendar and anniversary, in UTC, east and west of it, the first billing day
in the customer's timezone bills once (a tick the minute before its local midnight bills
nothing, ticks all that local day and the next bill nothing more); month-end anniversaries
bill on the last day of shorter months and come back to their day.

meterbill bills the days a clock missed (the spec's ticks skip some billing days, which
Lago then never bills): here every billing day is ticked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def local(day: date, timezone: str, hour: int = 0, minute: int = 0) -> datetime:
    moment = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


def setup(database: Database, org: Org, interval: str, timezone: str) -> Billing:
    billing = Billing(database, org)
    billing.plan("p", [], amount_cents=5_000_000, amount_currency="GBP", interval=interval)
    billing.customer("cus", timezone=timezone, currency="GBP")
    return billing


def subscribe(billing: Billing, start: datetime, billing_time: str, now: datetime) -> None:
    body = {"external_customer_id": "cus", "plan_code": "p", "external_id": "sub",
            "billing_time": billing_time, "subscription_at": start.isoformat()}  # fmt: skip
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), now)


@pytest.mark.parametrize(
    ("interval", "billing_time", "timezone", "start", "first"),
    [
        ("weekly", "calendar", "UTC", utc(2023, 2, 1), date(2023, 2, 6)),
        ("weekly", "calendar", "Asia/Kolkata", utc(2023, 2, 2), date(2023, 2, 6)),
        ("weekly", "calendar", "America/Bogota", utc(2023, 2, 1, 6, 10), date(2023, 2, 6)),
        ("weekly", "anniversary", "UTC", utc(2023, 2, 1), date(2023, 2, 8)),
        ("weekly", "anniversary", "Europe/Paris", utc(2023, 5, 2), date(2023, 5, 9)),
        ("weekly", "anniversary", "America/Bogota", utc(2023, 2, 1, 6, 10), date(2023, 2, 8)),
        ("monthly", "calendar", "UTC", utc(2023, 2, 4), date(2023, 3, 1)),
        ("monthly", "calendar", "Asia/Kolkata", utc(2023, 2, 1), date(2023, 3, 1)),
        ("monthly", "calendar", "America/Bogota", utc(2023, 2, 2, 19), date(2023, 3, 1)),
        ("monthly", "anniversary", "UTC", utc(2023, 2, 4), date(2023, 3, 4)),
        ("monthly", "anniversary", "UTC", utc(2023, 3, 31), date(2023, 4, 30)),
        ("monthly", "anniversary", "Asia/Kolkata", utc(2023, 2, 2), date(2023, 3, 2)),
        # 05:00Z on Feb 2 is Feb 2, 00:00 in Bogota.
        ("monthly", "anniversary", "America/Bogota", utc(2023, 2, 2, 5), date(2023, 3, 2)),
        ("quarterly", "calendar", "UTC", utc(2023, 2, 4), date(2023, 4, 1)),
        ("quarterly", "calendar", "Asia/Kolkata", utc(2023, 2, 1), date(2023, 4, 1)),
        ("quarterly", "calendar", "America/Bogota", utc(2023, 2, 2, 19), date(2023, 4, 1)),
        ("quarterly", "anniversary", "UTC", utc(2023, 2, 4), date(2023, 5, 4)),
        ("quarterly", "anniversary", "UTC", utc(2023, 3, 31), date(2023, 6, 30)),
        ("quarterly", "anniversary", "Asia/Kolkata", utc(2023, 2, 2), date(2023, 5, 2)),
        ("quarterly", "anniversary", "America/Bogota", utc(2023, 2, 2, 5), date(2023, 5, 2)),
        ("yearly", "calendar", "UTC", utc(2022, 2, 1), date(2023, 1, 1)),
        ("yearly", "calendar", "Europe/Paris", utc(2022, 4, 2), date(2023, 1, 1)),
        ("yearly", "calendar", "America/Bogota", utc(2022, 2, 4, 19), date(2023, 1, 1)),
        ("yearly", "anniversary", "UTC", utc(2022, 2, 4), date(2023, 2, 4)),
        ("yearly", "anniversary", "UTC", utc(2020, 2, 29), date(2021, 2, 28)),
        ("yearly", "anniversary", "Europe/Paris", utc(2022, 4, 2), date(2023, 4, 2)),
        ("yearly", "anniversary", "America/Bogota", utc(2022, 2, 4, 19), date(2023, 2, 4)),
        ("semiannual", "calendar", "UTC", utc(2022, 2, 1), date(2022, 7, 1)),
        ("semiannual", "calendar", "Europe/Paris", utc(2022, 4, 2), date(2022, 7, 1)),
        ("semiannual", "calendar", "America/Bogota", utc(2022, 2, 4, 19), date(2022, 7, 1)),
        ("semiannual", "anniversary", "UTC", utc(2022, 2, 4), date(2022, 8, 4)),
        ("semiannual", "anniversary", "UTC", utc(2020, 2, 29), date(2020, 8, 29)),
        ("semiannual", "anniversary", "Europe/Paris", utc(2022, 4, 2), date(2022, 10, 2)),
        ("semiannual", "anniversary", "America/Bogota", utc(2022, 2, 4, 19), date(2022, 8, 4)),
    ],
)
def test_the_first_billing_day_bills_once(
    database: Database, org: Org, interval: str, billing_time: str, timezone: str,
    start: datetime, first: date,
) -> None:  # fmt: skip
    billing = setup(database, org, interval, timezone)
    subscribe(billing, start, billing_time, start)
    billing.tick(local(first, timezone) - timedelta(minutes=1))
    assert billing.invoices() == []
    for hour, minute in ((0, 0), (0, 30), (1, 0), (12, 0), (23, 30), (23, 59)):
        billing.tick(local(first, timezone, hour, minute))
    billing.tick(local(first + timedelta(days=1), timezone, 0, 10))
    [invoice] = billing.invoices()
    assert (invoice.billing_date, invoice.issuing_date) == (first, first)


def days(*parts: tuple[int, int, int]) -> list[date]:
    return [date(*part) for part in parts]


@pytest.mark.parametrize(
    ("interval", "start", "expected"),
    [
        ("monthly", utc(2022, 12, 31), days(
            (2023, 1, 31), (2023, 2, 28), (2023, 3, 31), (2023, 4, 30), (2023, 5, 31),
            (2023, 6, 30), (2023, 7, 31), (2023, 8, 31), (2023, 9, 30), (2023, 10, 31),
            (2023, 11, 30), (2023, 12, 31), (2024, 1, 31), (2024, 2, 29), (2024, 3, 31))),
        ("monthly", utc(2022, 4, 30), days(
            (2023, 1, 30), (2023, 2, 28), (2023, 3, 30), (2023, 4, 30), (2023, 5, 30),
            (2023, 6, 30), (2023, 7, 30), (2023, 8, 30), (2023, 9, 30), (2023, 10, 30),
            (2023, 11, 30), (2023, 12, 30), (2024, 1, 30), (2024, 2, 29), (2024, 3, 30))),
        ("monthly", utc(2022, 2, 28), days(
            (2023, 1, 28), (2023, 2, 28), (2023, 3, 28), (2023, 4, 28), (2023, 5, 28),
            (2023, 6, 28), (2023, 7, 28), (2023, 8, 28), (2023, 9, 28), (2023, 10, 28),
            (2023, 11, 28), (2023, 12, 28))),
        ("quarterly", utc(2022, 12, 31), days(
            (2023, 3, 31), (2023, 6, 30), (2023, 9, 30), (2023, 12, 31))),
        ("quarterly", utc(2022, 4, 30), days(
            (2023, 1, 30), (2023, 4, 30), (2023, 7, 30), (2023, 10, 30))),
        ("quarterly", utc(2022, 2, 28), days(
            (2023, 2, 28), (2023, 5, 28), (2023, 8, 28), (2023, 11, 28))),
    ],
)  # fmt: skip
def test_month_end_anniversaries(
    database: Database, org: Org, interval: str, start: datetime, expected: list[date]
) -> None:
    billing = setup(database, org, interval, "UTC")
    # Created on Jan 1, 2023: the days before are not billed (a back-dated start).
    subscribe(billing, start, "anniversary", utc(2023, 1, 1))
    for day in expected:
        billing.tick(local(day, "UTC", 1))
        billing.tick(local(day, "UTC", 2))
    assert [invoice.billing_date for invoice in billing.invoices()] == expected
