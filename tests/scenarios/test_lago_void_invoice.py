"""Voiding an invoice with credit notes, as Lago's scenario spec invoices/void_invoice_spec.rb
has it: a plan of 10 EUR a month paid in advance, a 20 % tax, subscribed Jan 1, 2023 (an
invoice of 1,200). `generate_credit_note` gives the invoice's value to a credit note of
`credit_amount` + `refund_amount`, and what is left to a second note, voided at once.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.core.errors import ValidationFailed
from meterbill.credit_notes.voiding import parse_void_notes
from meterbill.invoices.service import void_invoice
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc
from tests.scenarios.credit_notes import notes, record_payment


def setup(database: Database, org: Org) -> tuple[Billing, InvoiceRow]:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    billing.plan("p", [], amount_cents=1_000, pay_in_advance=True)
    billing.customer("cus")
    billing.subscribe("cus", "p", "sub", utc(2023, 1, 1))
    [invoice] = billing.invoices()
    assert (invoice.status, invoice.total_amount_cents) == ("finalized", 1_200)
    return billing, invoice


def void(billing: Billing, invoice: InvoiceRow, **body: Any) -> InvoiceRow:
    with billing.database.transaction() as session:
        void_invoice(
            session, billing.org.id, str(invoice.id), utc(2023, 1, 2), parse_void_notes(body)
        )
    [voided] = [i for i in billing.invoices() if i.id == invoice.id]
    return voided


def test_a_credit_of_the_whole_invoice(database: Database, org: Org) -> None:
    billing, invoice = setup(database, org)
    voided = void(billing, invoice, generate_credit_note=True, credit_amount=1_200, refund_amount=0)
    assert voided.status == "voided"
    [note] = notes(billing)
    assert (note.status, note.credit_status) == ("finalized", "available")
    assert (note.credit_amount_cents, note.refund_amount_cents, note.total_amount_cents) == (
        1_200, 0, 1_200,
    )  # fmt: skip
    assert (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents) == (1_000, 200)
    assert note.balance_amount_cents == 1_200


def test_a_paid_invoice_is_refunded(database: Database, org: Org) -> None:
    billing, invoice = setup(database, org)
    record_payment(billing, invoice.id, 1_200)
    voided = void(billing, invoice, generate_credit_note=True, credit_amount=0, refund_amount=1_200)
    assert (voided.status, voided.payment_status) == ("voided", "succeeded")
    [note] = notes(billing)
    assert (note.credit_amount_cents, note.refund_amount_cents, note.total_amount_cents) == (
        0, 1_200, 1_200,
    )  # fmt: skip
    assert (note.status, note.refund_status) == ("finalized", "pending")


def test_a_partial_credit_and_refund_leave_a_voided_note_for_the_rest(
    database: Database, org: Org
) -> None:
    billing, invoice = setup(database, org)
    record_payment(billing, invoice.id, 300)
    assert billing.invoices()[0].payment_status == "pending"
    # Half the invoice (600): 300 credited, the 300 paid refunded.
    voided = void(billing, invoice, generate_credit_note=True, credit_amount=300, refund_amount=300)
    assert voided.status == "voided"
    asked, rest = notes(billing)
    assert (asked.credit_amount_cents, asked.refund_amount_cents, asked.total_amount_cents) == (
        300, 300, 600,
    )  # fmt: skip
    assert (asked.status, asked.credit_status) == ("finalized", "available")
    assert (rest.total_amount_cents, rest.refund_amount_cents) == (600, 0)
    assert (rest.status, rest.credit_status, rest.balance_amount_cents) == (
        "finalized",
        "voided",
        0,
    )
    assert rest.voided_at is not None


def test_without_generate_credit_note_no_note_is_issued(database: Database, org: Org) -> None:
    billing, invoice = setup(database, org)
    assert void(billing, invoice).status == "voided"
    assert notes(billing) == []


@pytest.mark.parametrize(
    "body",
    [
        {"credit_amount": 1_201, "refund_amount": 0},
        # Nothing was paid: nothing can be refunded.
        {"credit_amount": 0, "refund_amount": 100},
        {"credit_amount": 1_000, "refund_amount": 201},
    ],
)
def test_amounts_beyond_the_invoice_are_refused(
    database: Database, org: Org, body: dict[str, int]
) -> None:
    billing, invoice = setup(database, org)
    with pytest.raises(ValidationFailed) as refused:
        void(billing, invoice, generate_credit_note=True, **body)
    assert refused.value.details == {
        "credit_refund_amount": ["total_amount_exceeds_invoice_amount"]
    }
    assert billing.invoices()[0].status == "finalized"
    assert notes(billing) == []


def test_through_the_api(http: httpx.Client) -> None:
    http.post("/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": 20,
                                      "applied_to_organization": True}})  # fmt: skip
    http.post("/plans", json={"plan": {"name": "P", "code": "p", "interval": "monthly",
                                       "amount_cents": 1_000, "amount_currency": "EUR",
                                       "pay_in_advance": True}})  # fmt: skip
    http.post("/customers", json={"customer": {"external_id": "cus", "currency": "EUR"}})
    subscription = {"external_customer_id": "cus", "plan_code": "p", "external_id": "s"}
    http.post("/subscriptions", json={"subscription": subscription})
    [invoice] = http.get("/invoices").json()["invoices"]
    path = f"/invoices/{invoice['lago_id']}/void"
    refused = http.post(path, json={"generate_credit_note": True, "credit_amount": 5_000})
    assert refused.status_code == 422
    assert refused.json()["error_details"] == {
        "credit_refund_amount": ["total_amount_exceeds_invoice_amount"]
    }
    # Started today, the first month is prorated: the whole invoice, whatever it came to.
    total = invoice["total_amount_cents"]
    answer = http.post(path, json={"generate_credit_note": True, "credit_amount": total})
    assert answer.status_code == 200
    assert answer.json()["invoice"]["status"] == "voided"
    [note] = http.get("/credit_notes").json()["credit_notes"]
    assert (note["credit_amount_cents"], note["total_amount_cents"]) == (total, total)
