"""Lago's scenario spec credit_notes/credit_note_rounding_spec.rb: the unused days of a
plan paid in advance credited on termination, sub-total and taxes each rounded, the
total their sum.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import notes, record_payment, terminate


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
