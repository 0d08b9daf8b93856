"""The credit note form on Lago's E15 invoice (375.70 EUR: 179.00 + 10 % VAT and 399.00
less a 250.00 coupon + 10 % + 10 %; 12.00 paid): the invoice's figures, the live
estimate equal to the API's, the refusals in words with nothing written, and issuing a
note with a refund allocation read back through the API."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from meterbill.core.db import Database
from meterbill.credit_notes.models import CreditNote
from meterbill.dashboard.formats import money
from tests.conftest import Org
from tests.dashboard_credit_notes.conftest import E15, Web, text_of
from tests.scenarios.billing import Billing
from tests.scenarios.credit_notes import record_payment


def figures(html: str) -> dict[str, str]:
    """The totals block's figures by name (data-figure), as shown."""
    return dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', html))


def form(invoice: E15, items: dict[Any, str], **fields: str) -> list[tuple[str, str]]:
    """The form as a browser submits it: ticked items with their amounts."""
    pairs = [("reason", fields.pop("reason", "order_change"))]
    for fee, amount in items.items():
        pairs += [(f"item-{fee}-checked", "on"), (f"item-{fee}-amount", amount)]
    return pairs + list(fields.items())


def api_estimate(http: httpx.Client, invoice: E15, items: dict[Any, int]) -> dict[str, Any]:
    lines = [{"fee_id": str(fee), "amount_cents": amount} for fee, amount in items.items()]
    response = http.post("/credit_notes/estimate", json={"credit_note": {
        "invoice_id": str(invoice.invoice_id), "items": lines}})  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["estimated_credit_note"]  # type: ignore[no-any-return]


def notes_count(database: Database, invoice: E15) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(
            select(func.count()).select_from(CreditNote).where(
                CreditNote.invoice_id == invoice.invoice_id)
        ) or 0  # fmt: skip


def test_the_form_shows_the_invoice_and_its_items_by_subscription(web: Web, invoice: E15) -> None:
    page = web.get(f"/invoices/{invoice.invoice_id}/credit-notes/new")
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    assert f"Issue a credit note on {invoice.number}" in text
    # 179.00 + 17.90 and 149.00 + 29.80: 375.70, of which 12.00 paid.
    assert "Total amount €375.70" in text and "Already paid €12.00" in text
    assert "Amount due €363.70" in text
    assert "Max creditable €375.70" in text and "Max refundable €12.00" in text
    for label in ("Duplicate charge", "Fraudulent charge", "Cancellation", "Order change",
                  "Other", "Unsatisfactory product"):  # fmt: skip
        assert f">{label}</option>" in page.text
    # One table per subscription, named after its plan, each fee's creditable amount.
    assert sorted(re.findall(r"<caption>([^<]+)</caption>", page.text)) == ["p1", "p2"]
    assert f'name="item-{invoice.fee_p1}-amount" value="179.00"' in page.text
    assert f'name="item-{invoice.fee_p2}-amount" value="399.00"' in page.text
    assert "Tick the items to credit" in text


def test_the_estimate_fragment_is_the_apis_estimate(
    web: Web, http: httpx.Client, invoice: E15
) -> None:
    url = f"/invoices/{invoice.invoice_id}/credit-notes/estimate"
    # 262.60 of the 399.00 fee carries 262.60 x 250 / 399 = 164.54 of the coupon: 98.06,
    # + 10 % + 10 % = 19.61 (19.612): 117.67 (billing.md E15).
    fragment = web.post(url, form(invoice, {invoice.fee_p2: "262.60"}), htmx=True)
    assert fragment.status_code == 200, fragment.text
    shown = figures(fragment.text)
    assert (shown["coupons"], shown["sub_total"], shown["taxes"], shown["total"]) == (
        "-€164.54", "€98.06", "€19.61", "€117.67")  # fmt: skip
    # Both fees: the same figures as the API's estimate, tax by tax, to the cent.
    typed = {invoice.fee_p1: "100.00", invoice.fee_p2: "262.60"}
    shown = figures(web.post(url, form(invoice, typed), htmx=True).text)
    api = api_estimate(http, invoice, {invoice.fee_p1: 10_000, invoice.fee_p2: 26_260})
    assert shown["coupons"] == "-" + money(api["coupons_adjustment_amount_cents"], "EUR")
    assert shown["sub_total"] == money(api["sub_total_excluding_taxes_amount_cents"], "EUR")
    assert shown["taxes"] == money(api["taxes_amount_cents"], "EUR")
    assert shown["total"] == money(api["max_creditable_amount_cents"], "EUR")
    assert {key: value for key, value in shown.items() if key.startswith("tax-")} == {
        f"tax-{tax['tax_code']}": money(tax["amount_cents"], "EUR") for tax in api["applied_taxes"]
    }
    # 100.00 + 98.06 = 198.06; VAT 10.00, tax_a and tax_b 9.806 each: 29.61 → 227.67.
    assert (shown["sub_total"], shown["taxes"], shown["total"]) == (
        "€198.06", "€29.61", "€227.67")  # fmt: skip
    assert "Refund up to €12.00" in text_of(web.post(url, form(invoice, typed), htmx=True).text)


def test_without_javascript_compute_totals_renders_the_same_estimate(
    web: Web, invoice: E15
) -> None:
    url = f"/invoices/{invoice.invoice_id}/credit-notes/new"
    page = web.post(url, form(invoice, {invoice.fee_p2: "262.60"}, action="compute",
                              refund_amount="12", credit_amount="105.67"))  # fmt: skip
    assert page.status_code == 200
    shown = figures(page.text)
    assert (shown["total"], shown["allocated"].split(":")[0].strip()) == (
        "€117.67", "Allocated €117.67 of €117.67")  # fmt: skip
    # The values typed are kept.
    assert 'name="refund_amount" type="text" value="12"' in page.text


@pytest.mark.parametrize(
    ("items", "allocation", "field", "words"),
    [
        # 400.00 on the 399.00 fee.
        ("400", {"credit_amount": "150"}, "item-p2", "Amount cannot exceed €399.00"),
        # 117.67 is due; 100.00 allocated.
        ("262.60", {"credit_amount": "100"}, "allocation",
         "Allocation do not match credit note amount"),
        # 12.00 was paid; 13.00 asked.
        ("262.60", {"refund_amount": "13", "credit_amount": "104.67"}, "refund_amount",
         "Refund cannot exceed the amount paid (€12.00)"),
        ("-5", {"credit_amount": "1"}, "item-p2", "This amount cannot be negative."),
        ("abc", {}, "item-p2", "Type an amount, like 12.50."),
    ],
)  # fmt: skip
def test_a_refused_note_is_shown_under_its_field_and_nothing_is_written(
    web: Web, database: Database, invoice: E15, items: str, allocation: dict[str, str],
    field: str, words: str,
) -> None:  # fmt: skip
    url = f"/invoices/{invoice.invoice_id}/credit-notes/new"
    response = web.post(url, form(invoice, {invoice.fee_p2: items}, **allocation))
    assert response.status_code == 422, response.text
    field_id = f"f-item-{invoice.fee_p2}" if field == "item-p2" else f"f-{field}"
    if field == "allocation":
        field_id = "allocation"
    assert re.search(rf'id="{field_id}-error"[^>]*>{re.escape(words)}<', response.text), words
    assert notes_count(database, invoice) == 0
    # What was typed is kept.
    assert f'name="item-{invoice.fee_p2}-amount" value="{items}"' in response.text


def test_a_reason_is_required(web: Web, database: Database, invoice: E15) -> None:
    url = f"/invoices/{invoice.invoice_id}/credit-notes/new"
    response = web.post(url, form(invoice, {invoice.fee_p2: "10"}, reason="",
                                  credit_amount="10"))  # fmt: skip
    assert response.status_code == 422
    assert 'id="f-reason-error">Choose a reason.<' in response.text
    response = web.post(url, form(invoice, {}, credit_amount="10"))
    assert response.status_code == 422
    assert 'id="items-error" role="alert">Tick at least one item to credit.<' in response.text
    assert notes_count(database, invoice) == 0


def test_issue_a_credit_note_with_a_refund(
    web: Web, http: httpx.Client, database: Database, invoice: E15
) -> None:
    url = f"/invoices/{invoice.invoice_id}/credit-notes/new"
    response = web.post(url, form(invoice, {invoice.fee_p2: "262.60"}, reason="order_change",
                                  description="Seats removed", refund_amount="12.00",
                                  credit_amount="105.67", action="create"))  # fmt: skip
    assert response.status_code == 303, response.text
    target = response.headers["location"]
    note_id = target.removeprefix("/credit-notes/")
    page = web.get(target, cookies=response.cookies)
    assert "Credit note successfully issued" in page.text
    note = http.get(f"/credit_notes/{note_id}").json()["credit_note"]
    assert (note["sub_total_excluding_taxes_amount_cents"], note["taxes_amount_cents"],
            note["coupons_adjustment_amount_cents"], note["total_amount_cents"]) == (
        98_06, 19_61, 164_54, 117_67)  # fmt: skip
    assert (note["refund_amount_cents"], note["credit_amount_cents"],
            note["offset_amount_cents"], note["balance_amount_cents"]) == (
        12_00, 105_67, 0, 105_67)  # fmt: skip
    assert (note["reason"], note["description"], note["refund_status"]) == (
        "order_change", "Seats removed", "pending")  # fmt: skip
    assert [(item["fee"]["lago_id"], item["amount_cents"]) for item in note["items"]] == [
        (str(invoice.fee_p2), 262_60)]  # fmt: skip
    assert notes_count(database, invoice) == 1
    # The note's page and the list show the API's figures.
    shown = figures(page.text)
    assert (shown["sub_total"], shown["taxes"], shown["total"], shown["coupons"]) == (
        "€98.06", "€19.61", "€117.67", "-€164.54")  # fmt: skip
    assert (shown["refund"], shown["credit"], shown["offset"], shown["balance"]) == (
        "€12.00", "€105.67", "€0.00", "€105.67")  # fmt: skip
    text = text_of(page.text)
    assert f"{invoice.number}-CN001" in text and "Order change" in text
    assert f'href="/invoices/{invoice.invoice_id}"' in page.text
    listing = text_of(web.get("/credit-notes").text)
    assert f"{invoice.number}-CN001 cus {invoice.number} available pending €117.67" in listing
    # Nothing more can be refunded: what was paid went back.
    again = web.post(url, form(invoice, {invoice.fee_p1: "10"}, refund_amount="11"))
    assert "Refund cannot exceed the amount paid (€0.00)" in again.text


def test_a_voided_invoice_has_no_credit_note_form(
    web: Web, http: httpx.Client, invoice: E15
) -> None:
    assert http.post(f"/invoices/{invoice.invoice_id}/void", json={}).status_code == 200
    page = web.get(f"/invoices/{invoice.invoice_id}/credit-notes/new")
    assert page.status_code == 422
    assert "Credit notes are issued on finalized invoices only" in page.text
    fragment = web.post(f"/invoices/{invoice.invoice_id}/credit-notes/estimate",
                        form(invoice, {invoice.fee_p1: "10"}), htmx=True)  # fmt: skip
    assert "This invoice can no longer be credited: reload the page." in fragment.text
    response = web.post(f"/invoices/{invoice.invoice_id}/credit-notes/new",
                        form(invoice, {invoice.fee_p1: "10"}, credit_amount="11"))  # fmt: skip
    assert response.status_code == 422
    assert web.get("/invoices/00000000-0000-0000-0000-000000000000/credit-notes/new"
                   ).status_code == 404  # fmt: skip
    assert web.get("/invoices/not-a-uuid/credit-notes/new").status_code == 404


def test_an_offset_is_limited_to_what_is_due_and_reduces_it(
    web: Web, http: httpx.Client, database: Database, org: Org, invoice: E15
) -> None:
    # 12.00 + 358.00 paid of 375.70: 5.70 is still due.
    record_payment(Billing(database, org), invoice.invoice_id, 358_00)
    url = f"/invoices/{invoice.invoice_id}/credit-notes/new"
    page = text_of(web.get(url).text)
    assert "Already paid €370.00" in page and "Amount due €5.70" in page
    # 10.00 of the 179.00 fee + 10 % VAT: 11.00, of which 6.00 offset.
    refused = web.post(url, form(invoice, {invoice.fee_p1: "10"}, offset_amount="6",
                                 credit_amount="5"))  # fmt: skip
    assert refused.status_code == 422
    assert 'id="f-offset_amount-error">Offset cannot exceed the amount due (€5.70)<' in (
        refused.text
    )
    assert notes_count(database, invoice) == 0
    issued = web.post(url, form(invoice, {invoice.fee_p1: "10"}, offset_amount="5.70",
                                refund_amount="5.30"))  # fmt: skip
    assert issued.status_code == 303, issued.text
    found = http.get(f"/invoices/{invoice.invoice_id}").json()["invoice"]
    assert (found["total_due_amount_cents"], found["payment_status"]) == (0, "succeeded")
    note = http.get(f"/credit_notes/{issued.headers['location'].rsplit('/', 1)[1]}").json()
    assert (note["credit_note"]["offset_amount_cents"],
            note["credit_note"]["refund_amount_cents"]) == (5_70, 5_30)  # fmt: skip
