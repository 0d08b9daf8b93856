"""An invoice's page: the API's figures with the lines that explain each charge, and its
actions — finalize a draft, update the payment status, record a payment, void through
the void page — each refused to a member whose role lacks its permission."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from meterbill.core.db import Database
from meterbill.dashboard.formats import money
from meterbill.users import roles
from tests.conftest import Org
from tests.dashboard.conftest import csrf_of, log_in, make_user
from tests.dashboard.test_customer_pages import rest
from tests.dashboard_actions.conftest import text_of
from tests.dashboard_invoices.conftest import Invoices, invoice_ids, one_off, run_clock, utc
from tests.db.test_current_usage import Setup


def post(client: TestClient, path: str, data: dict[str, str] | None = None) -> Any:
    token = csrf_of(client.get("/invoices").text)
    return client.post(path, data={"csrf_token": token, **(data or {})}, follow_redirects=False)


def api_invoice(client: TestClient, org: Org, invoice_id: str) -> dict[str, Any]:
    return rest(client, org, "GET", f"/invoices/{invoice_id}")["invoice"]  # type: ignore[no-any-return]


def section(html: str, marker: str, end: str = "</section>") -> str:
    start = html.index(marker) + len(marker)
    return html[start : html.index(end, start)]


@pytest.fixture
def draft(client: TestClient, database: Database, org: Org) -> str:
    """A January draft of a plan with a graduated and a package charge, taxed at 20 %
    (the tax named "vat")."""
    setup = Setup(database, org)
    setup.tax("vat", "20")
    calls, uploads = setup.metric("calls"), setup.metric("uploads")
    graduated = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
            {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "2"},
        ]
    }
    package = {"amount": "5", "package_size": 10, "free_units": 5}
    setup.plan("scale", [
        {"billable_metric_id": calls, "charge_model": "graduated", "properties": graduated},
        {"billable_metric_id": uploads, "charge_model": "package", "properties": package},
    ], amount_cents=1_000, tax_codes=["vat"])  # fmt: skip
    setup.customer("hooli", name="Hooli", legal_name="Hooli Inc.", currency="EUR",
                   tax_identification_number="FR40123456789", email="ap@hooli.test",
                   address_line1="1 Main Street", city="Paris", zipcode="75001",
                   country="FR", invoice_grace_period=3, timezone="UTC")  # fmt: skip
    setup.subscribe("hooli", "scale", "hooli-sub", utc(2032, 1, 1))
    setup.events("hooli-sub", "calls", *[(utc(2032, 1, 2, 1, minute), {}) for minute in range(15)])
    setup.events(
        "hooli-sub", "uploads", *[(utc(2032, 1, 3, 1, minute), {}) for minute in range(25)]
    )
    run_clock(database, org, "hooli", utc(2032, 2, 1, 1))
    [listed] = rest(client, org, "GET", "/invoices?external_customer_id=hooli")["invoices"]
    return str(listed["lago_id"])


def rows_of(html: str) -> list[str]:
    details = section(html, 'id="details-title"')
    body = [part.split("</tr>")[0] for part in details.split("<tr class=")[1:]]
    return [text_of("<x " + row) for row in body]


def test_the_page_shows_the_apis_figures_and_explains_each_charge(
    client: TestClient, org: Org, draft: str
) -> None:
    invoice = api_invoice(client, org, draft)
    # By hand: plan €10.00; calls 15 = 10 × €1 + 5 × €0.50 + €2 flat = €14.50; uploads
    # 25 − 5 free = 20 = 2 packages of 10 × €5 = €10.00; VAT 20 % of €34.50 = €6.90.
    fees = {fee["item"]["code"]: fee["amount_cents"] for fee in invoice["fees"]}
    assert fees == {"scale": 1_000, "calls": 1_450, "uploads": 1_000}
    assert (invoice["taxes_amount_cents"], invoice["total_amount_cents"]) == (690, 4_140)

    page = client.get(f"/invoices/{draft}").text
    header = text_of(section(page, '<header class="page-header">', "</header>"))
    assert header.startswith(f"{invoice['number']} for {money(4_140, 'EUR')} · draft")
    facts = text_of(section(page, 'id="facts-title"'))
    for fact in ("Customer Hooli", "External ID hooli", "Legal name Hooli Inc.",
                 "Email ap@hooli.test", "Tax ID number FR40123456789",
                 f"Invoice number {invoice['number']}", "Issuing date Feb 4, 2032",
                 "Due date Feb 4, 2032", "Invoice status draft", "Payment status n/a"):  # fmt: skip
        assert fact in facts, fact
    assert "1 Main Street" in facts and "75001 Paris" in facts
    assert rows_of(page) == [
        "Monthly subscription – scale 1 €10.00 20% €10.00",
        "Calls",
        "Fee per unit for the first 10 10 €1.00 €10.00",
        "Fee per unit for 11 and above 5 €0.50 €2.50",
        "Flat fee for 11 and above 1 €2.00 €2.00",
        "Subtotal 15 20% €14.50",
        "Uploads",
        "Free units for the first 5 5 €0.00 €0.00",
        "Fee per package 20 €5.00 per 10 units €10.00",
        "Subtotal 25 20% €10.00",
    ]
    totals = text_of(section(page, 'id="invoice-totals">', "</dl>"))
    assert totals == (
        f"Subtotal (excl. tax) {money(invoice['sub_total_excluding_taxes_amount_cents'], 'EUR')} "
        f"vat (20% on €34.50) {money(invoice['taxes_amount_cents'], 'EUR')} "
        f"Subtotal (incl. tax) {money(invoice['sub_total_including_taxes_amount_cents'], 'EUR')} "
        f"Total {money(invoice['total_amount_cents'], 'EUR')}"
    )
    assert "Coupons, prepaid credits and credit notes apply at finalization" in page


def test_finalize_a_draft_from_its_page(client: TestClient, org: Org, draft: str) -> None:
    dialog = client.get(f"/invoices/{draft}/finalize")
    assert dialog.status_code == 200
    assert f'action="/invoices/{draft}/finalize"' in dialog.text
    refreshed = post(client, f"/invoices/{draft}/refresh")
    assert (refreshed.status_code, refreshed.headers["location"]) == (303, f"/invoices/{draft}")
    response = post(client, f"/invoices/{draft}/finalize")
    assert (response.status_code, response.headers["location"]) == (303, f"/invoices/{draft}")
    invoice = api_invoice(client, org, draft)
    assert (invoice["status"], invoice["total_amount_cents"]) == ("finalized", 4_140)
    assert not invoice["number"].endswith("DRAFT")
    page = client.get(f"/invoices/{draft}")
    assert "Invoice successfully finalized" in page.text
    status = text_of(section(page.text, 'id="invoice-status">', "</dd>"))
    assert status == "finalized"
    assert "Total due €41.40 Amount settled €0.00 Amount due €41.40" in text_of(page.text)
    assert draft not in invoice_ids(client.get("/invoices?status=draft").text)
    # Twice: the invoice is no longer a draft, said on the dialog, nothing changed.
    again = post(client, f"/invoices/{draft}/finalize")
    assert again.status_code == 422
    assert "This invoice is no longer a draft." in again.text


def test_void_an_invoice_through_the_void_page(
    client: TestClient, org: Org, invoices: Invoices
) -> None:
    target = invoices.pending  # globex, €50.00, finalized
    number = invoices.numbers[target]
    menu = client.get(f"/invoices/{target}").text
    assert f'<a href="/invoices/{target}/void" class="danger">Void invoice</a>' in menu
    page = client.get(f"/invoices/{target}/void").text
    shown = text_of(page)
    assert "Voiding an invoice is irreversible." in shown
    assert f"Void the invoice {number}" in shown
    assert (
        f"Invoice information Invoice number {number} Customer Globex Amount €50.00 "
        "Amount paid €0.00 Issuing date"
    ) in shown
    response = post(client, f"/invoices/{target}/void")
    assert (response.status_code, response.headers["location"]) == (303, f"/invoices/{target}")
    after = client.get(f"/invoices/{target}").text
    assert "Invoice successfully voided" in after
    assert text_of(section(after, 'id="invoice-status">', "</dd>")) == "voided"
    totals = text_of(section(after, 'id="invoice-totals">', "</dl>"))
    assert totals.endswith("Total €50.00")  # nothing settled, nothing due
    assert api_invoice(client, org, target)["status"] == "voided"
    assert target in invoice_ids(client.get("/invoices?status=voided").text)
    # Voided already: the page says why and offers no button; a replayed form is refused.
    again = client.get(f"/invoices/{target}/void").text
    assert "only a finalized invoice can be voided" in again
    assert f'action="/invoices/{target}/void"' not in again
    replay = post(client, f"/invoices/{target}/void")
    assert replay.status_code == 422
    assert "This invoice cannot be voided" in replay.text


def test_update_the_payment_status(client: TestClient, org: Org, invoices: Invoices) -> None:
    target = invoices.pending
    dialog = client.get(f"/invoices/{target}/payment-status").text
    assert 'value="pending" checked' in dialog
    refused = post(client, f"/invoices/{target}/payment-status", {"payment_status": "paid"})
    assert refused.status_code == 422
    assert "This value is not valid." in refused.text
    assert api_invoice(client, org, target)["payment_status"] == "pending"
    done = post(client, f"/invoices/{target}/payment-status", {"payment_status": "succeeded"})
    assert done.status_code == 303
    invoice = api_invoice(client, org, target)
    assert (invoice["payment_status"], invoice["total_due_amount_cents"]) == ("succeeded", 0)
    page = client.get(f"/invoices/{target}").text
    assert "Payment status successfully updated" in page
    assert text_of(section(page, 'id="payment-status">', "</dd>")) == "succeeded"
    assert "Amount settled €50.00 Amount due €0.00" in text_of(page)
    # A draft has no payment status to change.
    on_draft = post(client, f"/invoices/{invoices.draft}/payment-status",
                    {"payment_status": "succeeded"})  # fmt: skip
    assert on_draft.status_code == 422
    assert api_invoice(client, org, invoices.draft)["payment_status"] == "pending"


def test_record_a_payment(client: TestClient, org: Org, invoices: Invoices) -> None:
    target = invoices.pending  # €50.00 due
    form = client.get(f"/invoices/{target}/payments/new").text
    assert 'name="amount" type="text" value="50"' in form
    for data, field, message in (
        ({"amount": "60", "reference": "wire-1"}, "amount", "This value is out of range."),
        ({"amount": "abc", "reference": "wire-1"}, "amount", "This value is not valid."),
        ({"amount": "0", "reference": "wire-1"}, "amount", "This value must be greater than 0."),
        ({"amount": "20", "reference": ""}, "reference",
         "This value is mandatory to move forward."),
        ({"amount": "20", "reference": "x" * 41}, "reference", "This value is too long."),
        ({"amount": "20", "reference": "r", "paid_at": "2024-02-30"}, "paid_at",
         "This date is not valid."),
    ):  # fmt: skip
        refused = post(client, f"/invoices/{target}/payments/new", data)
        assert refused.status_code == 422, data
        assert f'<p class="error" id="f-{field}-error">{message}</p>' in refused.text, data
        assert f'value="{data["amount"]}"' in refused.text
    assert api_invoice(client, org, target)["total_paid_amount_cents"] == 0
    done = post(client, f"/invoices/{target}/payments/new",
                {"amount": "20.00", "reference": "wire-1", "paid_at": "2026-01-14"})  # fmt: skip
    assert (done.status_code, done.headers["location"]) == (303, f"/invoices/{target}")
    invoice = api_invoice(client, org, target)
    assert (invoice["total_paid_amount_cents"], invoice["total_due_amount_cents"]) == (2_000, 3_000)
    page = text_of(client.get(f"/invoices/{target}").text)
    assert "Payment successfully recorded" in page
    assert "Amount settled €20.00 Amount due €30.00" in page
    assert "Payments Reference Type Status Amount Date wire-1 Manual succeeded €20.00" in page


FORGED = [
    ("refresh", {}, "draft"),
    ("finalize", {}, "draft"),
    ("payment-status", {"payment_status": "succeeded"}, "pending"),
    ("payments/new", {"amount": "10", "reference": "forged"}, "pending"),
    ("void", {}, "pending"),
]


def test_forged_actions_of_a_member_without_the_permission_are_refused(
    browser_client: TestClient, database: Database, org: Org, invoices: Invoices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Lago's finance role holds the invoice permissions; a role without them (as a custom
    # role would be) sees no action and is refused each one, whatever it posts.
    for permission in ("invoices:update", "invoices:void", "payments:create"):
        monkeypatch.setitem(roles.GRANTS, permission, ())
    email = make_user(database, org, f"finance-{org.id.hex[:10]}@example.test", "finance")
    assert log_in(browser_client, email).status_code == 303
    page = browser_client.get(f"/invoices/{invoices.pending}").text
    assert 'id="invoice-actions"' in page  # downloading and crediting stay allowed
    assert "Void invoice" not in page and "Record a payment" not in page
    for path, data, case in FORGED:
        target = getattr(invoices, case)
        # The pages of these actions are refused too (refresh has none: not found).
        assert browser_client.get(f"/invoices/{target}/{path}").status_code in (403, 404), path
        response = post(browser_client, f"/invoices/{target}/{path}", data)
        assert response.status_code == 403, path
        assert "You don&#39;t have access to this page" in response.text
    for case in ("draft", "pending"):
        invoice = rest(browser_client, org, "GET", f"/invoices/{getattr(invoices, case)}")
        assert invoice["invoice"]["status"] == ("draft" if case == "draft" else "finalized")
        assert invoice["invoice"]["payment_status"] == "pending"
        assert invoice["invoice"]["total_paid_amount_cents"] == 0


def test_another_organizations_invoice_is_not_found(
    client: TestClient, database: Database, invoices: Invoices
) -> None:
    from tests.conftest import make_org

    other = make_org(database, "Other")
    rest(client, other, "POST", "/customers", {"customer": {"external_id": "x", "currency": "EUR"}})
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 5_000, "amount_currency": "EUR"}
    rest(client, other, "POST", "/add_ons", {"add_on": add_on})
    foreign = one_off(client, other, "x", 1)["lago_id"]
    for path in ("", "/void", "/payment-status", "/payments/new", "/finalize"):
        assert client.get(f"/invoices/{foreign}{path}").status_code == 404, path
    assert post(client, f"/invoices/{foreign}/void").status_code == 404
    assert rest(client, other, "GET", f"/invoices/{foreign}")["invoice"]["status"] == "finalized"
