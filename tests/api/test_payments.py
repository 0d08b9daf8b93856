"""Manual payments through the official client and raw HTTP: partial payments and the
refunds they allow, the payment that completes an invoice, offsets, wallet top-ups,
lists and filters, races, and every refusal as Lago's envelope."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.credit_note import CreditNote, CreditNoteEstimate, Item, Items
from lago_python_client.models.invoice import InvoiceFee, InvoiceFeesList, OneOffInvoice
from lago_python_client.models.payment import Payment
from sqlalchemy import func, select

from meterbill.clock import TickReport, mark_overdue, tick
from meterbill.core.db import Database
from meterbill.invoices.models import Invoice
from meterbill.invoices.scope import Scope
from meterbill.payments.models import Payment as PaymentRow
from tests.conftest import Org, make_org
from tests.db.test_current_usage import Setup, utc

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def catalog(http: httpx.Client) -> None:
    http.post("/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": 20}})
    body = {"name": "Setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR",
            "tax_codes": ["vat"]}  # fmt: skip
    assert http.post("/add_ons", json={"add_on": body}).status_code == 200


def one_off(http: httpx.Client, lago: Client, customer: str = "cus") -> Any:
    """A one-off invoice of 10 000 + 20 % VAT (12 000), with one fee."""
    assert http.post("/customers", json={"customer": {"external_id": customer}}).status_code == 200
    fees = InvoiceFeesList(__root__=[InvoiceFee(add_on_code="setup", units=1)])
    return lago.invoices.create(
        OneOffInvoice(external_customer_id=customer, currency="EUR", fees=fees)
    )


@pytest.fixture
def invoice(http: httpx.Client, lago: Client) -> Any:
    catalog(http)
    return one_off(http, lago)


def items(fee_id: str, amount: int) -> Items:
    return Items(__root__=[Item(fee_id=fee_id, amount_cents=amount)])


def refund_note(invoice_id: str, fee_id: str, item: int, refund: int) -> dict[str, Any]:
    return {"credit_note": {"invoice_id": invoice_id, "refund_amount_cents": refund,
                            "items": [{"fee_id": fee_id, "amount_cents": item}]}}  # fmt: skip


def amounts(lago: Client, invoice_id: str) -> tuple[int, int, str, bool]:
    found = lago.invoices.find(invoice_id)
    return (found.total_paid_amount_cents, found.total_due_amount_cents, found.payment_status,
            found.payment_overdue)  # fmt: skip


def refusal(response: httpx.Response, details: dict[str, list[str]]) -> None:
    assert response.status_code == 422, response.text
    assert response.json() == {**UNPROCESSABLE, "error_details": details}


def test_partial_payment_limits_refunds_then_a_second_one_completes_the_invoice(
    lago: Client, http: httpx.Client, invoice: Any
) -> None:
    fee_id = invoice.fees.__root__[0].lago_id
    # Nothing paid yet: no refund at all.
    refusal(http.post("/credit_notes", json=refund_note(invoice.lago_id, fee_id, 1_000, 1_200)),
            {"refund_amount_cents": ["cannot_refund_unpaid_invoice"]})  # fmt: skip

    first = lago.payments.create(
        Payment(invoice_id=invoice.lago_id, amount_cents=5_000, reference="wire-1",
                paid_at="2026-01-10")
    )  # fmt: skip
    assert (first.invoice_ids, first.invoice_numbers) == ([invoice.lago_id], [invoice.number])
    assert (first.amount_cents, first.amount_currency, first.payment_status, first.type) == (
        5_000, "EUR", "succeeded", "manual")  # fmt: skip
    assert (first.reference, first.external_payment_id, first.created_at) == (
        "wire-1", None, "2026-01-10T00:00:00Z")  # fmt: skip
    # Partly paid: still pending, 7 000 due.
    assert amounts(lago, invoice.lago_id) == (5_000, 7_000, "pending", False)

    # Items of 5 000 are 6 000 with VAT, of which 5 000 can be refunded.
    estimate = lago.credit_notes.estimate(
        CreditNoteEstimate(invoice_id=invoice.lago_id, items=items(fee_id, 5_000))
    )
    assert (estimate.max_creditable_amount_cents, estimate.max_refundable_amount_cents) == (
        6_000, 5_000)  # fmt: skip
    refusal(http.post("/credit_notes", json=refund_note(invoice.lago_id, fee_id, 5_000, 6_000)),
            {"refund_amount_cents": ["higher_than_remaining_invoice_amount"]})  # fmt: skip
    refund = lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, refund_amount_cents=4_800,
                   items=items(fee_id, 4_000))
    )  # fmt: skip
    assert (refund.refund_amount_cents, refund.refund_status) == (4_800, "pending")
    # 200 of the paid 5 000 is left to refund.
    refusal(http.post("/credit_notes", json=refund_note(invoice.lago_id, fee_id, 1_000, 1_200)),
            {"refund_amount_cents": ["higher_than_remaining_invoice_amount"]})  # fmt: skip
    assert amounts(lago, invoice.lago_id) == (5_000, 7_000, "pending", False)

    # More than the 7 000 still due is refused; exactly 7 000 completes the invoice.
    too_much = {"payment": {"invoice_id": invoice.lago_id, "amount_cents": 7_001,
                            "reference": "wire-2"}}  # fmt: skip
    refusal(http.post("/payments", json=too_much), {"amount_cents": ["value_is_out_of_range"]})
    second = lago.payments.create(
        Payment(invoice_id=invoice.lago_id, amount_cents=7_000, reference="wire-2")
    )
    assert (second.amount_cents, second.payment_status) == (7_000, "succeeded")
    assert amounts(lago, invoice.lago_id) == (12_000, 0, "succeeded", False)
    # Now 12 000 - 4 800 = 7 200 is refundable.
    lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, refund_amount_cents=1_200,
                   items=items(fee_id, 1_000))
    )  # fmt: skip
    # A paid invoice takes no more payments.
    again = {"payment": {"invoice_id": invoice.lago_id, "amount_cents": 1, "reference": "x"}}
    refusal(http.post("/payments", json=again), {"amount_cents": ["value_is_out_of_range"]})

    found = lago.payments.find(first.lago_id)
    assert (found.lago_id, found.amount_cents, found.reference) == (first.lago_id, 5_000, "wire-1")
    listed = lago.payments.find_all({"invoice_id": invoice.lago_id})
    # Newest first: the second payment was made now, the first on 10 January.
    assert [p.lago_id for p in listed["payments"]] == [second.lago_id, first.lago_id]
    assert listed["meta"]["total_count"] == 2


def test_payment_object_has_lagos_fields(http: httpx.Client, invoice: Any) -> None:
    body = {"payment": {"invoice_id": invoice.lago_id, "amount_cents": 100, "reference": "cheque",
                        "paid_at": "2026-01-12T15:30:00+02:00"}}  # fmt: skip
    created = http.post("/payments", json=body).json()["payment"]
    customer = http.get("/customers/cus").json()["customer"]
    assert created == {
        "lago_id": created["lago_id"],
        "lago_customer_id": customer["lago_id"],
        "external_customer_id": "cus",
        "invoice_ids": [invoice.lago_id],
        "invoice_numbers": [invoice.number],
        "lago_payable_id": invoice.lago_id,
        "payable_type": "Invoice",
        "amount_cents": 100,
        "amount_currency": "EUR",
        "status": "succeeded",
        "payment_status": "succeeded",
        "type": "manual",
        "reference": "cheque",
        "payment_provider_code": None,
        "payment_provider_type": None,
        "external_payment_id": None,
        "provider_payment_id": None,
        "provider_customer_id": None,
        "next_action": {},
        "created_at": "2026-01-12T13:30:00Z",
    }
    assert http.get(f"/payments/{created['lago_id']}").json() == {"payment": created}


def test_offset_and_payment_settle_the_invoice_together(
    lago: Client, http: httpx.Client, invoice: Any
) -> None:
    fee_id = invoice.fees.__root__[0].lago_id
    lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, offset_amount_cents=6_000,
                   items=items(fee_id, 5_000))
    )  # fmt: skip
    assert amounts(lago, invoice.lago_id) == (0, 6_000, "pending", False)
    body = {"payment": {"invoice_id": invoice.lago_id, "amount_cents": 6_001, "reference": "r"}}
    refusal(http.post("/payments", json=body), {"amount_cents": ["value_is_out_of_range"]})
    lago.payments.create(Payment(invoice_id=invoice.lago_id, amount_cents=6_000, reference="r"))
    assert amounts(lago, invoice.lago_id) == (6_000, 0, "succeeded", False)


def test_overdue_flag_stays_until_the_invoice_is_paid(
    lago: Client, http: httpx.Client, database: Database, org: Org, invoice: Any
) -> None:
    with database.transaction() as session:
        found = session.get(Invoice, uuid.UUID(invoice.lago_id))
        assert found is not None
        scope = Scope(found.customer_id, org.id)
        later = datetime.combine(found.payment_due_date + timedelta(days=2), time(), UTC)
        mark_overdue(session, later, TickReport(), scope)
    assert amounts(lago, invoice.lago_id) == (0, 12_000, "pending", True)
    lago.payments.create(Payment(invoice_id=invoice.lago_id, amount_cents=2_000, reference="a"))
    assert amounts(lago, invoice.lago_id) == (2_000, 10_000, "pending", True)
    lago.payments.create(Payment(invoice_id=invoice.lago_id, amount_cents=10_000, reference="b"))
    assert amounts(lago, invoice.lago_id) == (12_000, 0, "succeeded", False)


def test_marking_succeeded_by_hand_after_a_partial_payment(
    lago: Client, http: httpx.Client, invoice: Any
) -> None:
    """The hand-set status says the whole invoice was paid: the paid total becomes the
    invoice total (not the recorded 3 000 plus it), and nothing more can be paid."""
    lago.payments.create(Payment(invoice_id=invoice.lago_id, amount_cents=3_000, reference="a"))
    succeeded = {"invoice": {"payment_status": "succeeded"}}
    assert http.put(f"/invoices/{invoice.lago_id}", json=succeeded).status_code == 200
    assert amounts(lago, invoice.lago_id) == (12_000, 0, "succeeded", False)
    body = {"payment": {"invoice_id": invoice.lago_id, "amount_cents": 1, "reference": "b"}}
    refusal(http.post("/payments", json=body), {"amount_cents": ["value_is_out_of_range"]})
    assert lago.payments.find_all()["meta"]["total_count"] == 1


def test_wallet_top_up_is_paid_whole(lago: Client, http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "cus"}})
    body = {"external_customer_id": "cus", "rate_amount": "1", "currency": "EUR"}
    wallet = http.post("/wallets", json={"wallet": body}).json()["wallet"]
    transaction = {"wallet_id": wallet["lago_id"], "paid_credits": "15",
                   "invoice_requires_successful_payment": True}  # fmt: skip
    [paid] = http.post("/wallet_transactions", json={"wallet_transaction": transaction}).json()[
        "wallet_transactions"
    ]
    invoice_id = paid["lago_invoice_id"]
    # The open credit invoice is not shown, but it can be paid, in full only.
    assert http.get(f"/invoices/{invoice_id}").status_code == 404
    part = {"payment": {"invoice_id": invoice_id, "amount_cents": 1_000, "reference": "r"}}
    refusal(http.post("/payments", json=part), {"amount_cents": ["invalid_amount"]})
    whole = lago.payments.create(Payment(invoice_id=invoice_id, amount_cents=1_500, reference="r"))
    found = lago.invoices.find(invoice_id)
    assert (found.status, found.payment_status, found.total_paid_amount_cents) == (
        "finalized", "succeeded", 1_500)  # fmt: skip
    assert http.get(f"/wallets/{wallet['lago_id']}").json()["wallet"]["balance_cents"] == 1_500
    assert lago.payments.find(whole.lago_id).invoice_numbers == [found.number]


def test_lists_filters_and_the_customers_list(
    lago: Client, http: httpx.Client, database: Database
) -> None:
    catalog(http)
    first = one_off(http, lago, "alice")
    second = one_off(http, lago, "bob")
    paid = [
        lago.payments.create(
            Payment(invoice_id=first.lago_id, amount_cents=100, reference="a1",
                    paid_at="2026-01-01")
        ),
        lago.payments.create(
            Payment(invoice_id=second.lago_id, amount_cents=200, reference="b1",
                    paid_at="2026-01-02")
        ),
        lago.payments.create(
            Payment(invoice_id=first.lago_id, amount_cents=300, reference="a2",
                    paid_at="2026-01-03")
        ),
    ]  # fmt: skip
    a1, b1, a2 = (payment.lago_id for payment in paid)

    def ids(listed: dict[str, Any]) -> list[str]:
        return [payment.lago_id for payment in listed["payments"]]

    assert ids(lago.payments.find_all()) == [a2, b1, a1]
    assert ids(lago.payments.find_all({"external_customer_id": "alice"})) == [a2, a1]
    assert ids(lago.payments.find_all({"invoice_id": second.lago_id})) == [b1]
    assert ids(lago.payments.find_all({"external_customer_id": "bob",
                                       "invoice_id": first.lago_id})) == []  # fmt: skip
    assert ids(lago.payments.find_all({"external_customer_id": "nobody"})) == []
    page = lago.payments.find_all({"per_page": 2, "page": 2})
    assert ids(page) == [a1]
    assert page["meta"] == {"current_page": 2, "next_page": None, "prev_page": 1,
                            "total_pages": 2, "total_count": 3}  # fmt: skip
    # The customer's list (the official client sends it without the API key, so raw HTTP).
    listed = http.get("/customers/alice/payments").json()
    assert [p["lago_id"] for p in listed["payments"]] == [a2, a1]
    assert listed["meta"]["total_count"] == 2
    only = http.get("/customers/alice/payments", params={"invoice_id": second.lago_id}).json()
    assert only["payments"] == []
    # Another organization sees none of it.
    other = make_org(database, "Other")
    key = {"Authorization": f"Bearer {other.api_key}"}
    with httpx.Client(base_url=str(http.base_url), headers=key) as stranger:
        assert stranger.get("/payments").json()["payments"] == []
        assert stranger.get(f"/payments/{a1}").json()["code"] == "payment_not_found"
        body = {"payment": {"invoice_id": first.lago_id, "amount_cents": 1, "reference": "x"}}
        assert stranger.post("/payments", json=body).json()["code"] == "invoice_not_found"


def test_refusals_are_lago_envelopes_and_write_nothing(
    http: httpx.Client, lago: Client, invoice: Any
) -> None:
    def pay(**fields: Any) -> httpx.Response:
        payment = {"invoice_id": invoice.lago_id, "amount_cents": 100, "reference": "r", **fields}
        return http.post("/payments", json={"payment": payment})

    for body in ({}, {"payment": {}}, {"payment": "x"}, []):
        response = http.post("/payments", json=body)
        assert response.status_code == 400 and response.json()["status"] == 400, body
    refusal(pay(invoice_id=None), {"invoice_id": ["value_is_mandatory"]})
    refusal(pay(invoice_id=" "), {"invoice_id": ["value_is_mandatory"]})
    for amount in (None, 0, -5, "100", 1.5, True):
        refusal(pay(amount_cents=amount), {"amount_cents": ["invalid_value"]})
    for missing in (str(uuid.uuid4()), "nope", 42):
        response = pay(invoice_id=missing)
        assert response.status_code == 404
        assert response.json() == {"status": 404, "error": "Not Found",
                                   "code": "invoice_not_found"}  # fmt: skip
    for paid_at in ("yesterday", "2026-13-01", 20260101):
        refusal(pay(paid_at=paid_at), {"paid_at": ["invalid_date"]})
    refusal(pay(reference=None), {"reference": ["value_is_mandatory"]})
    refusal(pay(reference=""), {"reference": ["value_is_mandatory"]})
    refusal(pay(reference="x" * 41), {"reference": ["value_is_too_long"]})
    # Every problem with the payment itself at once.
    both = {"reference": ["value_is_too_long"], "amount_cents": ["value_is_out_of_range"]}
    refusal(pay(reference="x" * 41, amount_cents=12_001), both)
    # The invoice's own checks come before the date's.
    assert pay(invoice_id=str(uuid.uuid4()), paid_at="nope").status_code == 404
    assert amounts(lago, invoice.lago_id) == (0, 12_000, "pending", False)
    assert lago.payments.find_all()["payments"] == []

    # A voided invoice takes no payment.
    other = one_off(http, lago, "other")
    assert http.post(f"/invoices/{other.lago_id}/void").status_code == 200
    response = http.post("/payments", json={"payment": {
        "invoice_id": other.lago_id, "amount_cents": 100, "reference": "r"}})  # fmt: skip
    assert response.status_code == 403
    assert response.json() == {"status": 403, "error": "Forbidden", "code": "feature_unavailable"}

    for path in (f"/payments/{uuid.uuid4()}", "/payments/nope"):
        response = http.get(path)
        assert response.status_code == 404
        assert response.json() == {"status": 404, "error": "Not Found",
                                   "code": "payment_not_found"}  # fmt: skip
    for path in ("/payments", "/customers/cus/payments"):
        refusal(http.get(path, params={"invoice_id": "nope"}),
                {"invoice_id": ["is in invalid format"]})  # fmt: skip
    response = http.get("/customers/nobody/payments")
    assert (response.status_code, response.json()["code"]) == (404, "customer_not_found")


def test_a_draft_takes_no_payment(database: Database, org: Org, http: httpx.Client) -> None:
    setup = Setup(database, org)
    setup.plan("p", [], amount_cents=1_000)
    setup.customer("cus", invoice_grace_period=3)
    setup.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    tick(database, utc(2024, 2, 1, 1))
    [draft] = http.get("/invoices", params={"status[]": "draft"}).json()["invoices"]
    response = http.post("/payments", json={"payment": {
        "invoice_id": draft["lago_id"], "amount_cents": 100, "reference": "r"}})  # fmt: skip
    assert response.status_code == 403
    assert response.json() == {"status": 403, "error": "Forbidden", "code": "feature_unavailable"}
    assert http.get("/payments").json()["payments"] == []
    # Finalized, it takes one (and leaves no draft for other tests' clock to finalize).
    http.put(f"/invoices/{draft['lago_id']}/finalize")
    response = http.post("/payments", json={"payment": {
        "invoice_id": draft["lago_id"], "amount_cents": 100, "reference": "r"}})  # fmt: skip
    assert response.status_code == 200


def test_racing_payments_never_overpay(
    server: str, database: Database, org: Org, http: httpx.Client, lago: Client
) -> None:
    """Eight payments of 5 000 on an invoice of 12 000: two go through, six are refused."""
    catalog(http)
    invoice = one_off(http, lago)

    def pay(index: int) -> int:
        key = {"Authorization": f"Bearer {org.api_key}"}
        with httpx.Client(base_url=f"{server}/api/v1", timeout=60, headers=key) as client:
            body = {"invoice_id": invoice.lago_id, "amount_cents": 5_000,
                    "reference": f"race-{index}"}  # fmt: skip
            return client.post("/payments", json={"payment": body}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(pay, range(8)))
    assert statuses == [200, 200] + [422] * 6
    assert amounts(lago, invoice.lago_id) == (10_000, 2_000, "pending", False)
    with database.transaction(write=False) as session:
        total = session.scalar(
            select(func.sum(PaymentRow.amount_cents)).where(
                PaymentRow.invoice_id == uuid.UUID(invoice.lago_id)
            )
        )
    assert total == 10_000


def fee_statuses(lago: Client, invoice_id: str) -> list[str | None]:
    return [fee.payment_status for fee in lago.invoices.find(invoice_id).fees.__root__]


def test_fees_take_the_invoice_payment_status(
    lago: Client, http: httpx.Client, invoice: Any
) -> None:
    lago.payments.create(Payment(invoice_id=invoice.lago_id, amount_cents=5_000, reference="a"))
    assert fee_statuses(lago, invoice.lago_id) == ["pending"]  # partly paid
    lago.payments.create(Payment(invoice_id=invoice.lago_id, amount_cents=7_000, reference="b"))
    assert fee_statuses(lago, invoice.lago_id) == ["succeeded"]
    http.put(f"/invoices/{invoice.lago_id}", json={"invoice": {"payment_status": "failed"}})
    assert fee_statuses(lago, invoice.lago_id) == ["failed"]
