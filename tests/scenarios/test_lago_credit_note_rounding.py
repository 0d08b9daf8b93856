"""Lago's scenario spec credit_notes/credit_note_rounding_spec.rb: the unused days of a
plan paid in advance credited on termination, sub-total and taxes each rounded, the
total their sum; and a note after another taking back the cents that one rounded.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import (
    estimated,
    issue,
    notes,
    plan_fee,
    record_payment,
    terminate,
)


@pytest.mark.parametrize(
    ("rate", "amount", "interval", "billing_time", "start", "end", "invoice", "note"),
    [
        # 29 of 30 days unused: 193.333 + 25 % (48.333): 193.33 + 48.33.
        ("25", 20_000, "monthly", "anniversary", utc(2025, 9, 18, 16), utc(2025, 9, 18, 16, 40),
         (20_000, 5_000), (19_333, 4_833, 24_166)),
        # 154.667 + 38.667: 154.67 + 38.67.
        ("25", 16_000, "monthly", "anniversary", utc(2025, 9, 18, 16), utc(2025, 9, 18, 16, 40),
         (16_000, 4_000), (15_467, 3_867, 19_334)),
        # A week from Monday Oct 6, 2025; 6 of 7 days: 25.7057 + 23.33 % (5.9971).
        ("23.33", 2_999, "weekly", "calendar", utc(2025, 10, 6, 16), utc(2025, 10, 6, 16, 30),
         (2_999, 700), (2_571, 600, 3_171)),
    ],
)  # fmt: skip
def test_termination_credit_rounding(
    database: Database, org: Org, rate: str, amount: int, interval: str, billing_time: str,
    start: datetime, end: datetime, invoice: tuple[int, int], note: tuple[int, int, int],
) -> None:  # fmt: skip
    billing = Billing(database, org)
    billing.tax("vat", rate, applied_to_organization=True)
    billing.plan("p", [], amount_cents=amount, interval=interval, pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", start, billing_time=billing_time)
    [first] = billing.invoices()
    assert (first.fees_amount_cents, first.taxes_amount_cents) == invoice
    record_payment(billing, first.id, first.total_amount_cents)
    terminate(billing, "sub", end)
    [credit] = notes(billing)
    assert (credit.sub_total_excluding_taxes_amount_cents, credit.taxes_amount_cents,
            credit.credit_amount_cents) == note  # fmt: skip
    assert credit.total_amount_cents == note[2]


def test_the_last_note_gives_back_the_cents_the_first_rounded(database: Database, org: Org) -> None:
    """Lago's "with existing credit note": 726.86 of 769.00 credited (145.372 of taxes: 145.37),
    then the 42.14 left with 8.428 + 0.002 of taxes: 8.43, the invoice's 153.80 in all.
    Lago's spec then edits the first note's total by hand (a note "created before the
    rounding fix"); meterbill's notes never had that total, so that step is left out."""
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    billing.plan("p", [], amount_cents=769_00, pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2025, 9, 18, 16), billing_time="anniversary")
    [invoice] = billing.invoices()
    assert invoice.totals[3:] == (153_80, 922_80, 922_80)
    record_payment(billing, invoice.id, invoice.total_amount_cents)
    fee = plan_fee(billing, invoice.id, 769_00)
    first = issue(billing, invoice.id, [(fee, 726_86)], reason="other",
                  credit_amount_cents=872_24, refund_amount_cents=0)  # fmt: skip
    assert (first.sub_total_excluding_taxes_amount_cents, first.taxes_amount_cents,
            first.total_amount_cents, first.coupons_adjustment_amount_cents) == (
        726_86, 145_37, 872_23, 0)  # fmt: skip
    found = estimated(billing, invoice.id, [(fee, 42_14)])
    assert (found.taxes_amount_cents, found.max_creditable_amount_cents) == (8_43, 50_57)
    last = issue(billing, invoice.id, [(fee, 42_14)], reason="other",
                 credit_amount_cents=found.max_creditable_amount_cents)  # fmt: skip
    assert (last.sub_total_excluding_taxes_amount_cents, last.taxes_amount_cents,
            last.refund_amount_cents, last.total_amount_cents) == (
        42_14, 8_43, 0, 50_57)  # fmt: skip
