"""Credit notes through the official client and raw HTTP: issue, estimate, list with
filters, refund status, void, the customer's list, termination options on DELETE,
the invoice's offset and due amounts, and every refusal as Lago's envelope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.credit_note import (
    CreditNote,
    CreditNoteEstimate,
    CreditNoteUpdate,
    Item,
    Items,
)
from lago_python_client.models.payment import Payment
from lago_python_client.models.subscription import Subscription

from meterbill.core.db import Database
from tests.conftest import make_org

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def items(fee_id: str, amount: int) -> Items:
    return Items(__root__=[Item(fee_id=fee_id, amount_cents=amount)])


def test_issue_find_list_update_void(lago: Client, invoice: Any) -> None:
    fee_id = invoice.fees.__root__[0].lago_id
    estimate = lago.credit_notes.estimate(
        CreditNoteEstimate(invoice_id=invoice.lago_id, items=items(fee_id, 2_500))
    )
    assert (estimate.sub_total_excluding_taxes_amount_cents, estimate.taxes_amount_cents) == (
        2_500, 500)  # fmt: skip
    assert (estimate.max_creditable_amount_cents, estimate.max_refundable_amount_cents) == (
        3_000, 0)  # fmt: skip
    assert estimate.max_offsettable_amount_cents == 3_000
    assert estimate.taxes_rate == 20.0 and estimate.invoice_number == invoice.number
    [tax] = estimate.applied_taxes.__root__
    assert (tax.tax_code, tax.amount_cents, tax.base_amount_cents) == ("vat", 500, 2_500)
    note = lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, reason="duplicated_charge", description="Oops",
                   credit_amount_cents=3_000, items=items(fee_id, 2_500),
                   metadata={"ticket": "T-1"})
    )  # fmt: skip
    assert note.number == f"{invoice.number}-CN001" and note.sequential_id == 1
    assert (note.credit_status, note.refund_status, note.reason) == (
        "available", None, "duplicated_charge")  # fmt: skip
    assert (note.total_amount_cents, note.credit_amount_cents, note.balance_amount_cents) == (
        3_000, 3_000, 3_000)  # fmt: skip
    assert (note.taxes_amount_cents, note.sub_total_excluding_taxes_amount_cents) == (500, 2_500)
    assert note.lago_invoice_id == invoice.lago_id and note.invoice_number == invoice.number
    [item] = note.items.__root__
    assert (item.amount_cents, item.fee.lago_id) == (2_500, fee_id)
    assert note.customer.external_id == "cus" and note.metadata == {"ticket": "T-1"}
    assert lago.credit_notes.find(note.lago_id).number == note.number
    listed = lago.credit_notes.find_all({"external_customer_id": "cus"})
    assert [n.lago_id for n in listed["credit_notes"]] == [note.lago_id]
    assert listed["meta"]["total_count"] == 1
    for options in ({"reason": "other"}, {"credit_status": "voided"}, {"amount_from": 3_001},
                    {"invoice_number": "nope"}, {"external_customer_id": "other"},
                    {"search_term": "zzz"}, {"issuing_date_to": "2000-01-01"}):  # fmt: skip
        assert lago.credit_notes.find_all(options)["credit_notes"] == [], options
    for options in ({"reason": "duplicated_charge"}, {"credit_status": "available"},
                    {"amount_to": 3_000}, {"invoice_number": invoice.number},
                    {"search_term": "jane"}, {"currency": "EUR"}):  # fmt: skip
        assert len(lago.credit_notes.find_all(options)["credit_notes"]) == 1, options
    updated = lago.credit_notes.update(CreditNoteUpdate(refund_status="failed"), note.lago_id)
    assert updated.refund_status == "failed"
    voided = lago.credit_notes.void(note.lago_id)
    assert (voided.credit_status, voided.balance_amount_cents) == ("voided", 0)
    with pytest.raises(LagoApiError) as refused:
        lago.credit_notes.void(note.lago_id)
    assert refused.value.status_code == 405


def test_an_offset_that_covers_what_is_due_settles_the_invoice(
    lago: Client, http: httpx.Client, invoice: Any
) -> None:
    fee_id = invoice.fees.__root__[0].lago_id
    lago.payments.create(Payment(invoice_id=invoice.lago_id, amount_cents=6_000, reference="r1"))
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_due_amount_cents) == ("pending", 6_000)
    # 5 000 of the fee + 1 000 VAT, offset: nothing is due any more, so it is paid.
    lago.credit_notes.create(CreditNote(invoice_id=invoice.lago_id, offset_amount_cents=6_000,
                                        items=items(fee_id, 5_000)))  # fmt: skip
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_due_amount_cents, found.total_paid_amount_cents) == (
        "succeeded", 0, 6_000)  # fmt: skip
    # Only what was paid can be refunded.
    estimate = lago.credit_notes.estimate(
        CreditNoteEstimate(invoice_id=invoice.lago_id, items=items(fee_id, 5_000)))  # fmt: skip
    assert estimate.max_refundable_amount_cents == 6_000


def test_marked_paid_by_hand_after_an_offset_pays_only_what_was_due(
    lago: Client, http: httpx.Client, invoice: Any
) -> None:
    fee_id = invoice.fees.__root__[0].lago_id
    lago.credit_notes.create(CreditNote(invoice_id=invoice.lago_id, offset_amount_cents=3_600,
                                        items=items(fee_id, 3_000)))  # fmt: skip
    http.put(f"/invoices/{invoice.lago_id}", json={"invoice": {"payment_status": "succeeded"}})
    found = lago.invoices.find(invoice.lago_id)
    assert (found.total_paid_amount_cents, found.total_due_amount_cents) == (8_400, 0)
    response = http.post("/credit_notes", json={"credit_note": {
        "invoice_id": invoice.lago_id, "refund_amount_cents": 8_401,
        "items": [{"fee_id": fee_id, "amount_cents": 7_000}]}})  # fmt: skip
    assert response.json()["error_details"] == {
        "refund_amount_cents": ["higher_than_remaining_invoice_amount"]}  # fmt: skip


def test_refund_offset_and_the_invoice_amounts(
    lago: Client, http: httpx.Client, invoice: Any
) -> None:
    fee_id = invoice.fees.__root__[0].lago_id
    # Unpaid: an offset takes 6 000 off what is due.
    lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, offset_amount_cents=6_000,
                   items=items(fee_id, 5_000))
    )  # fmt: skip
    found = lago.invoices.find(invoice.lago_id)
    assert found.total_offsetted_credit_note_amount_cents == 6_000
    assert (found.total_amount_cents, found.total_due_amount_cents) == (12_000, 6_000)
    response = http.post("/credit_notes", json={"credit_note": {
        "invoice_id": invoice.lago_id, "refund_amount_cents": 1_200,
        "items": [{"fee_id": fee_id, "amount_cents": 1_000}]}})  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error_details"] == {
        "refund_amount_cents": ["cannot_refund_unpaid_invoice"]}  # fmt: skip
    http.put(f"/invoices/{invoice.lago_id}", json={"invoice": {"payment_status": "succeeded"}})
    refund = lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, refund_amount_cents=1_200,
                   items=items(fee_id, 1_000))
    )  # fmt: skip
    assert (refund.refund_status, refund.balance_amount_cents) == ("pending", 0)
    assert (
        lago.credit_notes.update(
            CreditNoteUpdate(refund_status="succeeded"), refund.lago_id
        ).refund_status
        == "succeeded"
    )
    response = http.put(f"/credit_notes/{refund.lago_id}/void")
    assert response.status_code == 405
    assert response.json() == {"status": 405, "error": "Method Not Allowed",
                               "code": "no_voidable_amount"}  # fmt: skip
    listed = http.get("/customers/cus/credit_notes", params={"refund_status": "succeeded"})
    assert [n["lago_id"] for n in listed.json()["credit_notes"]] == [refund.lago_id]
    assert http.get("/customers/nobody/credit_notes").status_code == 404
    # An invoice with standing credit notes cannot be voided.
    assert http.post(f"/invoices/{invoice.lago_id}/void").status_code == 405


def test_refusals_are_lago_envelopes(
    http: httpx.Client, invoice: Any, server: str, database: Database
) -> None:
    fee_id = invoice.fees.__root__[0].lago_id
    fee_left = {"amount_cents": ["higher_than_remaining_fee_amount"]}

    def post(body: Any, path: str = "/credit_notes") -> httpx.Response:
        return http.post(path, json=body)

    def note(**fields: Any) -> dict[str, Any]:
        return {
            "credit_note": {
                "invoice_id": invoice.lago_id,
                "credit_amount_cents": 1_200,
                "items": [{"fee_id": fee_id, "amount_cents": 1_000}],
                **fields,
            }
        }

    cases: list[tuple[dict[str, Any], int, dict[str, Any]]] = [
        (note(items=[{"fee_id": invoice.lago_id, "amount_cents": 1}]), 404,
         {"status": 404, "error": "Not Found", "code": "fee_not_found"}),
        (note(invoice_id="00000000-0000-0000-0000-000000000000"), 404,
         {"status": 404, "error": "Not Found", "code": "invoice_not_found"}),
        (note(items=[{"fee_id": fee_id, "amount_cents": -5}], credit_amount_cents=0), 422,
         {**UNPROCESSABLE, "error_details": {"amount_cents": ["invalid_value"]}}),
        (note(items=[{"fee_id": fee_id, "amount_cents": 10_001}]), 422,
         {**UNPROCESSABLE, "error_details": fee_left}),
        (note(credit_amount_cents=1_000), 422,
         {**UNPROCESSABLE, "error_details": {"base": ["does_not_match_item_amounts"]}}),
        (note(items="fee"), 422,
         {**UNPROCESSABLE, "error_details": {"items": ["must_be_an_array"]}}),
        (note(reason="bored"), 422,
         {**UNPROCESSABLE, "error_details": {"reason": ["value_is_invalid"]}}),
        (note(credit_amount_cents="lots"), 422,
         {**UNPROCESSABLE, "error_details": {"credit_amount_cents": ["value_is_invalid"]}}),
        (note(metadata=["x"]), 422,
         {**UNPROCESSABLE, "error_details": {"metadata": ["value_is_invalid"]}}),
    ]  # fmt: skip
    for body, status, expected in cases:
        response = post(body)
        assert (response.status_code, response.json()) == (status, expected), body
    assert post({"nothing": 1}).status_code == 400
    assert post([1, 2]).status_code == 400
    estimate = post({"credit_note": {"invoice_id": invoice.lago_id,
                                     "items": [{"fee_id": "x", "amount_cents": 1}]}},
                    "/credit_notes/estimate")  # fmt: skip
    assert (estimate.status_code, estimate.json()["code"]) == (404, "fee_not_found")
    assert http.get("/credit_notes", params={"credit_status": "lost"}).status_code == 422
    assert http.get("/credit_notes", params={"issuing_date_from": "soon"}).status_code == 422
    assert http.get("/credit_notes/not-an-id").json()["code"] == "credit_note_not_found"
    response = http.put("/credit_notes/00000000-0000-0000-0000-000000000000/void")
    assert response.status_code == 404
    assert http.get("/credit_notes").json()["credit_notes"] == []
    # Another organization's credit note is not found.
    created = post(note()).json()["credit_note"]
    other = make_org(database, "Other Inc")
    headers = {"Authorization": f"Bearer {other.api_key}"}
    with httpx.Client(base_url=server + "/api/v1", headers=headers, timeout=30) as stranger:
        response = stranger.get(f"/credit_notes/{created['lago_id']}")
        assert (response.status_code, response.json()["code"]) == (404, "credit_note_not_found")
        assert stranger.get("/credit_notes").json()["credit_notes"] == []
        response = stranger.post("/credit_notes", json=note())
        assert (response.status_code, response.json()["code"]) == (404, "invoice_not_found")
    response = http.put(f"/credit_notes/{created['lago_id']}",
                        json={"credit_note": {"refund_status": "maybe"}})  # fmt: skip
    assert (response.status_code, response.json()["error_details"]) == (
        422, {"refund_status": ["value_is_invalid"]})  # fmt: skip


def test_metadata(lago: Client, invoice: Any) -> None:
    fee_id = invoice.fees.__root__[0].lago_id
    note = lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, credit_amount_cents=120,
                   items=items(fee_id, 100), metadata={"a": "1"})
    )  # fmt: skip
    assert lago.credit_notes.merge_metadata(note.lago_id, {"b": "2"}) == {"a": "1", "b": "2"}
    assert lago.credit_notes.delete_metadata_key(note.lago_id, "a") == {"b": "2"}
    assert lago.credit_notes.replace_metadata(note.lago_id, {"c": None}) == {"c": None}
    # As Lago: null once none is left, and no key to remove where there is no metadata.
    assert lago.credit_notes.delete_all_metadata(note.lago_id) is None
    with pytest.raises(LagoApiError) as refused:
        lago.credit_notes.delete_metadata_key(note.lago_id, "c")
    assert (refused.value.status_code, refused.value.response["code"]) == (
        404, "metadata_not_found")  # fmt: skip
    assert lago.credit_notes.find(note.lago_id).metadata is None


def test_termination_option_sent_with_delete(lago: Client, http: httpx.Client) -> None:
    http.post("/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": 20,
                                      "applied_to_organization": True}})  # fmt: skip
    plan = {"name": "Adv", "code": "adv", "interval": "monthly", "amount_cents": 3_000,
            "amount_currency": "EUR", "pay_in_advance": True}  # fmt: skip
    assert http.post("/plans", json={"plan": plan}).status_code == 200
    assert http.post("/customers", json={"customer": {"external_id": "cus"}}).status_code == 200
    lago.subscriptions.create(
        Subscription(external_customer_id="cus", plan_code="adv", external_id="sub",
                     billing_time="anniversary")
    )  # fmt: skip
    [start] = lago.invoices.find_all({"external_customer_id": "cus"})["invoices"]
    assert start.total_amount_cents == 3_600
    http.put(f"/invoices/{start.lago_id}", json={"invoice": {"payment_status": "succeeded"}})
    response = http.delete("/subscriptions/sub", params={"on_termination_credit_note": "maybe"})
    assert response.status_code == 422
    lago.subscriptions.destroy("sub", {"on_termination_credit_note": "refund"})
    [note] = lago.credit_notes.find_all({"external_customer_id": "cus"})["credit_notes"]
    # Anniversary: the whole period less its first day is unused, all of it paid: refunded.
    assert (note.reason, note.lago_invoice_id, note.credit_amount_cents) == (
        "order_cancellation", start.lago_id, 0)  # fmt: skip
    assert note.refund_amount_cents == note.total_amount_cents > 0
    assert note.total_amount_cents == note.sub_total_excluding_taxes_amount_cents + (
        note.taxes_amount_cents)  # fmt: skip
    assert note.refund_status == "pending"
    subscription = http.get("/subscriptions/sub", params={"status": "terminated"}).json()
    assert subscription["subscription"]["on_termination_credit_note"] == "refund"
