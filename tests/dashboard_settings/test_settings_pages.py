"""Settings › Organization and Settings › Invoices: each block saved through the same
parser and service as PUT /api/v1/organizations (the saved values are read back as the
API's organization object), the API's refusals shown under the fields with HTTP 422 and
nothing written, the logo uploaded as a file and shown, default taxes."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from meterbill.core.db import Database
from meterbill.taxes.schemas import parse_tax
from meterbill.taxes.service import create_tax
from tests.conftest import NOW, Org
from tests.dashboard.conftest import csrf_of, log_in, make_user
from tests.dashboard.test_customer_pages import rest
from tests.dashboard_settings.conftest import error_under, organization_as_api, post, stored_logo

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + b"\r\n\x00jpeg bytes" * 10


def test_organization_information_is_saved_as_the_api_saves_it(
    client: TestClient, database: Database, org: Org
) -> None:
    information = {
        "name": "Piedpiper",
        "legal_name": "Pied Piper Inc.",
        "legal_number": "49-008-2965",
        "tax_identification_number": "US123456789",
        "email": "billing@piedpiper.test",
        "address_line1": "5230 Penfield Ave",
        "address_line2": "Suite 2",
        "zipcode": "91364",
        "city": "Woodland Hills",
        "state": "CA",
        "country": "us",
    }
    response = post(client, "/settings/information", information)
    assert (response.status_code, response.headers["location"]) == (303, "/settings")

    saved = organization_as_api(database, org)
    assert {key: saved[key] for key in information if key != "country"} == {
        key: value for key, value in information.items() if key != "country"
    }
    assert saved["country"] == "US"
    page = client.get("/settings").text
    assert "Organization information saved" in page
    assert 'value="Pied Piper Inc."' in page and 'value="US"' in page
    # The menu shows the new name at once.
    assert '<div class="org-name">Piedpiper</div>' in page

    # Emptied optional fields are cleared (null in the API), the rest kept.
    post(client, "/settings/information", {**information, "address_line2": "", "state": ""})
    saved = organization_as_api(database, org)
    assert (saved["address_line2"], saved["state"], saved["city"]) == (
        None, None, "Woodland Hills",
    )  # fmt: skip


def test_the_timezone_is_saved(client: TestClient, database: Database, org: Org) -> None:
    response = post(client, "/settings/timezone", {"timezone": "Europe/Paris"})
    assert response.status_code == 303
    assert organization_as_api(database, org)["timezone"] == "Europe/Paris"
    assert '<option value="Europe/Paris" selected>' in client.get("/settings").text


def test_each_invoice_setting_is_saved(client: TestClient, database: Database, org: Org) -> None:
    blocks: list[tuple[str, dict[str, str], str]] = [
        ("currency", {"default_currency": "EUR"}, "Default currency saved"),
        ("locale", {"document_locale": "pt-BR"}, "Document language saved"),
        ("grace-period", {"invoice_grace_period": "365"}, "Grace period saved"),
        ("net-payment-term", {"net_payment_term": "30"}, "Net payment term saved"),
        ("footer", {"invoice_footer": "Thank you! <b>IBAN</b> FR76"}, "Invoice footer saved"),
        (
            "numbering",
            {"document_numbering": "per_organization", "document_number_prefix": "pp"},
            "Invoice numbering saved",
        ),
    ]
    for block, data, flash in blocks:
        response = post(client, f"/settings/invoices/{block}", data)
        assert (response.status_code, response.headers["location"]) == (303, "/settings/invoices")
        assert flash in client.get("/settings/invoices").text

    saved = organization_as_api(database, org)
    assert saved["default_currency"] == "EUR"
    assert saved["net_payment_term"] == 30
    assert saved["billing_configuration"] == {
        "invoice_footer": "Thank you! <b>IBAN</b> FR76",
        "invoice_grace_period": 365,
        "document_locale": "pt-BR",
    }
    assert (saved["document_numbering"], saved["document_number_prefix"]) == (
        "per_organization", "PP",
    )  # fmt: skip
    page = client.get("/settings/invoices").text
    # The footer is shown escaped; the numbering's preview uses the saved prefix and
    # the month of today (Jan 2026) in the organization's timezone.
    assert "Thank you! &lt;b&gt;IBAN&lt;/b&gt; FR76</textarea>" in page
    assert '<p class="mono number-preview">PP-202601-001</p>' in page
    assert "PP-001-001" in page
    assert '<option value="pt-BR" selected>Portuguese (Brazil)</option>' in page


REFUSALS = [
    ("/settings/invoices/grace-period", {"invoice_grace_period": "366"},
     "invoice_grace_period", "Enter a whole number of days from 0 to 365."),
    ("/settings/invoices/grace-period", {"invoice_grace_period": "-1"},
     "invoice_grace_period", "Enter a whole number of days from 0 to 365."),
    ("/settings/invoices/grace-period", {"invoice_grace_period": "two"},
     "invoice_grace_period", "Enter a whole number of days from 0 to 365."),
    ("/settings/invoices/numbering",
     {"document_numbering": "per_customer", "document_number_prefix": "ABCDEFGHIJK"},
     "document_number_prefix", "The prefix is 10 characters at most."),
    ("/settings/invoices/numbering",
     {"document_numbering": "per_customer", "document_number_prefix": ""},
     "document_number_prefix", "The prefix needs at least 1 character."),
    ("/settings/invoices/footer", {"invoice_footer": "f" * 601},
     "invoice_footer", "You can&#39;t use more than 600 characters."),
    ("/settings/invoices/locale", {"document_locale": "klingon"},
     "document_locale", "Choose a language from the list."),
    ("/settings/invoices/currency", {"default_currency": "XYZ"},
     "default_currency", "Choose a currency from the list."),
    ("/settings/invoices/net-payment-term", {"net_payment_term": "-5"},
     "net_payment_term", "Enter a whole number of days, 0 or more."),
    ("/settings/information", {"name": "", "email": "not-an-email"},
     "name", "The organization needs a name."),
    ("/settings/information", {"name": "Acme", "email": "not-an-email"},
     "email", "This value is not an email address, please enter a valid email."),
    ("/settings/information", {"name": "Acme", "country": "ZZ"},
     "country", "Use a two-letter country code, such as FR or US."),
    ("/settings/timezone", {"timezone": "Mars/Olympus"},
     "timezone", "Choose a timezone from the list."),
]  # fmt: skip


@pytest.mark.parametrize(("url", "data", "field", "message"), REFUSALS)
def test_a_refused_value_is_explained_and_nothing_is_written(
    client: TestClient,
    database: Database,
    org: Org,
    url: str,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    before = organization_as_api(database, org)
    response = post(client, url, data)
    assert response.status_code == 422
    assert error_under(response.text, field) == message
    # The typed value is kept in the form.
    typed = data[field]
    if field not in ("document_locale", "default_currency", "timezone"):
        assert f'value="{typed}"' in response.text or f">{typed}</textarea>" in response.text
    assert organization_as_api(database, org) == before


def test_an_unknown_block_is_not_found(client: TestClient) -> None:
    assert post(client, "/settings/invoices/teleport", {"x": "1"}).status_code == 404


def _upload(client: TestClient, content: bytes, content_type: str, name: str = "logo.png") -> Any:
    token = csrf_of(client.get("/settings").text)
    return client.post(
        "/settings/logo",
        data={"csrf_token": token},
        files={"logo": (name, content, content_type)},
        follow_redirects=False,
    )


def test_a_logo_is_uploaded_shown_and_removed(
    client: TestClient, database: Database, org: Org
) -> None:
    response = _upload(client, PNG, "image/png")
    assert (response.status_code, response.headers["location"]) == (303, "/settings")
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert stored_logo(database, org) == data_url
    page = client.get("/settings").text
    assert "Logo saved" in page
    assert f'<img src="{data_url}" alt="Acme Corp logo" class="org-logo">' in page

    # A JPEG whose bytes hold CR LF and NUL comes back byte for byte.
    assert _upload(client, JPEG, "image/jpeg", "logo.jpg").status_code == 303
    assert stored_logo(database, org) == (
        "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()
    )

    assert post(client, "/settings/logo/remove").status_code == 303
    assert stored_logo(database, org) is None
    assert "No logo" in client.get("/settings").text


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"0" * (800 * 1024), "image/png",
         "The logo must weigh 800 KB at most."),
        (b"GIF89a not accepted", "image/gif", "Upload a PNG or JPG image."),
        (b"plain text", "image/png", "Upload a PNG or JPG image."),
        (b"", "application/octet-stream", "Upload a PNG or JPG image."),
    ],
)  # fmt: skip
def test_a_refused_logo_is_explained_and_the_old_one_kept(
    client: TestClient,
    database: Database,
    org: Org,
    content: bytes,
    content_type: str,
    message: str,
) -> None:
    _upload(client, PNG, "image/png")
    before = stored_logo(database, org)
    response = _upload(client, content, content_type)
    assert response.status_code == 422
    assert message in response.text
    assert stored_logo(database, org) == before


def test_a_body_over_the_server_s_limit_is_refused_before_it_is_read(
    client: TestClient, database: Database, org: Org
) -> None:
    # The app's 1 MB request limit (core.guards) answers first: nothing is written.
    response = _upload(client, b"\x89PNG\r\n\x1a\n" + b"0" * (2 * 1024 * 1024), "image/png")
    assert response.status_code == 413
    assert stored_logo(database, org) is None


def test_a_logo_upload_without_the_csrf_token_is_refused(
    client: TestClient, database: Database, org: Org
) -> None:
    response = client.post(
        "/settings/logo", files={"logo": ("logo.png", PNG, "image/png")}, follow_redirects=False
    )
    assert response.status_code == 403
    assert stored_logo(database, org) is None


def test_default_taxes_are_the_taxes_applied_to_the_organization(
    client: TestClient, database: Database, org: Org
) -> None:
    with database.transaction() as session:
        for code, name, rate in [("vat", "VAT", "20"), ("gst", "GST", "5.5")]:
            create_tax(
                session,
                org.id,
                parse_tax({"code": code, "name": name, "rate": rate}, creating=True),
                NOW,
            )
    page = client.get("/settings/invoices").text
    assert "Taxes applied by default" in page and "GST" in page

    response = post(client, "/settings/invoices/taxes", {"tax_codes": ["vat", "gst"]})
    assert response.status_code == 303
    taxes = organization_as_api(database, org)["taxes"]
    assert [(tax["code"], tax["rate"]) for tax in taxes] == [("gst", 5.5), ("vat", 20.0)]

    post(client, "/settings/invoices/taxes", {"tax_codes": ["gst"]})
    assert [tax["code"] for tax in organization_as_api(database, org)["taxes"]] == ["gst"]

    forged = post(client, "/settings/invoices/taxes", {"tax_codes": ["gst", "nope"]})
    assert forged.status_code == 422
    assert "One of these taxes no longer exists." in forged.text
    assert [tax["code"] for tax in organization_as_api(database, org)["taxes"]] == ["gst"]


def test_finance_edits_settings_but_not_taxes_and_a_manager_sees_none(
    browser_client: TestClient, database: Database, org: Org
) -> None:
    finance = make_user(database, org, f"finance-{org.id.hex[:10]}@example.test", "finance")
    log_in(browser_client, finance)
    page = browser_client.get("/settings/invoices").text
    assert "Taxes applied by default" not in page
    assert (
        post(browser_client, "/settings/invoices/footer", {"invoice_footer": "ok"}).status_code
        == 303
    )
    assert post(browser_client, "/settings/invoices/taxes", {"tax_codes": []}).status_code == 403
    nav = page[
        page.index('aria-label="Settings"') : page.index(
            "</nav>", page.index('aria-label="Settings"')
        )
    ]
    assert [
        label
        for label in ("Organization", "Invoices", "Taxes", "Members", "Your account")
        if f">{label}</a>" in nav
    ] == ["Organization", "Invoices", "Your account"]

    browser_client.cookies.clear()
    manager = make_user(database, org, f"manager-{org.id.hex[:10]}@example.test", "manager")
    log_in(browser_client, manager)
    assert browser_client.get("/settings").status_code == 403
    assert browser_client.get("/settings/invoices").status_code == 403
    assert post(browser_client, "/settings/information", {"name": "Forged"}).status_code == 403
    assert organization_as_api(database, org)["name"] == "Acme Corp"
    assert browser_client.get("/settings/account").status_code == 200


def test_the_settings_reach_the_next_invoice_s_document(
    client: TestClient, database: Database, org: Org
) -> None:
    post(client, "/settings/invoices/locale", {"document_locale": "fr"})
    post(client, "/settings/invoices/footer", {"invoice_footer": "Merci de votre confiance"})
    post(client, "/settings/information", {"name": "Piedpiper", "city": "Paris"})
    _upload(client, PNG, "image/png")

    rest(client, org, "POST", "/customers", {"customer": {"external_id": "doc", "currency": "EUR"}})
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 5000, "amount_currency": "EUR"}
    rest(client, org, "POST", "/add_ons", {"add_on": add_on})
    invoice = rest(client, org, "POST", "/invoices", {"invoice": {
        "external_customer_id": "doc", "currency": "EUR",
        "fees": [{"add_on_code": "setup", "units": 1}]}})["invoice"]  # fmt: skip

    document = client.get(f"/invoices/{invoice['lago_id']}/document").text
    assert "Facture" in document
    assert "Merci de votre confiance" in document
    assert "Piedpiper" in document
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in document
