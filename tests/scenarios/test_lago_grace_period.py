"""Drafts in the grace period, as Lago's scenario specs invoices/invoices_spec.rb (its
grace-period cases) and customers/update_invoice_grace_period_spec.rb have them: a
plan of 10 EUR a month paid in advance, a 20 % tax, a 3-day grace period; subscribed
Dec 15, 2022 (17 of 31 days: 548 + 110 tax = 658).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.invoices.service import finalize_invoice, refresh_invoice
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc
from tests.scenarios.credit_notes import invoice_credits, notes, terminate


def setup(database: Database, org: Org, price: str) -> Billing:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    calls = billing.metric("calls")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": price}}],
                 amount_cents=1_000, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC", invoice_grace_period=3)
    billing.subscribe("cus", "p", "sub", utc(2022, 12, 15))
    return billing


def refresh(billing: Billing, invoice: InvoiceRow, now: datetime) -> int:
    with billing.database.transaction() as session:
        return refresh_invoice(session, billing.org.id, str(invoice.id), now).total_amount_cents


def finalize(billing: Billing, invoice: InvoiceRow, now: datetime) -> Any:
    with billing.database.transaction() as session:
        found = finalize_invoice(session, billing.org.id, str(invoice.id), now)
        return found.status, found.total_amount_cents


@pytest.mark.parametrize(
    ("price", "calls", "usage_total", "final_total"),
    [
        # 2 calls at 3 EUR + 20 % = 720; the 426 of credit leaves 294.
        ("3", 2, 720, 294),
        # 1 call at 1 EUR + 20 % = 120: the credit pays it all.
        ("1", 1, 120, 0),
    ],
)
def test_termination_while_the_start_invoice_is_a_draft(
    database: Database, org: Org, price: str, calls: int, usage_total: int, final_total: int
) -> None:
    billing = setup(database, org, price)
    [start] = billing.invoices()
    assert (start.status, start.total_amount_cents) == ("draft", 658)
    billing.events("sub", "calls", *[(utc(2022, 12, 17), {})] * calls)
    assert refresh(billing, start, utc(2022, 12, 17)) == 658
    terminate(billing, "sub", utc(2022, 12, 20))
    start, ending = billing.invoices()
    # The credit note waits for the start invoice (Lago keeps it a hidden draft).
    assert notes(billing) == []
    assert (ending.status, ending.total_amount_cents) == ("draft", usage_total)
    assert refresh(billing, start, utc(2022, 12, 20)) == 658
    assert refresh(billing, ending, utc(2022, 12, 20)) == usage_total
    assert finalize(billing, start, utc(2022, 12, 20)) == ("finalized", 658)
    # Dec 21-31: 11 of 31 days of 10 EUR = 354.84 + 20 % = 425.8.
    [note] = notes(billing)
    assert (note.credit_amount_cents, note.total_amount_cents) == (426, 426)
    assert finalize(billing, ending, utc(2022, 12, 20)) == ("finalized", final_total)


def test_late_event_refreshes_the_usage_draft_not_the_advance_one(
    database: Database, org: Org
) -> None:
    billing = setup(database, org, "1")
    [start] = billing.invoices()
    billing.events("sub", "calls", (utc(2022, 12, 16), {}))
    assert refresh(billing, start, utc(2022, 12, 16)) == 658
    billing.events("sub", "calls", (utc(2022, 12, 17), {}))
    assert refresh(billing, start, utc(2022, 12, 17)) == 658
    billing.tick(utc(2023, 1, 1))
    start, january = billing.invoices()
    # The start invoice's grace period ended Dec 18: the clock finalized it.
    assert (start.status, start.total_amount_cents) == ("finalized", 658)
    # January in advance and December's 2 calls: (1 000 + 200) x 1.2.
    assert (january.status, january.total_amount_cents) == ("draft", 1_440)
    billing.events("sub", "calls", (utc(2022, 12, 18), {}))
    assert refresh(billing, january, utc(2023, 1, 1)) == 1_560
    assert finalize(billing, january, utc(2023, 1, 1)) == ("finalized", 1_560)


def test_removing_the_grace_period_finalizes_the_drafts(
    database: Database, org: Org, http: httpx.Client
) -> None:
    billing = setup(database, org, "1")
    [start] = billing.invoices()
    assert start.status == "draft"
    body = {"external_id": "cus", "billing_configuration": {"invoice_grace_period": 0}}
    response = http.post("/customers", json={"customer": body})
    assert response.json()["customer"]["billing_configuration"]["invoice_grace_period"] == 0
    [start] = billing.invoices()
    assert start.status == "finalized"
    assert (start.issuing_date, start.payment_due_date) == (
        utc(2022, 12, 15).date(), utc(2022, 12, 15).date())  # fmt: skip
    assert invoice_credits(billing, start.id) == (0, 658)
