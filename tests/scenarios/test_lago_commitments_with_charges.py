"""Lago's scenario specs commitments/minimum/in_advance/{anniversary,calendar}/
{weekly,monthly,quarterly,yearly}_spec.rb and commitments/minimum/in_arrears/... (16
files): a plan of 100 EUR paid in advance or in arrears with a minimum commitment of
10,000 EUR and three charges of 1 EUR a unit summing `total`: `metered` (in arrears),
`metered_advance` (paid in advance) and `advance_recurring` (paid in advance, on a
recurring metric, so billed again at the start of every period). The true-up is the
commitment prorated to the days subscribed less every fee of the period: the plan fee
(prorated), the usage in arrears, and the fees paid in advance during the period,
including the recurring charge billed at its start. A coupon of 10,000 EUR limited to
the plan does not change it (coupons come after the fees).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def setup(database: Database, org: Org, *, interval: str, billing_time: str,
          pay_in_advance: bool, start: datetime, **plan: object) -> Billing:  # fmt: skip
    billing = Billing(database, org)
    metered = billing.metric("metered", "sum_agg", field_name="total")
    advance = billing.metric("metered_advance", "sum_agg", field_name="total")
    recurring = billing.metric("advance_recurring", "sum_agg", field_name="total",
                               recurring=True)  # fmt: skip
    one = {"charge_model": "standard", "properties": {"amount": "1"}}
    billing.plan("plan", [{"billable_metric_id": metered, **one},
                          {"billable_metric_id": advance, "pay_in_advance": True, **one},
                          {"billable_metric_id": recurring, "pay_in_advance": True, **one}],
                 interval=interval, amount_cents=10_000, pay_in_advance=pay_in_advance,
                 minimum_commitment={"amount_cents": 1_000_000}, **plan)  # fmt: skip
    billing.customer("cus", timezone="UTC", currency="EUR")
    billing.subscribe("cus", "plan", "sub", start, billing_time=billing_time)
    return billing


def add_coupon(billing: Billing, at: datetime) -> None:
    billing.coupon("big", coupon_type="fixed_amount", amount_cents=1_000_000,
                   amount_currency="EUR", frequency="forever",
                   applies_to={"plan_codes": ["plan"]})  # fmt: skip
    billing.apply("cus", "big", at, amount_cents=1_000_000)


def commitment_fees(billing: Billing) -> list[tuple[datetime, int]]:
    """Every commitment fee, in invoice order, with the billing date of its invoice."""
    return [
        (invoice.billing_date, fee.amount_cents)
        for invoice in billing.invoices()
        for fee in invoice.fees
        if fee.fee_type == "commitment"
    ]


# (billing_time, interval, subscription instant, second period's start, third period's
# start, true-up of the first period in advance, in arrears).
# Calendar first periods: Mar 12-17, 2024 is 6 days of 7; Feb 28-29, 2024 is 2 of 29;
# Mar 12-31 is 20 of Q1 2024's 91. In advance the first period's fees are the prorated
# plan fee and 25 + 30 + 15 EUR of usage; in arrears 10 + 10 + 10 EUR:
# weekly: 10,000 x 6/7 - 100 x 6/7 = 8,485.71, less 70 = 8,415.72, less 30 = 8,455.72;
# monthly: (10,000 - 100) x 2/29 = 682.76, less 70 = 612.76, less 30 = 652.76;
# quarterly: 9,900 x 20/91 = 2,175.82, less 70 = 2,105.82, less 30 = 2,145.82.
# Anniversary periods are whole: 9,900 - 70 = 9,830, 9,900 - 30 = 9,870.
PERIODS = [
    ("calendar", "weekly", utc(2024, 3, 12, 10), utc(2024, 3, 18), utc(2024, 3, 25),
     841_572, 845_572),
    ("calendar", "monthly", utc(2024, 2, 28, 10), utc(2024, 3, 1), utc(2024, 4, 1),
     61_276, 65_276),
    ("calendar", "quarterly", utc(2024, 3, 12, 10), utc(2024, 4, 1), utc(2024, 7, 1),
     210_582, 214_582),
    ("anniversary", "weekly", utc(2024, 3, 12, 10), utc(2024, 3, 19, 10),
     utc(2024, 3, 26, 10), 983_000, 987_000),
    ("anniversary", "monthly", utc(2024, 2, 28, 10), utc(2024, 3, 28, 10),
     utc(2024, 4, 28, 10), 983_000, 987_000),
    ("anniversary", "quarterly", utc(2024, 3, 12, 10), utc(2024, 6, 12, 10),
     utc(2024, 9, 12, 10), 983_000, 987_000),
]  # fmt: skip
PERIOD_IDS = [f"{time}-{interval}" for time, interval, *_ in PERIODS]


@pytest.mark.parametrize("coupon", [False, True], ids=["no_coupon", "coupon"])
@pytest.mark.parametrize(("billing_time", "interval", "start", "second", "third",
                          "in_advance", "in_arrears"), PERIODS, ids=PERIOD_IDS)  # fmt: skip
def test_plan_in_advance(
    database: Database, org: Org, coupon: bool, billing_time: str, interval: str,
    start: datetime, second: datetime, third: datetime, in_advance: int, in_arrears: int,
) -> None:  # fmt: skip
    billing = setup(database, org, interval=interval, billing_time=billing_time,
                    pay_in_advance=True, start=start)  # fmt: skip
    if coupon:
        add_coupon(billing, start)
    billing.events("sub", "advance_recurring", (start, {"total": "15"}))
    billing.events("sub", "metered", (start, {"total": "25"}))
    billing.events("sub", "metered_advance", (start, {"total": "30"}))
    billing.tick(start)
    assert commitment_fees(billing) == []
    billing.tick(second)
    # The second period: 10,000 less its plan fee and the recurring charge's 15 EUR
    # billed at its start.
    billing.tick(third)
    assert commitment_fees(billing) == [(second.date(), in_advance), (third.date(), 988_500)]
    if coupon:
        # The coupon (10,000 EUR a period) covers both invoices, true-ups included.
        assert [i.total_amount_cents for i in billing.invoices()[-2:]] == [0, 0]


@pytest.mark.parametrize("coupon", [False, True], ids=["no_coupon", "coupon"])
@pytest.mark.parametrize(("billing_time", "interval", "start", "second", "third",
                          "in_advance", "in_arrears"), PERIODS, ids=PERIOD_IDS)  # fmt: skip
def test_plan_in_arrears(
    database: Database, org: Org, coupon: bool, billing_time: str, interval: str,
    start: datetime, second: datetime, third: datetime, in_advance: int, in_arrears: int,
) -> None:  # fmt: skip
    billing = setup(database, org, interval=interval, billing_time=billing_time,
                    pay_in_advance=False, start=start)  # fmt: skip
    billing.events("sub", "advance_recurring", (start, {"total": "10"}))
    billing.events("sub", "metered", (start, {"total": "10"}))
    billing.events("sub", "metered_advance", (start, {"total": "10"}))
    billing.tick(second)
    if coupon:
        # Applied after the first billing, which is billed again (a no-op), as the specs do.
        add_coupon(billing, second)
        billing.tick(second)
    assert commitment_fees(billing) == [(second.date(), in_arrears)]
    # The second period: 10,000 less the plan fee and the recurring 10 EUR.
    billing.tick(third)
    assert commitment_fees(billing) == [(second.date(), in_arrears), (third.date(), 989_000)]
    if coupon:
        # 100 + 10 + 9,890 EUR: exactly the coupon's 10,000.
        assert billing.invoices()[-1].total_amount_cents == 0


def months_after(start: datetime, count: int) -> datetime:
    years, month = divmod(start.month - 1 + count, 12)
    return start.replace(year=start.year + years, month=month + 1)


@pytest.mark.parametrize(("pay_in_advance", "start"), [
    (True, utc(2024, 3, 5, 10)), (False, utc(2024, 3, 1, 10))], ids=["advance", "arrears"],
)  # fmt: skip
def test_yearly_anniversary_with_charges_billed_monthly(
    database: Database, org: Org, pay_in_advance: bool, start: datetime
) -> None:
    billing = setup(database, org, interval="yearly", billing_time="anniversary",
                    pay_in_advance=pay_in_advance, start=start,
                    bill_charges_monthly=True)  # fmt: skip
    hour_later = start.replace(hour=11)
    billing.events("sub", "metered_advance", (hour_later, {"total": "2"}),
                   (hour_later, {"total": "30"}))  # fmt: skip
    billing.events("sub", "metered", (hour_later, {"total": "1"}))
    billing.tick(hour_later)
    for month in range(1, 13):
        day = months_after(start, month)
        if month == 5:
            billing.events("sub", "metered_advance", (day, {"total": "55"}))
        if month == 11:
            billing.events("sub", "metered", (day, {"total": "1"}))
        billing.tick(day)
        if month < 12:
            assert commitment_fees(billing) == []
    # The year's fees: the plan's 100, 2 + 30 + 55 paid in advance, 1 + 1 in arrears.
    assert commitment_fees(billing) == [(months_after(start, 12).date(), 981_100)]


@pytest.mark.parametrize("pay_in_advance", [True, False], ids=["advance", "arrears"])
def test_yearly_calendar_with_charges_billed_monthly(
    database: Database, org: Org, pay_in_advance: bool
) -> None:
    """Lago's in-advance spec bills only on Mar 5, 2024, Mar 1, 2025 and Jan 1, 2025 (in
    that order), so the usage in arrears of March 2024 is never billed there and its
    true-up is 1 EUR higher (808,186). meterbill bills the missed monthly billing days
    (README), as Lago's in-arrears spec does by billing on Apr 1, 2024: both plans give
    the in-arrears spec's 808,086."""
    start = utc(2024, 3, 5, 10)
    billing = setup(database, org, interval="yearly", billing_time="calendar",
                    pay_in_advance=pay_in_advance, start=start,
                    bill_charges_monthly=True)  # fmt: skip
    hour_later = utc(2024, 3, 5, 11)
    billing.events("sub", "metered_advance", (hour_later, {"total": "2"}),
                   (hour_later, {"total": "30"}))  # fmt: skip
    billing.events("sub", "metered", (hour_later, {"total": "1"}))
    billing.tick(hour_later)
    billing.tick(utc(2024, 4, 1))
    billing.events("sub", "metered_advance", (utc(2024, 8, 5, 10), {"total": "55"}))
    billing.tick(utc(2024, 8, 5, 10))
    assert commitment_fees(billing) == []
    billing.tick(utc(2025, 1, 1))
    # Mar 5 - Dec 31, 2024 is 302 of 366 days: 10,000 x 302/366 = 8,251.37, less the
    # plan fee 82.51, 2 + 30 + 55 paid in advance and 1 in arrears.
    assert commitment_fees(billing) == [(utc(2025, 1, 1).date(), 808_086)]
    # Usage of the next year does not change it.
    billing.events("sub", "metered", (utc(2025, 2, 5, 10), {"total": "1"}))
    billing.tick(utc(2025, 2, 5, 10))
    assert commitment_fees(billing) == [(utc(2025, 1, 1).date(), 808_086)]
