"""The customer management guide walked in a real browser (Chromium), with JavaScript
on and off: log in, Customers from the side menu, Add a customer with the guide's
example values, the customer view, an edit that may not change the currency, and a
deletion whose finalized invoice stays under Invoices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import open_page
from tests.dashboard.conftest import PASSWORD, make_user

GUIDE = {
    "external_id": "5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba",
    "name": "Gavin Belson",
    "address_line1": "5230 Penfield Ave",
    "city": "Woodland Hills",
    "country": "US",
    "email": "dinesh@piedpiper.test",
    "legal_name": "Coleman-Blair",
    "legal_number": "49-008-2965",
    "tax_identification_number": "EU123456789",
    "phone": "1-171-883-3711 x245",
    "state": "CA",
    "timezone": "Europe/Paris",
    "url": "http://hooli.com",
    "zipcode": "91364",
    "invoice_grace_period": "3",
    "provider_customer_id": "cus_12345",
}


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:
    yield from open_page(chromium, server, request, javascript=request.param)


@pytest.fixture
def api(server: str, org: Org) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {org.api_key}"}
    ) as client:
        yield client


def log_in(page: Any, email: str) -> None:
    page.goto("/customers")
    assert "/login" in page.url
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/customers")


def test_guide_walk(page: Any, api: httpx.Client, database: Database, org: Org) -> None:
    email = make_user(database, org, f"walk-{org.id.hex[:10]}@example.test")
    log_in(page, email)

    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Customers").click()
    # "In the upper right corner, click Add a customer".
    page.locator(".page-header").get_by_role("link", name="Add a customer").click()
    for field, value in GUIDE.items():
        page.locator(f"#f-{field}").fill(value)
    page.locator("#f-currency").select_option("EUR")
    page.locator("#f-payment_provider").select_option("stripe")
    page.locator("#f-sync_with_provider").check()
    page.locator("#f-document_locale").select_option("fr")
    page.locator("#f-metadata-0-key").fill("Name")
    page.locator("#f-metadata-0-value").fill("John")
    page.locator("#f-metadata-0-display").check()
    page.get_by_role("button", name="Create customer").click()

    # The customer view: name, external id, the flash message.
    assert page.get_by_role("heading", level=1).inner_text() == "Gavin Belson"
    assert page.get_by_role("status").first.inner_text() == "Customer successfully created"
    view = page.url
    stored = api.get(f"/customers/{GUIDE['external_id']}").json()["customer"]
    assert (stored["currency"], stored["timezone"], stored["country"]) == (
        "EUR",
        "Europe/Paris",
        "US",
    )
    assert stored["billing_configuration"]["invoice_grace_period"] == 3
    assert stored["billing_configuration"]["document_locale"] == "fr"
    assert stored["metadata"][0]["key"] == "Name"
    assert stored["metadata"][0]["display_in_invoice"] is True

    # Objects assigned through the API: a plan (it locks the currency) and a one-off
    # invoice (finalized at once).
    api.post("/plans", json={"plan": {"name": "Basic", "code": "basic", "interval": "monthly",
                                      "amount_cents": 1000, "amount_currency": "EUR"}})  # fmt: skip
    api.post("/add_ons", json={"add_on": {"name": "Setup", "code": "setup", "amount_cents": 12_000,
                                          "amount_currency": "EUR"}})  # fmt: skip
    assert api.post("/subscriptions", json={"subscription": {
        "external_customer_id": GUIDE["external_id"], "plan_code": "basic", "external_id": "sub_1",
    }}).status_code == 200  # fmt: skip
    invoice = api.post("/invoices", json={"invoice": {
        "external_customer_id": GUIDE["external_id"], "currency": "EUR",
        "fees": [{"add_on_code": "setup", "units": 2}],
    }}).json()["invoice"]  # fmt: skip
    assert invoice["status"] == "finalized"

    # Edit: the currency is shown disabled with the reason.
    page.goto(view + "/edit")
    assert page.locator("#f-currency").is_disabled()
    assert page.locator("#f-external_id").is_disabled()
    assert "cannot change anymore" in page.locator(".lock-note").inner_text()
    # A forged request that changes it anyway is refused as the API refuses it.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        view + "/edit",
        form={"csrf_token": token, "name": "Gavin Belson", "currency": "USD"},
        max_redirects=0,
    )
    assert forged.status == 422
    assert "The currency cannot change" in forged.text()
    assert api.get(f"/customers/{GUIDE['external_id']}").json()["customer"]["currency"] == "EUR"

    # Delete: the dialog names what will happen, then the list with the flash.
    page.goto(view)
    page.locator("#customer-actions summary").click()
    page.get_by_role("link", name="Delete customer").click()
    dialog = page.locator("dialog#delete-customer")
    text = dialog.inner_text()
    assert "1 active subscription terminated" in text
    assert "0 applied coupons terminated" in text
    assert "0 draft invoices finalized" in text
    dialog.get_by_role("button", name="Delete customer").click()
    page.wait_for_url("**/customers")
    assert page.get_by_role("status").first.inner_text() == "Customer successfully deleted"
    assert "Gavin Belson" not in page.locator("#customers-results").inner_text()

    # Its finalized invoice stays under Invoices, with its page.
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name=invoice["number"]).click()
    assert page.get_by_role("heading", level=1).inner_text() == invoice["number"]
    assert "(deleted)" in page.locator("main").inner_text()
    assert "€240.00" in page.locator("main").inner_text()
    # The document as the customer receives it, framed, and its PDF.
    document = page.frame_locator("iframe.document-frame").locator("body")
    assert invoice["number"] in document.inner_text()
    # In the customer's language (the guide's customer reads French).
    assert "Facture" in document.inner_text() and "240,00\xa0€" in document.inner_text()
    pdf = page.request.get(page.get_by_role("link", name="Download PDF").get_attribute("href"))
    assert (pdf.status, pdf.body()[:5]) == (200, b"%PDF-")
    assert page.console_errors == []


def test_search_tabs_and_dialog(page: Any, api: httpx.Client, database: Database, org: Org) -> None:
    for index in range(3):
        api.post("/customers", json={"customer": {"external_id": f"find_{index}",
                                                  "name": f"Findable {index}"}})  # fmt: skip
    gold = [{"key": "tier", "value": "gold"}]
    api.post("/customers", json={"customer": {"external_id": "other", "name": "Acme",
                                              "metadata": gold}})  # fmt: skip
    email = make_user(database, org, f"search-{org.id.hex[:10]}@example.test")
    log_in(page, email)
    rows = page.locator("#customers-results tbody tr")
    assert rows.count() == 4
    search = page.get_by_label("Search customers")
    search.fill("findable 1")
    if not page.javascript:
        search.press("Enter")
    # With JavaScript typing is enough: htmx swaps the results in and puts the search in
    # the URL (as %20; the form without JavaScript sends +).
    page.wait_for_url(lambda url: unquote_plus(url).endswith("/customers?search=findable 1"))
    assert rows.count() == 1
    assert rows.first.inner_text().startswith("Findable 1")
    page.reload()
    assert rows.count() == 1

    page.goto("/customers?search=acme")
    page.get_by_role("link", name="Acme").click()
    tabs = page.get_by_role("navigation", name="Customer sections")
    tabs.get_by_role("link", name="Information").click()
    page.wait_for_url("**/information")
    assert tabs.get_by_role("link", name="Information").get_attribute("aria-current") == "page"
    assert "gold" in page.locator("#tab-panel").inner_text()
    tabs.get_by_role("link", name="Invoices").click()
    page.wait_for_url("**/invoices")
    assert "No invoices available" in page.locator("#tab-panel").inner_text()

    # The delete dialog: with JavaScript it is modal and Escape closes it.
    view = page.url.removesuffix("/invoices")
    page.goto(view + "/delete")
    if page.javascript:
        assert page.evaluate("document.querySelector('dialog').matches(':modal')")
        page.keyboard.press("Escape")
        page.wait_for_url(view)
        assert page.get_by_role("heading", level=1).inner_text() == "Acme"
    else:
        page.get_by_role("link", name="Cancel").click()
        page.wait_for_url(view)
    assert page.console_errors == []
