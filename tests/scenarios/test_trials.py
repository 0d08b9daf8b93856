"""Trials on plans paid in advance: billed when the trial ends, not when it starts.

Figures from Lago's free-trial billing scenario: a 50 000.00 EUR monthly plan paid in
advance, a 10 EUR count charge, subscription at 2024-03-05 12:12 UTC.
"""

from __future__ import annotations

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


def _plan(billing: Billing, trial_days: int) -> None:
    calls = billing.metric("calls")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "10"}}],
                 amount_cents=5_000_000, pay_in_advance=True, trial_period=trial_days)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 5, 12, 12))


def _fees(invoice: InvoiceRow) -> list[tuple[str, str, int]]:
    return sorted((fee.fee_type, fee.item_code, fee.amount_cents) for fee in invoice.fees)


def test_trial_inside_the_first_period_is_billed_when_it_ends(billing: Billing) -> None:
    _plan(billing, 10)
    assert billing.invoices() == []
    billing.tick(utc(2024, 3, 10, 12, 12))
    billing.tick(utc(2024, 3, 15, 12, 2))
    assert billing.invoices() == []
    billing.tick(utc(2024, 3, 15, 13, 2))
    [invoice] = billing.invoices()
    # (31 - 4 - 10) / 31 x 5 000 000 = 2 741 935.48
    assert _fees(invoice) == [("subscription", "p", 2_741_935)]
    assert invoice.billing_date == utc(2024, 3, 15).date()
    billing.tick(utc(2024, 3, 15, 14))
    billing.tick(utc(2024, 3, 20))
    assert len(billing.invoices()) == 1
    billing.tick(utc(2024, 4, 1, 1))
    april = billing.invoices()[-1]
    assert _fees(april) == [("subscription", "p", 5_000_000)]


def test_trial_longer_than_a_period(billing: Billing) -> None:
    _plan(billing, 45)
    billing.events("sub", "calls", (utc(2024, 3, 10), {}))
    billing.tick(utc(2024, 4, 1))
    [march] = billing.invoices()
    # The April fee waits for the trial: only March's usage is billed.
    assert _fees(march) == [("charge", "calls", 1000)]
    billing.tick(utc(2024, 4, 19, 12))
    assert len(billing.invoices()) == 1
    billing.tick(utc(2024, 4, 19, 13, 1))
    trial_end = billing.invoices()[-1]
    # Apr 19..30 of 5 000 000 over 30 days.
    assert _fees(trial_end) == [("subscription", "p", 2_000_000)]
    assert len(billing.invoices()) == 2
