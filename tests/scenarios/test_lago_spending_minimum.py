"""Lago's scenario spec spending_minimum_spec.rb: a charge's spending minimum (8 EUR an
event, at least 10 EUR a month) on a termination, prorated to the days used, while the
invoices wait in a 3-day grace period; 50 EUR a month paid in advance, 20 % tax.
"""

from __future__ import annotations

from datetime import datetime

from meterbill.core.db import Database
from meterbill.invoices.service import finalize_invoice
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc
from tests.scenarios.credit_notes import invoice_credits, notes, terminate


def finalize(billing: Billing, invoice: InvoiceRow, now: datetime) -> None:
    with billing.database.transaction() as session:
        finalize_invoice(session, billing.org.id, str(invoice.id), now)


def test_spending_minimum_prorated_on_termination(database: Database, org: Org) -> None:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    calls = billing.metric("calls")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "8"}, "min_amount_cents": 1_000}],
                 amount_cents=5_000, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC", invoice_grace_period=3)
    billing.subscribe("cus", "p", "sub", utc(2023, 1, 8, 8))
    [start] = billing.invoices()
    # Jan 8-31: 24 of 31 days of 50 EUR = 38.71 + 20 %.
    assert start.total_amount_cents == 4_645
    billing.tick(utc(2023, 2, 1, 6))
    february = billing.invoices()[-1]
    assert february.status == "draft"
    billing.events("sub", "calls", (utc(2023, 2, 25, 6), {}))
    terminate(billing, "sub", utc(2023, 2, 25, 6))
    ending = billing.invoices()[-1]
    assert ending.status == "draft"
    usage, true_up = ending.fee("calls"), ending.fee("calls", true_up=True)
    assert (usage.amount_cents, usage.taxes_amount_cents, usage.units) == (800, 160, 1)
    # The minimum for Feb 1-25: 10 EUR x 25 / 28 = 8.93, less the 8 billed.
    assert (true_up.amount_cents, true_up.taxes_amount_cents) == (93, 19)
    assert (ending.fees_amount_cents, ending.taxes_amount_cents, ending.total_amount_cents) == (
        893, 179, 1_072)  # fmt: skip
    # The 3 unused days of February's fee (50 EUR x 3 / 28 = 5.36 + 20 %) come back once
    # February's invoice is finalized, and pay the termination invoice when it is.
    finalize(billing, february, utc(2023, 2, 25, 7))
    [note] = notes(billing)
    assert (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents,
            note.credit_amount_cents, note.total_amount_cents) == (536, 107, 643, 643)  # fmt: skip
    finalize(billing, ending, utc(2023, 2, 25, 7))
    assert invoice_credits(billing, ending.id) == (643, 1_072 - 643)
