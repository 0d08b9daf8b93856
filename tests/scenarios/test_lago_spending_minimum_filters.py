"""Lago's scenario spec spending_minimum_spec.rb, "when filters": a charge whose spending
minimum (100 EUR a month) covers all its filters (europe 20 EUR an event, usa 50 EUR,
anything else 0), on a plan of 50 EUR a month paid in advance with a 20 % tax, terminated
on Feb 25, 2023 without a grace period. The minimum is prorated to the 25 days of 28
used and trued up once, over the sum of the charge's fees.
"""

from __future__ import annotations

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import invoice_credits, notes, terminate


def test_spending_minimum_over_filtered_fees(database: Database, org: Org) -> None:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    calls = billing.metric("calls", filters=[{"key": "region", "values": ["europe", "usa"]}])
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "0"}, "min_amount_cents": 10_000,
                        "filters": [{"values": {"region": ["europe"]},
                                     "properties": {"amount": "20"}},
                                    {"values": {"region": ["usa"]},
                                     "properties": {"amount": "50"}}]}],
                 amount_cents=5_000, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2023, 1, 8))
    # Jan 8-31: 24 of 31 days of 50 EUR = 38.71 + 20 %.
    assert billing.invoices()[0].total_amount_cents == 4_645
    billing.tick(utc(2023, 2, 1, 6))
    at = utc(2023, 2, 25, 8)
    billing.events("sub", "calls", (at, {"region": "usa"}), (at, {"region": "europe"}))
    terminate(billing, "sub", at)
    ending = billing.invoices()[-1]
    assert ending.status == "finalized"
    usage = sorted(f.amount_cents for f in ending.fees if f.fee_type == "charge" and not f.true_up)
    assert usage == [0, 2_000, 5_000]
    true_up = ending.fee("calls", true_up=True)
    # 100 EUR x 25/28 = 89.29, less 20 + 50.
    assert (true_up.amount_cents, true_up.taxes_amount_cents, true_up.units) == (1_929, 386, 1)
    assert (ending.fees_amount_cents, ending.taxes_amount_cents) == (8_929, 1_786)
    # February's 3 unused days (50 EUR x 3/28 = 5.36 + 20 % = 6.43) are credited and
    # spent on the termination invoice.
    [note] = notes(billing)
    assert note.total_amount_cents == 643
    assert invoice_credits(billing, ending.id) == (643, 8_929 + 1_786 - 643)


def test_without_usage_the_true_up_keeps_its_zero_fee(database: Database, org: Org) -> None:
    """Lago hangs the true-up on the charge's unfiltered fee and keeps that fee, even at
    zero, because it is the true-up's parent (charge_service.rb#should_persist_fee?)."""
    billing = Billing(database, org)
    calls = billing.metric("calls")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "8"}, "min_amount_cents": 1_000}])  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2023, 1, 1))
    billing.tick(utc(2023, 2, 1))
    [january] = billing.invoices()
    usage, true_up = january.fee("calls"), january.fee("calls", true_up=True)
    assert (usage.amount_cents, usage.units, usage.events_count) == (0, 0, 0)
    assert (true_up.amount_cents, january.fees_amount_cents) == (1_000, 1_000)
