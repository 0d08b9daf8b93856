"""Invoice documents: a subscription invoice with every charge model, a coupon and a 20 %
tax, billed by the clock; a one-off invoice and a wallet top-up's invoice made through the
API. Figures are checked against the API's invoice object; the PDFs are rendered once per
module and page 1 of each is kept as a PNG in test-output/documents/."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.documents.i18n import format_date, format_money
from meterbill.documents.pdf import html_to_pdf
from meterbill.documents.rendering import invoice_html
from tests.conftest import Org, make_org
from tests.documents.builders import (
    BILLED_AT,
    api_invoice,
    assert_read_as_xml,
    find_invoice,
    full_invoice,
    pdf_text,
    plain,
    png_logo,
    save_png,
    set_locale,
)

LOCALES = ("en", "fr", "de", "pt-BR")


def flat(text: str) -> str:
    """Whitespace collapsed: table cells read back separated by single spaces."""
    return " ".join(plain(text).split())


@dataclass
class Rendered:
    api: dict[str, Any]
    html: dict[str, str]
    text: dict[str, str]
    hostile_html: str


@pytest.fixture(scope="module")
def rendered(database: Database) -> Rendered:
    org, invoice_id = full_invoice(database)
    html: dict[str, str] = {}
    with database.transaction(write=False) as session:
        invoice = find_invoice(session, invoice_id)
        api = api_invoice(session, org, invoice)
        for locale in LOCALES:
            set_locale(session, invoice, locale)
            html[locale] = invoice_html(session, invoice, BILLED_AT)
        set_locale(session, invoice, None)
        customer = invoice_customer(session, invoice)
        customer.name = "<script>alert(1)</script>"
        customer.metadata_items[0].value = '<img src=x onerror="alert(2)">'
        hostile = invoice_html(session, invoice, BILLED_AT)
        session.rollback()
    # Its time is measured by bench/documents.py, not here.
    pdf = html_to_pdf(html["en"])
    texts = {"en": pdf_text(pdf)}
    save_png(pdf, f"invoice-en-{database.engine.dialect.name}")
    for locale in LOCALES[1:]:
        localized = html_to_pdf(html[locale])
        texts[locale] = pdf_text(localized)
        save_png(localized, f"invoice-{locale}-{database.engine.dialect.name}")
    return Rendered(api, html, texts, hostile)


def invoice_customer(session: Any, invoice: Any) -> Any:
    from meterbill.customers.models import Customer

    return session.get(Customer, invoice.customer_id)


def money(cents: int, locale: str = "en") -> str:
    return plain(format_money(cents, "EUR", locale))


def test_totals_equal_the_api_invoice(rendered: Rendered) -> None:
    api, text = rendered.api, flat(rendered.text["en"])
    # The figures of this invoice, pinned, then read off the PDF as the API gives them.
    assert (
        api["fees_amount_cents"], api["coupons_amount_cents"],
        api["sub_total_excluding_taxes_amount_cents"], api["taxes_amount_cents"],
        api["sub_total_including_taxes_amount_cents"], api["total_amount_cents"],
    ) == (57_085, 1_000, 56_085, 11_217, 67_302, 67_302)  # fmt: skip
    [tax] = api["applied_taxes"]
    assert f"welcome ({money(1_000)}) {money(-api['coupons_amount_cents'])}" in text
    assert f"Subtotal (excl. tax) {money(api['sub_total_excluding_taxes_amount_cents'])}" in text
    assert f"VAT (20% on {money(tax['fees_amount_cents'])}) {money(tax['amount_cents'])}" in text
    assert f"Subtotal (incl. tax) {money(api['sub_total_including_taxes_amount_cents'])}" in text
    assert f"Total {money(api['total_amount_cents'])}" in text
    # The big total and the due date under it.
    assert f"{money(api['total_amount_cents'])} Due on December 31, 2026" in text
    # The reference's order: coupons, subtotal, taxes, subtotal with taxes, total.
    order = ["welcome (", "Subtotal (excl. tax)", "VAT (20% on", "Subtotal (incl. tax)",
             f"Total {money(api['total_amount_cents'])}"]  # fmt: skip
    positions = [text.rindex(label) for label in order]
    assert positions == sorted(positions)


def test_every_fee_with_its_units_and_amount(rendered: Rendered) -> None:
    text = flat(rendered.text["en"])
    fees = {
        (fee["item"]["invoice_display_name"], tuple((fee["item"]["grouped_by"] or {}).values()),
         bool(fee["item"]["filters"])): fee
        for fee in rendered.api["fees"]
    }  # fmt: skip
    for (name, grouped, filtered), fee in fees.items():
        label = name if fee["item"]["type"] != "subscription" else "Monthly subscription – Pro"
        if grouped:
            label += " • " + " • ".join(grouped)
        if filtered:
            label += " • US region"
        amount = money(fee["amount_cents"])
        units = fee["units"].removesuffix(".0")
        if fee["amount_details"] and fee["item"]["type"] == "charge":
            # A charge explained by detail rows ends with its subtotal row.
            assert label in text
            tail = text[text.index(label) :]
            assert f"Subtotal {int(float(units)):,} 20% {amount}" in tail, label
        else:
            assert f"{label} {units} " in text and f"20% {amount}" in text, label
    # Plain lines, whole.
    for line in (
        f"Monthly subscription – Pro 1 {money(10_000)} 20% {money(10_000)}",
        f"API calls 80 €0.05 20% {money(400)}",
        f"Storage 1.5 €1.00 20% {money(150)}",
        f"Storage • US region 3 €2.00 20% {money(600)}",
        f"Team seats • red 2 €10.00 20% {money(2_000)}",
        f"Team seats • blue 1 €10.00 20% {money(1_000)}",
    ):
        assert line in text, line


@pytest.mark.parametrize(
    "line",
    [
        # graduated: 10 units at 2 + 5 flat, then 4 at 1.
        "Compute hours Fee per unit for the first 10 10 €2.00 €20.00",
        "Fee per unit for 11 and above 4 €1.00 €4.00",
        "Flat fee for the first 10 1 €5.00 €5.00 Subtotal 14 20% €29.00",
        # graduated percentage: 1 % of 1,000, 0.5 % of 500 + 2 flat.
        "Payments volume Rate for the first 1,000 1,000 1% €10.00",
        "Rate for 1,001 and above 500 0.5% €2.50",
        "Flat fee for 1,001 and above 1 €2.00 €2.00 Subtotal 1,500 20% €14.50",
        # package: 50 free, 210 paid in 3 packages of 100 at 3.
        "Free units for the first 50 50 €0.00 €0.00",
        "Fee per package 210 €3.00 per 100 units €9.00 Subtotal 260 20% €9.00",
        # percentage: 2.5 % of 250 (100 free with the first event), 0.30 per paid event.
        "Card fees Total events: 3 Rate on the amount 250 2.5% €6.25",
        "Free units for 1 transaction 100 0% €0.00",
        "Fixed fee per transaction 2 €0.30 €0.60 Subtotal 350 20% €6.85",
        # volume: 120 units all at the second tier's 3, + 10 flat.
        "Seats volume Fee per unit 120 €3.00 €360.00",
        "Flat fee for all units 1 €10.00 €10.00 Subtotal 120 20% €370.00",
    ],
)
def test_detail_rows_explain_each_charge_model(rendered: Rendered, line: str) -> None:
    assert line in flat(rendered.text["en"])


def test_parties_facts_and_displayable_metadata(rendered: Rendered) -> None:
    text = flat(rendered.text["en"])
    api = rendered.api
    assert text.startswith(f"Invoice {api['number']}")
    assert f"Invoice number {api['number']}" in text
    assert "Issue date December 1, 2026" in text and "Payment term 30 days" in text
    assert "FROM Acme Cloud SAS RCS Paris 123 456 789 12 rue de la Paix 75002 Paris France" in text
    assert "Tax ID: FR12345678901" in text
    assert (
        "BILL TO Globex Corporation GLX-42 1 Infinite Loop Springfield, OR 97403 United States "
        "ap@globex.test Tax ID: US99-1234567"
    ) in text
    assert "PO contact Hank Scorpio" in text and "Cost center CC-1009" in text
    assert "secret-7781" not in text and "internal_score" not in text
    assert "IBAN FR76" in text  # the issuer's footer
    assert 'src="data:image/png;base64,' in rendered.html["en"]


@pytest.mark.parametrize(
    ("locale", "labels"),
    [
        ("fr", ["Facture", "Numéro de facture", "Date d'émission", "Délai de paiement 30 jours",
                "FACTURER À", "Sous-total HT", "Sous-total TTC", "PRIX UNITAIRE"]),
        ("de", ["Rechnung", "Rechnungsnummer", "Rechnungsdatum", "Zahlungsziel 30 Tage",
                "RECHNUNG AN", "Zwischensumme (netto)", "Zwischensumme (brutto)", "EINZELPREIS"]),
        ("pt-BR", ["Fatura", "Número da fatura", "Data de emissão", "Prazo de pagamento 30 dias",
                   "COBRAR DE", "Subtotal (sem impostos)", "Subtotal (com impostos)",
                   "PREÇO UNITÁRIO"]),
    ],
)  # fmt: skip
def test_translated_labels_money_and_dates(
    rendered: Rendered, locale: str, labels: list[str]
) -> None:
    from datetime import date

    html, text = rendered.html[locale], flat(rendered.text[locale])
    for label in labels:
        assert label in text, label
    total = rendered.api["total_amount_cents"]
    # Babel's exact strings in the HTML (narrow and non-breaking spaces included)...
    expected = {
        "fr": ("673,02\xa0€", "1 décembre 2026", "31 décembre 2026"),
        "de": ("673,02\xa0€", "1. Dezember 2026", "31. Dezember 2026"),
        "pt-BR": ("€\xa0673,02", "1 de dezembro de 2026", "31 de dezembro de 2026"),
    }[locale]
    assert format_money(total, "EUR", locale) == expected[0]
    assert format_date(date(2026, 12, 1), locale) == expected[1]
    for value in expected:
        assert value in html, value
    # ...and read back from the PDF.
    assert plain(expected[0]) in text and expected[1] in text and expected[2] in text
    tax_line = {
        "fr": "VAT (20 % sur 560,85 €) 112,17 €",
        "de": "VAT (20 % auf 560,85 €) 112,17 €",
        "pt-BR": "VAT (20% sobre € 560,85) € 112,17",
    }[locale]
    assert tax_line in text


def test_hostile_customer_data_is_escaped(rendered: Rendered) -> None:
    html = rendered.hostile_html
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html


def test_every_locale_s_markup_reads_as_xml(rendered: Rendered) -> None:
    for html in [*rendered.html.values(), rendered.hostile_html]:
        assert_read_as_xml(html)


# ---------------------------------------------------------------------------------------
# One-off and credit (wallet top-up) invoices, through the API


@pytest.fixture(scope="module")
def api_org(database: Database) -> Org:
    return make_org(database, "Initech")


@pytest.fixture(scope="module")
def client(server: str, api_org: Org) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server + "/api/v1",
        headers={"Authorization": f"Bearer {api_org.api_key}"},
        timeout=30,
    ) as http:
        yield http


def document_of(database: Database, invoice_id: str) -> tuple[str, str]:
    with database.transaction(write=False) as session:
        html = invoice_html(session, find_invoice(session, invoice_id), BILLED_AT)
    assert_read_as_xml(html)
    return html, pdf_text(html_to_pdf(html))


def test_one_off_invoice(database: Database, client: httpx.Client) -> None:
    customer = {"external_id": "acme", "name": "Acme Retail", "currency": "EUR",
                "country": "DE", "city": "Berlin", "zipcode": "10115",
                "address_line1": "Invalidenstraße 1"}  # fmt: skip
    assert client.post("/customers", json={"customer": customer}).status_code == 200
    client.post("/taxes", json={"tax": {"code": "vat19", "name": "MwSt", "rate": 19}})
    for code, name, cents in (("setup", "Onboarding", 50_000), ("training", "Training", 12_050)):
        body = {"add_on": {"code": code, "name": name, "amount_cents": cents,
                           "amount_currency": "EUR", "tax_codes": ["vat19"]}}  # fmt: skip
        assert client.post("/add_ons", json=body).status_code == 200
    fees = [
        {"add_on_code": "setup", "description": "Kick-off workshop"},
        {"add_on_code": "training", "units": 3,
         "from_datetime": "2026-11-02T00:00:00Z", "to_datetime": "2026-11-04T00:00:00Z"},
    ]  # fmt: skip
    response = client.post("/invoices", json={"invoice": {
        "external_customer_id": "acme", "currency": "EUR", "fees": fees}})  # fmt: skip
    assert response.status_code == 200, response.text
    api = response.json()["invoice"]
    html, text = document_of(database, api["lago_id"])
    save_png(html_to_pdf(html), f"one-off-{database.engine.dialect.name}")
    text = flat(text)
    assert api["invoice_type"] == "one_off"
    assert f"Invoice {api['number']}" in text
    # Headings print in capitals (CSS); the HTML holds them as written.
    assert "ITEM UNITS UNIT PRICE TAX RATE AMOUNT" in text
    assert f"Onboarding Kick-off workshop 1 €500.00 19% {money(50_000)}" in text
    assert "Training From November 2, 2026 to November 4, 2026 3 €120.50 19%" in text
    assert f"19% {money(36_150)}" in text
    assert (api["sub_total_excluding_taxes_amount_cents"], api["taxes_amount_cents"],
            api["total_amount_cents"]) == (86_150, 16_369, 102_519)  # fmt: skip
    assert f"Subtotal (excl. tax) {money(86_150)}" in text
    assert f"MwSt (19% on {money(86_150)}) {money(16_369)}" in text
    assert f"Total {money(102_519)}" in text
    assert "Invalidenstraße 1 10115 Berlin Germany" in text


def test_credit_invoice_of_a_wallet_top_up(database: Database, client: httpx.Client) -> None:
    client.post("/customers", json={"customer": {"external_id": "topper", "name": "Top Up Ltd",
                                                 "currency": "EUR"}})  # fmt: skip
    wallet = client.post("/wallets", json={"wallet": {
        "external_customer_id": "topper", "rate_amount": "2", "name": "Main wallet",
        "currency": "EUR", "invoice_requires_successful_payment": False,
    }}).json()["wallet"]  # fmt: skip
    made = client.post("/wallet_transactions", json={"wallet_transaction": {
        "wallet_id": wallet["lago_id"], "paid_credits": "25"}})  # fmt: skip
    [bought] = made.json()["wallet_transactions"]
    api = client.get(f"/invoices/{bought['lago_invoice_id']}").json()["invoice"]
    assert (api["invoice_type"], api["status"], api["total_amount_cents"]) == (
        "credit", "finalized", 5_000,
    )  # fmt: skip
    html, text = document_of(database, api["lago_id"])
    save_png(html_to_pdf(html), f"credit-{database.engine.dialect.name}")
    text = flat(text)
    assert text.startswith(f"Advance invoice {api['number']}")
    assert f"Prepaid credits – Main wallet 25 €2.00 {money(5_000)}" in text
    assert f"Total {money(5_000)}" in text
    assert "Tax rate" not in text and "TAX RATE" not in text


# ---------------------------------------------------------------------------------------
# The PDF engine


def test_pdf_a3_variant(rendered: Rendered) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    reader = PdfReader(BytesIO(html_to_pdf(rendered.html["en"], pdf_a3=True)))
    assert "/OutputIntents" in reader.trailer["/Root"]
    assert reader.xmp_metadata is not None
    xmp = reader.xmp_metadata.stream.get_data()
    assert b'pdfaid:part="3"' in xmp and b'pdfaid:conformance="B"' in xmp


@pytest.mark.parametrize(
    "markup",
    [
        "<p>Only a fragment</p>",
        "<!DOCTYPE html><html><head><title>t</title></head>"
        "<body><p>Line<br>break</p></body></html>",
        '<html><head><title>t</title></head><body><p title="a\nb">Break in an attribute</p>'
        "</body></html>",
        "<html><head><base href='https://example.com/'></head><body><p>Base</p></body></html>",
    ],
)
def test_markup_that_is_not_plain_xml_is_read_as_html(markup: str) -> None:
    from meterbill.documents.pdf_tree import xml_tree

    assert xml_tree(markup) is None
    text = " ".join(pdf_text(html_to_pdf(markup)).split())
    assert text in {"Only a fragment", "Linebreak", "Line break", "Break in an attribute", "Base"}


def test_a_document_reads_data_urls_and_nothing_else(tmp_path: Path) -> None:
    """The logo comes as a data: URL; a file on disk named by a document is not read,
    also by a second document made with the same (kept) URL fetcher."""
    from io import BytesIO

    from pypdf import PdfReader

    logo = png_logo()
    on_disk = tmp_path / "logo.png"
    on_disk.write_bytes(base64.b64decode(logo.split(",", 1)[1]))

    def images(source: str) -> int:
        markup = (
            "<!DOCTYPE html><html><head><title>t</title></head>"
            f'<body><p>Logo</p><img src="{source}" alt="" /></body></html>'
        )
        return len(PdfReader(BytesIO(html_to_pdf(markup))).pages[0].images)

    assert images(logo) == 1
    assert images(on_disk.as_uri()) == 0
    assert images(logo) == 1


def test_engine_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from meterbill.documents.pdf import PdfEngineUnavailable

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import now raises ImportError
    with pytest.raises(PdfEngineUnavailable, match="WeasyPrint"):
        html_to_pdf("<p>x</p>")


def test_meterbill_starts_without_loading_weasyprint() -> None:
    import os
    import subprocess
    import sys

    code = ("import sys, meterbill.app, meterbill.documents.rendering, meterbill.documents.pdf; "
            "assert 'weasyprint' not in sys.modules")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
