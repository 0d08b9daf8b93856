"""Invoices and fees through the official client and raw HTTP: one-off invoices, payment
status, voiding, drafts finalized and refreshed by hand, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.invoice import (
    Invoice,
    InvoiceFee,
    InvoiceFeesList,
    OneOffInvoice,
)
from sqlalchemy import select, update

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.invoices.scope import Scope
from meterbill.plans.models import Plan
from tests.conftest import Org
from tests.db.test_current_usage import Setup, utc

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}
DATE_ERROR = "OverflowError: date value out of range"


@pytest.fixture
def catalog(http: httpx.Client) -> None:
    http.post("/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": 20}})
    http.post("/taxes", json={"tax": {"name": "Reduced", "code": "low", "rate": 5.5}})
    body = {"name": "Setup", "code": "setup", "amount_cents": 12_000, "amount_currency": "EUR",
            "tax_codes": ["vat"], "invoice_display_name": "Setup fee"}  # fmt: skip
    assert http.post("/add_ons", json={"add_on": body}).status_code == 200
    assert http.post("/customers", json={"customer": {"external_id": "cus"}}).status_code == 200


def one_off(**fields: Any) -> OneOffInvoice:
    fees = fields.pop("fees", [InvoiceFee(add_on_code="setup", units=2)])
    fields = {"external_customer_id": "cus", "currency": "EUR", **fields}
    return OneOffInvoice(fees=InvoiceFeesList(__root__=fees), **fields)


def test_one_off_invoice_is_finalized_at_once(lago: Client, catalog: None) -> None:
    today = datetime.now(UTC).date().isoformat()
    invoice = lago.invoices.create(
        one_off(
            fees=[
                InvoiceFee(add_on_code="setup", units=2),
                InvoiceFee(add_on_code="setup", unit_amount_cents=999, units=1.5,
                           description="Extra", tax_codes=["low"]),
            ]
        )
    )  # fmt: skip
    assert (invoice.invoice_type, invoice.status, invoice.payment_status) == (
        "one_off", "finalized", "pending",
    )  # fmt: skip
    assert invoice.number.endswith("-001-001") and invoice.sequential_id == 1
    assert invoice.issuing_date == today and invoice.payment_due_date == today
    # 2 × 120.00 + 1.5 × 9.99 = 240.00 + 14.985 → 14.99 (half-up).
    fees = invoice.fees.__root__
    assert [(f.amount_cents, f.units, f.item.code, f.item.type) for f in fees] == [
        (24_000, "2.0", "setup", "add_on"),
        (1_499, "1.5", "setup", "add_on"),
    ]
    assert fees[0].item.invoice_display_name == "Setup fee"
    assert fees[1].description == "Extra"
    # Explicit tax codes win over the add-on's: 20 % of 24 000 and 5.5 % of 1 499.
    assert [f.taxes_amount_cents for f in fees] == [4_800, 82]
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents) == (25_499, 4_882)
    assert invoice.coupons_amount_cents == 0
    assert invoice.total_amount_cents == invoice.total_due_amount_cents == 30_381
    assert sorted(
        (t.tax_code, t.amount_cents, t.fees_amount_cents) for t in invoice.applied_taxes.__root__
    ) == [("low", 82, 1_499), ("vat", 4_800, 24_000)]
    assert lago.invoices.find(invoice.lago_id).number == invoice.number
    second = lago.invoices.create(one_off())
    assert second.number.endswith("-001-002")


def test_one_off_refusals_write_nothing(http: httpx.Client, catalog: None) -> None:
    def post(body: dict[str, Any]) -> httpx.Response:
        return http.post("/invoices", json={"invoice": body})

    fee = {"add_on_code": "setup"}
    missing_customer = post({"external_customer_id": "nobody", "fees": [fee]})
    assert missing_customer.status_code == 404
    assert missing_customer.json()["code"] == "customer_not_found"
    assert post({"external_customer_id": "cus", "fees": []}).json()["code"] == "fees_not_found"
    unknown = post({"external_customer_id": "cus", "fees": [fee, {"add_on_code": "nope"}]})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "add_on_not_found")
    half = post({"external_customer_id": "cus",
                 "fees": [{**fee, "from_datetime": "2024-01-01T00:00:00Z"}]})  # fmt: skip
    assert half.status_code == 422
    assert half.json() == {**UNPROCESSABLE, "error_details": {"boundaries": ["values_are_invalid"]}}
    reversed_range = post({"external_customer_id": "cus", "fees": [
        {**fee, "from_datetime": "2024-02-01T00:00:00Z", "to_datetime": "2024-01-01T00:00:00Z"}
    ]})  # fmt: skip
    assert reversed_range.status_code == 422
    unknown_tax = post({"external_customer_id": "cus", "fees": [{**fee, "tax_codes": ["x"]}]})
    assert (unknown_tax.status_code, unknown_tax.json()["code"]) == (404, "tax_not_found")
    assert http.post("/invoices", json={}).status_code == 400
    listed = http.get("/invoices").json()
    assert listed["invoices"] == [] and listed["meta"]["total_count"] == 0


def test_payment_status_and_void(lago: Client, http: httpx.Client, catalog: None) -> None:
    invoice = lago.invoices.create(one_off())
    bad = http.put(f"/invoices/{invoice.lago_id}", json={"invoice": {"payment_status": "paid"}})
    assert bad.json() == {
        **UNPROCESSABLE,
        "error_details": {"payment_status": ["value_is_invalid"]},
    }
    paid = lago.invoices.update(Invoice(payment_status="succeeded"), invoice.lago_id)
    assert (paid.payment_status, paid.total_paid_amount_cents, paid.total_due_amount_cents) == (
        "succeeded", 28_800, 0,
    )  # fmt: skip
    tagged = http.put(f"/invoices/{invoice.lago_id}", json={"invoice": {
        "metadata": [{"key": "po", "value": "42"}]}}).json()["invoice"]  # fmt: skip
    assert [(m["key"], m["value"]) for m in tagged["metadata"]] == [("po", "42")]
    voided = lago.invoices.void(invoice.lago_id)
    assert (voided.status, voided.total_due_amount_cents) == ("voided", 0)
    assert voided.voided_at is not None
    again = http.post(f"/invoices/{invoice.lago_id}/void")
    assert (again.status_code, again.json()["code"]) == (405, "not_voidable")
    on_voided = http.put(f"/invoices/{invoice.lago_id}",
                         json={"invoice": {"payment_status": "pending"}})  # fmt: skip
    assert (on_voided.status_code, on_voided.json()["code"]) == (405, "update_on_voided_invoice")
    for path in ("/invoices/not-a-uuid", "/invoices/00000000-0000-0000-0000-000000000000"):
        missing = http.get(path)
        assert (missing.status_code, missing.json()["code"]) == (404, "invoice_not_found")


def test_list_filters(lago: Client, http: httpx.Client, catalog: None) -> None:
    first = lago.invoices.create(one_off())
    http.post("/customers", json={"customer": {"external_id": "other", "currency": "EUR"}})
    lago.invoices.create(one_off(external_customer_id="other"))
    lago.invoices.update(Invoice(payment_status="succeeded"), first.lago_id)

    def numbers(**params: Any) -> list[str]:
        body = http.get("/invoices", params=params).json()
        assert body["meta"]["total_count"] == len(body["invoices"])
        return [item["number"] for item in body["invoices"]]

    assert len(numbers()) == 2
    assert numbers(external_customer_id="cus") == [first.number]
    assert numbers(payment_status="succeeded") == [first.number]
    assert numbers(payment_status="pending", external_customer_id="cus") == []
    assert len(numbers(invoice_type="one_off", currency="eur")) == 2
    assert numbers(invoice_type="subscription") == []
    assert numbers(**{"status[]": "draft"}) == []
    scoped = http.get("/customers/cus/invoices").json()
    assert [item["lago_id"] for item in scoped["invoices"]] == [first.lago_id]
    bad_date = http.get("/invoices", params={"issuing_date_from": "yesterday"})
    assert bad_date.status_code == 422


def test_fees_endpoints(http: httpx.Client, catalog: None) -> None:
    body = {"external_customer_id": "cus", "fees": [{"add_on_code": "setup"}]}
    invoice = http.post("/invoices", json={"invoice": body}).json()["invoice"]
    fee_id = invoice["fees"][0]["lago_id"]
    listed = http.get("/fees", params={"external_customer_id": "cus", "fee_type": "add_on"}).json()
    assert [fee["lago_id"] for fee in listed["fees"]] == [fee_id]
    assert http.get("/fees", params={"fee_type": "charge"}).json()["fees"] == []
    fee = http.get(f"/fees/{fee_id}").json()["fee"]
    assert (fee["amount_cents"], fee["lago_invoice_id"], fee["external_customer_id"]) == (
        12_000, invoice["lago_id"], "cus",
    )  # fmt: skip
    locked = http.put(f"/fees/{fee_id}", json={"fee": {"payment_status": "succeeded"}})
    assert (locked.status_code, locked.json()["code"]) == (405, "invoiced_fee")
    assert http.delete(f"/fees/{fee_id}").json()["code"] == "invoiced_fee"
    assert http.get("/fees/nope").json()["code"] == "fee_not_found"


def test_draft_is_finalized_and_refreshed_by_hand(
    database: Database, org: Org, http: httpx.Client
) -> None:
    setup = Setup(database, org)
    setup.metric("calls")
    setup.plan("p", [{"billable_metric_id": setup.metric("seats"), "charge_model": "standard",
                      "properties": {"amount": "2"}}], amount_cents=1_000)  # fmt: skip
    setup.customer("cus", invoice_grace_period=3)
    setup.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    setup.events("sub", "seats", (utc(2024, 1, 10), {}))
    tick(database, utc(2024, 2, 1, 1))
    drafts = http.get("/invoices", params={"status[]": "draft"}).json()["invoices"]
    assert [(d["number"][-6:], d["fees_amount_cents"]) for d in drafts] == [("-DRAFT", 1_200)]
    draft_id = drafts[0]["lago_id"]
    assert drafts[0]["issuing_date"] == "2024-02-04"  # billing day + grace
    refused = http.put(f"/invoices/{draft_id}", json={"invoice": {"payment_status": "succeeded"}})
    assert (refused.status_code, refused.json()["code"]) == (
        405, "payment_status_update_on_draft_invoice",
    )  # fmt: skip
    assert http.post(f"/invoices/{draft_id}/void").json()["code"] == "not_voidable"
    # A late event of January is counted when the draft is refreshed.
    setup.events("sub", "seats", (utc(2024, 1, 31, 23), {}))
    refreshed = http.put(f"/invoices/{draft_id}/refresh").json()["invoice"]
    assert (refreshed["status"], refreshed["fees_amount_cents"]) == ("draft", 1_400)
    finalized = http.put(f"/invoices/{draft_id}/finalize").json()["invoice"]
    assert finalized["status"] == "finalized" and finalized["number"].endswith("-001-001")
    assert finalized["fees_amount_cents"] == 1_400
    assert [p["invoicing_reason"] for p in finalized["billing_periods"]] == [
        "subscription_periodic"
    ]
    assert finalized["billing_periods"][0]["charges_from_datetime"] == "2024-01-01T00:00:00Z"
    assert finalized["billing_periods"][0]["charges_to_datetime"] == "2024-01-31T23:59:59Z"
    # The server's clock is past the grace period: the issuing date stays billing day + grace.
    assert finalized["issuing_date"] == "2024-02-04"
    again = http.put(f"/invoices/{draft_id}/finalize")
    assert (again.status_code, again.json()["code"]) == (404, "invoice_not_found")
    unchanged = http.put(f"/invoices/{draft_id}/refresh").json()["invoice"]
    assert unchanged["fees_amount_cents"] == 1_400
    # The clock later finds nothing left to finalize.
    assert tick(database, utc(2024, 2, 5, 1)).billing.finalized == []


def test_failed_invoice_is_shown_with_its_error_and_retried_by_hand(
    database: Database, org: Org, lago: Client, http: httpx.Client
) -> None:
    # A trial whose end is past year 9999, stored before the API bounded trial_period.
    setup = Setup(database, org)
    setup.plan("p", [], amount_cents=1_000)
    setup.customer("cus", timezone="UTC")
    setup.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    with database.transaction() as session:
        session.execute(
            update(Plan).where(Plan.organization_id == org.id).values(trial_period=99_999_999)
        )
        customer_id = session.scalars(
            select(Customer.id).where(Customer.organization_id == org.id)
        ).one()
    scope = Scope(customer_id, org.id)  # the shared database: this customer only
    report = tick(database, utc(2024, 2, 1, 1), scope)
    assert [failure.error for failure in report.failures] == [DATE_ERROR]

    [listed] = http.get("/invoices", params={"status": "failed"}).json()["invoices"]
    assert listed["error_details"][0]["details"] == {"error": DATE_ERROR}
    invoice = lago.invoices.find(listed["lago_id"])
    assert (invoice.status, invoice.number[-6:]) == ("failed", "-DRAFT")
    assert invoice.sequential_id is None
    assert (invoice.total_amount_cents, invoice.fees.__root__) == (0, [])
    [error] = invoice.error_details.__root__
    assert (error.error_code, error.details) == ("invoice_generation_error", {"error": DATE_ERROR})
    [period] = invoice.billing_periods.__root__
    assert (period.invoicing_reason, period.charges_from_datetime) == (
        "subscription_periodic", "2024-01-01T00:00:00Z")  # fmt: skip
    # Nothing to pay on an invoice that was not generated.
    refused = http.put(f"/invoices/{invoice.lago_id}",
                       json={"invoice": {"payment_status": "succeeded"}})  # fmt: skip
    assert (refused.status_code, refused.json()["code"]) == (405, "invalid_status")

    # Retried while the cause is still there: still failed, the error noted again.
    again = http.post(f"/invoices/{invoice.lago_id}/retry")
    assert again.status_code == 200
    still = again.json()["invoice"]
    assert (still["status"], still["error_details"][0]["details"]) == (
        "failed", {"error": DATE_ERROR})  # fmt: skip
    with database.transaction() as session:
        session.execute(update(Plan).where(Plan.organization_id == org.id).values(trial_period=0))
    retried = lago.invoices.retry(invoice.lago_id)
    assert (retried.lago_id, retried.status, retried.number[-8:]) == (
        invoice.lago_id, "finalized", "-001-001")  # fmt: skip
    assert (retried.total_amount_cents, retried.issuing_date) == (1_000, "2024-02-01")
    assert retried.error_details.__root__ == []
    # Only a failed invoice can be retried; the clock finds nothing left to do.
    refused = http.post(f"/invoices/{invoice.lago_id}/retry")
    assert (refused.status_code, refused.json()) == (
        405, {"status": 405, "error": "Method Not Allowed", "code": "invalid_status"})  # fmt: skip
    later = tick(database, utc(2024, 2, 1, 2), scope)
    assert (later.failures, later.billing.retried, later.billing.invoices) == ([], [], [])
    listed = http.get("/invoices", params={"external_customer_id": "cus"}).json()["invoices"]
    assert [item["lago_id"] for item in listed] == [invoice.lago_id]
