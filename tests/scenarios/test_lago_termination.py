"""Ending subscriptions as Lago's scenario spec subscriptions/terminate_ended_spec.rb has
them: the clock ends a subscription on the local date of its `ending_at`
(clock/terminate_ended_subscriptions_job.rb), and a termination on a billing day whose
period was not billed yet bills that period only (subscriptions/terminated_dates_service.rb).

Plan of the spec: 1000 cents a month, no charges; the customer's timezone varies.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from meterbill.core.db import Database
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.service import find_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc
from tests.scenarios.credit_notes import notes, terminate


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    billing.plan("arrears", [], amount_cents=1000)
    billing.plan("advance", [], amount_cents=1000, pay_in_advance=True)
    return billing


def subscribe(billing: Billing, timezone: str, plan: str, start: datetime,
              ending: datetime | None, billing_time: str = "anniversary") -> None:  # fmt: skip
    billing.customer("cus", timezone=timezone)
    extra = {} if ending is None else {"ending_at": ending.isoformat()}
    billing.subscribe("cus", plan, "sub", start, billing_time=billing_time, **extra)


def subscription(billing: Billing, status: str) -> Subscription:
    with billing.database.transaction(write=False) as session:
        found = find_subscription(session, billing.org.id, "sub", status)
        session.expunge(found)
        return found


def summary(invoices: list[InvoiceRow]) -> list[tuple[int, date, list[str]]]:
    return [
        (invoice.total_amount_cents, invoice.issuing_date, [p["reason"] for p in invoice.periods])
        for invoice in invoices
    ]


@pytest.mark.parametrize(
    ("timezone", "issued"),
    [
        ("Europe/Paris", date(2023, 9, 6)),
        ("Asia/Bangkok", date(2023, 9, 6)),
        # 2023-09-05T00:00Z is Sep 4, 19:00 in Bogota: the period runs from Sep 4.
        ("America/Bogota", date(2023, 9, 5)),
    ],
)
def test_a_subscription_ending_the_day_after_its_start_is_billed_two_days(
    billing: Billing, timezone: str, issued: date
) -> None:
    subscribe(billing, timezone, "arrears", utc(2023, 9, 5), utc(2023, 9, 6))
    billing.tick(utc(2023, 9, 6, 0, 15))
    assert subscription(billing, "terminated").terminated_at == utc(2023, 9, 6)
    # 2 days of a 30-day period: 1000 * 2 / 30 = 66.67.
    assert summary(billing.invoices()) == [(67, issued, ["subscription_terminating"])]


@pytest.mark.parametrize(
    ("timezone", "tick_at", "issued"),
    [
        # 19:00Z on Oct 4 is 14:00 in Bogota, on the local date of the ending
        # (Oct 4, 19:00 local); the billing day is Oct 4 there.
        ("America/Bogota", utc(2023, 10, 4, 19), date(2023, 10, 4)),
        # 19:00Z on Oct 4 is Oct 5, 02:00 in Bangkok; the ending is Oct 5, 07:00 local.
        ("Asia/Bangkok", utc(2023, 10, 4, 19), date(2023, 10, 5)),
    ],
)
def test_the_clock_ends_a_subscription_on_the_local_date_of_its_ending(
    billing: Billing, timezone: str, tick_at: datetime, issued: date
) -> None:
    subscribe(billing, timezone, "arrears", utc(2023, 9, 5), utc(2023, 10, 5))
    report = billing.tick(tick_at)
    assert report.terminated == ["sub"]
    # It ends when the clock ends it, as Lago's (terminated_at = now).
    assert subscription(billing, "terminated").terminated_at == tick_at
    # The period that just ended, whole; no periodic invoice before, no extra day after.
    assert summary(billing.invoices()) == [(1000, issued, ["subscription_terminating"])]
    billing.tick(utc(2023, 10, 5, 12))
    billing.tick(utc(2023, 11, 5, 12))
    assert len(billing.invoices()) == 1


def test_an_ending_past_while_no_clock_ran_ends_at_the_ending(billing: Billing) -> None:
    subscribe(billing, "Europe/Paris", "arrears", utc(2023, 9, 5), utc(2023, 9, 20, 12))
    billing.tick(utc(2023, 9, 22))
    assert subscription(billing, "terminated").terminated_at == utc(2023, 9, 20, 12)
    # Sep 5-20 in Paris: 16 days of 30 = 533.33.
    assert summary(billing.invoices()) == [(533, date(2023, 9, 20), ["subscription_terminating"])]


def test_ending_on_the_billing_day_bills_the_ended_period_only(billing: Billing) -> None:
    # Ending: Oct 5, 02:00 in Paris, the first day of the next anniversary period.
    subscribe(billing, "Europe/Paris", "arrears", utc(2023, 9, 5), utc(2023, 10, 5))
    billing.tick(utc(2023, 10, 5, 0, 15))
    assert subscription(billing, "terminated").terminated_at == utc(2023, 10, 5)
    # Sep 5 - Oct 4 on the termination invoice; not one day of Oct 5 (1000 / 31 = 32).
    assert summary(billing.invoices()) == [(1000, date(2023, 10, 5), ["subscription_terminating"])]
    billing.tick(utc(2023, 10, 6))
    assert len(billing.invoices()) == 1


def test_ending_on_the_billing_day_of_a_plan_paid_in_advance_starts_no_period(
    billing: Billing,
) -> None:
    subscribe(billing, "Europe/Paris", "advance", utc(2023, 9, 5), utc(2023, 10, 5))
    billing.tick(utc(2023, 10, 5, 0, 15))
    # The start invoice paid Sep 5 - Oct 4; the termination bills the charges of that
    # period (none), and no day of a period that never began: nothing to credit either.
    assert summary(billing.invoices()) == [
        (1000, date(2023, 9, 5), ["subscription_starting"]),
        (0, date(2023, 10, 5), ["subscription_terminating"]),
    ]
    assert notes(billing) == []


def test_calendar_ending_on_the_first_of_the_month(billing: Billing) -> None:
    subscribe(billing, "Europe/Paris", "arrears", utc(2023, 8, 1), utc(2023, 10, 1), "calendar")
    billing.tick(utc(2023, 9, 1, 0, 15))
    billing.tick(utc(2023, 10, 1, 0, 15))
    assert summary(billing.invoices()) == [
        (1000, date(2023, 9, 1), ["subscription_periodic"]),
        (1000, date(2023, 10, 1), ["subscription_terminating"]),
    ]


def test_calendar_ending_on_the_first_of_the_month_paid_in_advance(billing: Billing) -> None:
    subscribe(billing, "Europe/Paris", "advance", utc(2023, 8, 1), utc(2023, 10, 1), "calendar")
    billing.tick(utc(2023, 9, 1))
    billing.tick(utc(2023, 10, 1, 0, 15))
    assert summary(billing.invoices()) == [
        (1000, date(2023, 8, 1), ["subscription_starting"]),
        (1000, date(2023, 9, 1), ["subscription_periodic"]),
        (0, date(2023, 10, 1), ["subscription_terminating"]),
    ]
    assert notes(billing) == []


def test_terminated_on_the_billing_day_before_the_clock_bills_the_ended_period(
    billing: Billing,
) -> None:
    subscribe(billing, "Europe/Paris", "arrears", utc(2023, 8, 1), None, "calendar")
    billing.tick(utc(2023, 9, 1, 0, 5))
    terminate(billing, "sub", utc(2023, 10, 1, 0, 15))
    billing.tick(utc(2023, 10, 1, 1))
    assert summary(billing.invoices()) == [
        (1000, date(2023, 9, 1), ["subscription_periodic"]),
        (1000, date(2023, 10, 1), ["subscription_terminating"]),
    ]


def test_terminated_on_the_billing_day_after_the_clock_bills_that_day(billing: Billing) -> None:
    subscribe(billing, "Europe/Paris", "arrears", utc(2023, 8, 1), None, "calendar")
    billing.tick(utc(2023, 9, 1, 0, 5))
    billing.tick(utc(2023, 10, 1, 0, 5))
    terminate(billing, "sub", utc(2023, 10, 1, 0, 15))
    # September was billed: the termination bills Oct 1, 1000 / 31 = 32.26.
    assert summary(billing.invoices()) == [
        (1000, date(2023, 9, 1), ["subscription_periodic"]),
        (1000, date(2023, 10, 1), ["subscription_periodic"]),
        (32, date(2023, 10, 1), ["subscription_terminating"]),
    ]


def test_terminated_on_its_first_day_bills_one_day(billing: Billing) -> None:
    subscribe(billing, "Europe/Paris", "arrears", utc(2023, 9, 5), None)
    terminate(billing, "sub", utc(2023, 9, 5, 5))
    # 1000 / 30 = 33.33.
    assert summary(billing.invoices()) == [(33, date(2023, 9, 5), ["subscription_terminating"])]
