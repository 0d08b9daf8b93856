"""Customers in the dashboard: the list, Add a customer, Edit (with the lock), Delete."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.conftest import csrf_of
from tests.dashboard.test_access import api


def rest(client: TestClient, org: Org, method: str, path: str, body: Any = None) -> Any:
    response = client.request(
        method, f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {org.api_key}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def submit(client: TestClient, url: str, data: dict[str, Any], page: str | None = None) -> Any:
    token = csrf_of(client.get(page or url).text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)


def names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/customers/[^"]+">([^<]*)</a></td>', html)


# --- the list ------------------------------------------------------------------------


def test_list_newest_first_search_and_pages_in_the_url(client: TestClient, org: Org) -> None:
    for index in range(23):
        api(client, org, f"ext_{index:02d}", name=f"Name {index:02d}",
            email=f"mail{index:02d}@example.test")  # fmt: skip
    first = client.get("/customers")
    assert names(first.text) == [f"Name {index:02d}" for index in range(22, 2, -1)]
    assert "1–20 of 23 results" in first.text
    assert 'href="/customers?page=2"' in first.text
    second = client.get("/customers?page=2")
    assert names(second.text) == ["Name 02", "Name 01", "Name 00"]
    assert "21–23 of 23 results" in second.text
    fifty = client.get("/customers?per_page=50")
    assert len(names(fifty.text)) == 23
    # Search by name, external id or e-mail; shorter than 3 characters narrows nothing.
    assert names(client.get("/customers?search=name 07").text) == ["Name 07"]
    assert names(client.get("/customers?search=EXT_1").text) == [
        f"Name {index:02d}" for index in range(19, 9, -1)
    ]
    assert names(client.get("/customers?search=mail05@").text) == ["Name 05"]
    assert len(names(client.get("/customers?search=na").text)) == 20
    # A search in htmx gets only the results, to swap in.
    partial = client.get(
        "/customers?search=name 07",
        headers={"HX-Request": "true", "HX-Target": "customers-results"},
    )
    assert partial.text.startswith('<div id="customers-results">')
    assert "<html" not in partial.text
    assert "This customer cannot be found" in client.get("/customers?search=zzzz").text
    assert "Name" not in "".join(names(client.get("/customers?page=9").text))
    assert client.get("/customers?page=abc&per_page=-3").status_code == 200


def test_empty_list(client: TestClient) -> None:
    page = client.get("/customers")
    assert "Create your first customer" in page.text
    assert 'href="/customers/new"' in page.text


# --- Add a customer ------------------------------------------------------------------


GUIDE_FORM = {
    "external_id": "5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba",
    "name": "Gavin Belson",
    "customer_type": "company",
    "address_line1": "5230 Penfield Ave",
    "address_line2": "",
    "city": "Woodland Hills",
    "country": "us",
    "currency": "EUR",
    "email": "dinesh@piedpiper.test",
    "legal_name": "Coleman-Blair",
    "legal_number": "49-008-2965",
    "tax_identification_number": "EU123456789",
    "phone": "1-171-883-3711 x245",
    "state": "CA",
    "timezone": "Europe/Paris",
    "url": "http://hooli.com",
    "zipcode": "91364",
    "shipping_same": "on",
    "invoice_grace_period": "3",
    "net_payment_term": "30",
    "payment_provider": "stripe",
    "provider_customer_id": "cus_12345",
    "sync_with_provider": "on",
    "document_locale": "fr",
    "metadata-0-key": "Name",
    "metadata-0-value": "John",
    "metadata-0-display": "on",
    "metadata-1-key": "",
    "metadata-1-value": "",
}


def test_add_a_customer_with_the_guides_values(client: TestClient, org: Org) -> None:
    rest(client, org, "POST", "/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": 20}})
    response = submit(client, "/customers/new", {**GUIDE_FORM, "tax_codes": "vat"})
    assert response.status_code == 303
    customer = rest(client, org, "GET", f"/customers/{GUIDE_FORM['external_id']}")["customer"]
    assert response.headers["location"] == f"/customers/{customer['lago_id']}"
    expected = {
        "name": "Gavin Belson", "customer_type": "company", "country": "US", "currency": "EUR",
        "email": "dinesh@piedpiper.test", "legal_name": "Coleman-Blair",
        "legal_number": "49-008-2965", "tax_identification_number": "EU123456789",
        "phone": "1-171-883-3711 x245", "state": "CA", "timezone": "Europe/Paris",
        "url": "http://hooli.com", "zipcode": "91364", "city": "Woodland Hills",
        "address_line1": "5230 Penfield Ave", "address_line2": None, "net_payment_term": 30,
    }  # fmt: skip
    assert {key: customer[key] for key in expected} == expected
    assert customer["shipping_address"] == {
        "address_line1": "5230 Penfield Ave", "address_line2": None, "city": "Woodland Hills",
        "zipcode": "91364", "state": "CA", "country": "US",
    }  # fmt: skip
    config = customer["billing_configuration"]
    assert (config["invoice_grace_period"], config["document_locale"]) == (3, "fr")
    assert (config["payment_provider"], config["provider_customer_id"]) == ("stripe", "cus_12345")
    assert config["sync_with_provider"] is True
    assert [(m["key"], m["value"], m["display_in_invoice"]) for m in customer["metadata"]] == [
        ("Name", "John", True)
    ]
    assert [tax["code"] for tax in customer["taxes"]] == ["vat"]
    view = client.get(response.headers["location"])
    assert "Customer successfully created" in view.text
    assert "Gavin Belson" in view.text
    # The flash shows once.
    assert "Customer successfully created" not in client.get(response.headers["location"]).text


def test_add_a_customer_refusals_in_words_with_the_values_kept(
    client: TestClient, org: Org
) -> None:
    response = submit(
        client,
        "/customers/new",
        {
            "external_id": " ",
            "name": "Kept Name",
            "email": "dinesh@, x",
            "country": "ZZ",
            "timezone": "Mars/Olympus",
            "net_payment_term": "ten",
            "invoice_grace_period": "-1",
            "metadata-0-key": "k" * 21,
            "metadata-0-value": "v",
            "metadata-1-key": "second",
            "metadata-1-value": "v" * 101,
            "metadata-2-key": "",
            "metadata-2-value": "orphan",
        },
    )
    assert response.status_code == 422
    html = response.text
    for message in (
        "External ID is required",
        "This value is not an email address, please enter a valid email.",
        "Use a two-letter country code, such as FR or US.",
        "Choose a timezone from the list.",
        "Enter a whole number of days, 0 or more.",
        "Key must be a string under 20 characters",
        "Value must be a string of 100 characters maximum",
        "Metadata key is required",
    ):
        assert message in html, message
    assert 'value="Kept Name"' in html and 'value="dinesh@, x"' in html
    assert 'id="f-external_id-error"' in html and 'aria-invalid="true"' in html
    assert rest(client, org, "GET", "/customers")["customers"] == []


def test_add_a_customer_whose_external_id_is_taken(client: TestClient, org: Org) -> None:
    api(client, org, "taken", name="First")
    response = submit(client, "/customers/new", {"external_id": "taken", "name": "Second"})
    assert response.status_code == 422
    assert "ID already existing on another customer" in response.text
    assert rest(client, org, "GET", "/customers/taken")["customer"]["name"] == "First"


def test_add_a_customer_with_duplicate_metadata_keys(client: TestClient, org: Org) -> None:
    response = submit(
        client,
        "/customers/new",
        {
            "external_id": "dup",
            "metadata-0-key": "a",
            "metadata-0-value": "1",
            "metadata-1-key": "a",
            "metadata-1-value": "2",
        },
    )
    assert response.status_code == 422
    assert response.text.count("Keys should be unique; please differentiate them") == 3
    assert rest(client, org, "GET", "/customers")["customers"] == []


# --- Edit ----------------------------------------------------------------------------


def lock(client: TestClient, org: Org, external_id: str) -> None:
    """A subscription assigned: the customer's external id and currency lock."""
    rest(client, org, "POST", "/plans", {"plan": {
        "name": "Basic", "code": f"basic_{external_id}", "interval": "monthly",
        "amount_cents": 1000, "amount_currency": "EUR"}})  # fmt: skip
    rest(client, org, "POST", "/subscriptions", {"subscription": {
        "external_customer_id": external_id, "plan_code": f"basic_{external_id}",
        "external_id": f"sub_{external_id}"}})  # fmt: skip


def test_edit_while_editable_may_rename_and_change_currency(client: TestClient, org: Org) -> None:
    customer_id = api(client, org, "old_id", name="Acme", currency="EUR")
    form = client.get(f"/customers/{customer_id}/edit").text
    assert 'id="f-currency" name="currency">' in form
    assert "lock once a plan, coupon, one-off invoice or wallet is assigned" in form
    response = submit(
        client,
        f"/customers/{customer_id}/edit",
        {"external_id": "new_id", "name": "Acme 2", "currency": "USD", "email": ""},
    )
    assert (response.status_code, response.headers["location"]) == (
        303,
        f"/customers/{customer_id}/information",
    )
    customer = rest(client, org, "GET", "/customers/new_id")["customer"]
    assert (customer["lago_id"], customer["name"], customer["currency"]) == (
        customer_id,
        "Acme 2",
        "USD",
    )
    assert "Customer successfully updated" in client.get(response.headers["location"]).text


def test_edit_once_locked_refuses_a_forged_currency_like_the_api(
    client: TestClient, org: Org
) -> None:
    customer_id = api(client, org, "locked", name="Acme", currency="EUR")
    lock(client, org, "locked")
    form = client.get(f"/customers/{customer_id}/edit").text
    assert 'id="f-currency" name="currency" disabled' in form
    assert 'name="external_id" type="text" value="locked" required disabled' in form
    assert "cannot change anymore: a plan, coupon, one-off invoice or wallet" in form
    # The API refuses the change...
    refused = client.post(
        "/api/v1/customers",
        json={"customer": {"external_id": "locked", "currency": "USD"}},
        headers={"Authorization": f"Bearer {org.api_key}"},
    )
    assert (refused.status_code, refused.json()["error_details"]) == (
        422,
        {"currency": ["currencies_does_not_match"]},
    )
    # ... and so does the page, with nothing of the request saved.
    forged = submit(
        client,
        f"/customers/{customer_id}/edit",
        {"name": "Changed", "currency": "USD", "external_id": "locked"},
    )
    assert forged.status_code == 422
    assert "The currency cannot change once a plan, coupon" in forged.text
    customer = rest(client, org, "GET", "/customers/locked")["customer"]
    assert (customer["name"], customer["currency"]) == ("Acme", "EUR")
    # A forged external id is not applied (Lago ignores it once locked); the rest is.
    renamed = submit(
        client, f"/customers/{customer_id}/edit", {"name": "Renamed", "external_id": "other"}
    )
    assert renamed.status_code == 303
    customer = rest(client, org, "GET", "/customers/locked")["customer"]
    assert (customer["name"], customer["currency"]) == ("Renamed", "EUR")


def test_edit_renaming_to_a_taken_external_id(client: TestClient, org: Org) -> None:
    api(client, org, "holder")
    customer_id = api(client, org, "mover")
    response = submit(client, f"/customers/{customer_id}/edit", {"external_id": "holder"})
    assert response.status_code == 422
    assert "ID already existing on another customer" in response.text
    assert rest(client, org, "GET", "/customers/mover")["customer"]["lago_id"] == customer_id


def test_edit_replaces_metadata_and_taxes(client: TestClient, org: Org) -> None:
    rest(client, org, "POST", "/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": 20}})
    metadata = [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    customer_id = api(client, org, "meta", tax_codes=["vat"], metadata=metadata)
    form = client.get(f"/customers/{customer_id}/edit").text
    first_id = re.search(r'name="metadata-0-id" value="([^"]+)"', form)
    assert first_id
    response = submit(
        client,
        f"/customers/{customer_id}/edit",
        {
            "external_id": "meta",
            "metadata-0-id": first_id.group(1),
            "metadata-0-key": "a",
            "metadata-0-value": "one",
            "metadata-0-display": "on",
        },
    )
    assert response.status_code == 303
    customer = rest(client, org, "GET", "/customers/meta")["customer"]
    assert [(m["key"], m["value"], m["display_in_invoice"]) for m in customer["metadata"]] == [
        ("a", "one", True)
    ]
    assert customer["taxes"] == []
    info = client.get(f"/customers/{customer_id}/information").text
    assert "one" in info and "Customer information" in info


# --- Delete --------------------------------------------------------------------------


def test_delete_names_what_will_happen_then_does_it(
    client: TestClient, org: Org, database: Database
) -> None:
    customer_id = api(client, org, "leaving", name="Leaving Co", currency="EUR")
    lock(client, org, "leaving")
    rest(client, org, "POST", "/coupons", {"coupon": {
        "name": "Ten", "code": "ten", "coupon_type": "fixed_amount", "amount_cents": 1000,
        "amount_currency": "EUR", "frequency": "once", "expiration": "no_expiration"}})  # fmt: skip
    rest(client, org, "POST", "/applied_coupons", {"applied_coupon": {
        "external_customer_id": "leaving", "coupon_code": "ten"}})  # fmt: skip
    rest(client, org, "POST", "/wallets", {"wallet": {
        "external_customer_id": "leaving", "rate_amount": "2", "currency": "EUR",
        "granted_credits": "7.5", "name": "Prepaid"}})  # fmt: skip
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 5000, "amount_currency": "EUR"}
    rest(client, org, "POST", "/add_ons", {"add_on": add_on})
    invoice = rest(client, org, "POST", "/invoices", {"invoice": {
        "external_customer_id": "leaving", "currency": "EUR",
        "fees": [{"add_on_code": "setup", "units": 1}]}})["invoice"]  # fmt: skip

    dialog = client.get(f"/customers/{customer_id}/delete")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", dialog.text))
    assert "Delete Leaving Co?" in text
    assert "1 active subscription terminated" in text
    assert "1 applied coupon terminated" in text
    assert "wallet Prepaid terminated, its 7.5 credits (€15.00) voided" in text
    assert "0 draft invoices finalized" in text

    response = submit(client, f"/customers/{customer_id}/delete", {})
    assert (response.status_code, response.headers["location"]) == (303, "/customers")
    listing = client.get("/customers")
    assert "Customer successfully deleted" in listing.text
    assert "Leaving Co" not in "".join(names(listing.text))
    assert client.get(f"/customers/{customer_id}").status_code == 404
    missing = client.get(
        "/api/v1/customers/leaving", headers={"Authorization": f"Bearer {org.api_key}"}
    )
    assert missing.json()["code"] == "customer_not_found"
    assert rest(client, org, "GET", f"/invoices/{invoice['lago_id']}")["invoice"]["status"] == (
        "finalized"
    )
    # Its finalized invoice stays reachable: in the Invoices list and on its page.
    invoices = client.get("/invoices").text
    assert invoice["number"] in invoices and "(deleted)" in invoices
    page = client.get(f"/invoices/{invoice['lago_id']}")
    assert page.status_code == 200
    assert "Leaving Co" in page.text and "€50.00" in page.text
    # The external id is free again.
    assert submit(client, "/customers/new", {"external_id": "leaving"}).status_code == 303


def test_delete_without_the_form_token_deletes_nothing(client: TestClient, org: Org) -> None:
    customer_id = api(client, org, "stays")
    refused = client.post(f"/customers/{customer_id}/delete", follow_redirects=False)
    assert refused.status_code == 403
    assert rest(client, org, "GET", "/customers/stays")["customer"]["lago_id"] == customer_id


def test_search_ignores_case_beyond_ascii_and_takes_wildcards_literally(
    client: TestClient, org: Org
) -> None:
    api(client, org, "de_1", name="Jürgen Ärger")
    api(client, org, "pct", name="100% Juice", legal_name="Under_score Ltd")
    api(client, org, "plain", name="1000 Juices")
    assert names(client.get("/customers?search=ÄRGER").text) == ["Jürgen Ärger"]
    assert names(client.get("/customers?search=100%").text) == ["100% Juice"]
    assert names(client.get("/customers?search=under_s").text) == ["100% Juice"]
    # The same through the API's search_term.
    found = rest(client, org, "GET", "/customers?search_term=j%C3%9CRGEN")["customers"]
    assert [customer["external_id"] for customer in found] == ["de_1"]
