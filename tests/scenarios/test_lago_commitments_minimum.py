"""Lago's scenario specs commitments/minimum/in_advance_spec.rb and in_arrears_spec.rb: a
plan of 1,000 EUR (no charges) paid in advance or in arrears, weekly, monthly, quarterly
or yearly, calendar or anniversary, with no commitment, a 1-cent commitment (always
reached) or a 10,000 EUR one. The plan period's commitment is trued up when the period
has been billed: on the next period's invoice for a plan paid in advance (never on the
start invoice), on the period's own invoice for one paid in arrears. The true-up is the
commitment prorated to the days subscribed, less the plan fee prorated the same way.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import terminate

# (interval, billing_time, subscription day, next billing day, expected true-up).
# Calendar figures: weekly from Wed Feb 1, 2023: 5 days of 7, (10,000 - 1,000) x 5/7;
# monthly from Feb 4: 25 of 28 days, 9,000 x 25/28; quarterly from Feb 4: 56 of Q1's 90
# days, 9,000 x 56/90; yearly from Feb 1, 2022: 334 of 365 days, 9,000 x 334/365.
# Anniversary periods are whole: 10,000 - 1,000.
CASES = [
    ("weekly", "calendar", utc(2023, 2, 1), utc(2023, 2, 6, 10), 642_857),
    ("weekly", "anniversary", utc(2023, 2, 1), utc(2023, 2, 8, 10), 900_000),
    ("monthly", "calendar", utc(2023, 2, 4), utc(2023, 3, 1, 10), 803_571),
    ("monthly", "anniversary", utc(2023, 2, 4), utc(2023, 3, 4, 10), 900_000),
    ("quarterly", "calendar", utc(2023, 2, 4), utc(2023, 4, 1, 10), 560_000),
    ("quarterly", "anniversary", utc(2023, 2, 4), utc(2023, 5, 4, 10), 900_000),
    ("yearly", "calendar", utc(2022, 2, 1), utc(2023, 1, 1, 10), 823_561),
    ("yearly", "anniversary", utc(2022, 2, 4), utc(2023, 2, 4, 10), 900_000),
]
IDS = [f"{interval}-{time}" for interval, time, *_ in CASES]
# No commitment, one always reached, one never reached.
COMMITMENTS = {"none": None, "reached": 1, "not_reached": 1_000_000}


def setup(
    database: Database, org: Org, *, interval: str, billing_time: str, start: datetime,
    commitment: int | None, pay_in_advance: bool, bill_charges_monthly: bool = False,
) -> Billing:  # fmt: skip
    billing = Billing(database, org)
    fields: dict[str, object] = {"interval": interval, "amount_cents": 100_000,
                                 "pay_in_advance": pay_in_advance}  # fmt: skip
    if interval == "yearly":
        fields["bill_charges_monthly"] = bill_charges_monthly
    if commitment is not None:
        fields["minimum_commitment"] = {"amount_cents": commitment}
    billing.plan("plan", [], **fields)
    billing.customer("cus", timezone="UTC", currency="EUR")
    billing.subscribe("cus", "plan", "sub", start, billing_time=billing_time)
    billing.tick(start)
    return billing


def commitment_fees(billing: Billing) -> list[list[int]]:
    """Per invoice, in order, the amounts of its commitment fees."""
    return [
        [fee.amount_cents for fee in invoice.fees if fee.fee_type == "commitment"]
        for invoice in billing.invoices()
    ]


def yearly_variants() -> list[tuple[object, ...]]:
    # Yearly plans are run with charges billed yearly and monthly, as the specs do.
    return [
        pytest.param(*case, monthly, id=f"{name}{'-monthly_charges' if monthly else ''}")
        for case, name in zip(CASES, IDS, strict=True)
        for monthly in ((False, True) if case[0] == "yearly" else (False,))
    ]


@pytest.mark.parametrize("commitment", COMMITMENTS)
@pytest.mark.parametrize(("interval", "billing_time", "start", "next_day", "expected",
                          "bill_charges_monthly"), yearly_variants())  # fmt: skip
def test_in_advance(
    database: Database, org: Org, commitment: str, interval: str, billing_time: str,
    start: datetime, next_day: datetime, expected: int, bill_charges_monthly: bool,
) -> None:  # fmt: skip
    billing = setup(database, org, interval=interval, billing_time=billing_time, start=start,
                    commitment=COMMITMENTS[commitment], pay_in_advance=True,
                    bill_charges_monthly=bill_charges_monthly)  # fmt: skip
    # The start invoice never trues up: the period has only begun.
    assert commitment_fees(billing) == [[]]
    billing.tick(next_day)
    fees = [amount for amounts in commitment_fees(billing) for amount in amounts]
    assert fees == ([expected] if commitment == "not_reached" else [])
    if commitment == "not_reached":
        # It is on the invoice of the next period's first day.
        [trued_up] = [
            i for i in billing.invoices() if any(f.fee_type == "commitment" for f in i.fees)
        ]
        assert trued_up.billing_date == next_day.date()
        assert trued_up.fee("plan").amount_cents == 100_000


def test_in_advance_terminated_mid_week(database: Database, org: Org) -> None:
    """The weekly calendar plan of in_advance_spec.rb, billed Feb 6 and 13, then
    terminated on Wednesday Feb 15 at 10:00."""
    billing = setup(database, org, interval="weekly", billing_time="calendar",
                    start=utc(2023, 2, 1), commitment=1_000_000, pay_in_advance=True)  # fmt: skip
    billing.tick(utc(2023, 2, 6, 10))
    billing.tick(utc(2023, 2, 13, 10))
    terminate(billing, "sub", utc(2023, 2, 15, 10))
    # Feb 1-5: 9,000 x 5/7; Feb 6-12: 10,000 - 1,000; Feb 13-15: 10,000 x 3/7 less the
    # week's whole fee of 1,000 paid in advance (the unused days go back on a credit
    # note, not into the commitment): 4,285.71 - 1,000.
    assert commitment_fees(billing) == [[], [642_857], [900_000], [328_571]]


# in_arrears_spec.rb bills twice, at 01:00 and 02:00 of the period's last billing day
# (the second changes nothing). The weekly anniversary case bills on Feb 15, skipping
# Feb 8: meterbill bills the missed day too (README), so the first invoice is Feb 8's,
# for Feb 1-7, with the same true-up.
ARREARS = [
    ("weekly", "calendar", utc(2023, 2, 1), utc(2023, 2, 6), 642_857),
    ("weekly", "anniversary", utc(2023, 2, 1), utc(2023, 2, 15), 900_000),
    ("monthly", "calendar", utc(2023, 2, 4), utc(2023, 3, 1), 803_571),
    ("monthly", "anniversary", utc(2023, 2, 4), utc(2023, 3, 4), 900_000),
    ("quarterly", "calendar", utc(2023, 2, 4), utc(2023, 4, 1), 560_000),
    ("quarterly", "anniversary", utc(2023, 2, 4), utc(2023, 5, 4), 900_000),
    ("yearly", "calendar", utc(2022, 2, 1), utc(2023, 1, 1), 823_561),
    ("yearly", "anniversary", utc(2022, 2, 4), utc(2023, 2, 4), 900_000),
]


def arrears_variants() -> list[tuple[object, ...]]:
    # Lago's "charged monthly" contexts of yearly plans in arrears set
    # bill_charges_monthly to false again; both settings are run here.
    return [
        pytest.param(*case, monthly, id=f"{name}{'-monthly_charges' if monthly else ''}")
        for case, name in zip(ARREARS, IDS, strict=True)
        for monthly in ((False, True) if case[0] == "yearly" else (False,))
    ]


@pytest.mark.parametrize("commitment", COMMITMENTS)
@pytest.mark.parametrize(("interval", "billing_time", "start", "billing_day", "expected",
                          "bill_charges_monthly"), arrears_variants())  # fmt: skip
def test_in_arrears(
    database: Database, org: Org, commitment: str, interval: str, billing_time: str,
    start: datetime, billing_day: datetime, expected: int, bill_charges_monthly: bool,
) -> None:  # fmt: skip
    billing = setup(database, org, interval=interval, billing_time=billing_time, start=start,
                    commitment=COMMITMENTS[commitment], pay_in_advance=False,
                    bill_charges_monthly=bill_charges_monthly)  # fmt: skip
    assert billing.invoices() == []
    billing.tick(billing_day.replace(hour=1))
    billing.tick(billing_day.replace(hour=2))
    first = next(i for i in billing.invoices() if i.fees_amount_cents)
    found = [fee.amount_cents for fee in first.fees if fee.fee_type == "commitment"]
    assert found == ([expected] if commitment == "not_reached" else [])
