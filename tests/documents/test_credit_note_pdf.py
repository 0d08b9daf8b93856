"""Credit note documents: a note on a paid, taxed subscription invoice giving back part of
the plan fee and of a charge, half credited to the customer's balance and half refunded;
the same note in French."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.credit_notes.models import CreditNote
from meterbill.customers.models import Customer
from meterbill.documents.i18n import format_date, format_money
from meterbill.documents.pdf import html_to_pdf
from meterbill.documents.pdf_styles import forget_shared_styles, shared_style_count
from meterbill.documents.rendering import credit_note_html
from meterbill.invoices.models import Fee
from tests.conftest import make_org
from tests.documents.builders import (
    BILLED_AT,
    assert_read_as_xml,
    describe_issuer,
    pdf_text,
    plain,
    save_png,
)
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import issue, record_payment


def flat(text: str) -> str:
    return " ".join(plain(text).split())


def money(cents: int, locale: str = "en") -> str:
    return plain(format_money(cents, "EUR", locale))


@dataclass
class Rendered:
    note: CreditNote
    invoice_number: str
    html: dict[str, str]
    text: dict[str, str]


@pytest.fixture(scope="module")
def rendered(database: Database) -> Rendered:
    org = make_org(database, "Acme Cloud")
    describe_issuer(database, org)
    billing = Billing(database, org)
    billing.tax("vat", "20", name="VAT", applied_to_organization=True)
    calls = billing.metric("calls")
    billing.plan("basic", [{"billable_metric_id": calls, "charge_model": "standard",
                            "invoice_display_name": "API calls", "properties": {"amount": "1"}}],
                 name="Basic", amount_cents=10_000)  # fmt: skip
    billing.customer("cus", name="Umbrella Corp", currency="EUR", timezone="UTC",
                     country="GB", city="London", zipcode="EC1A 1BB",
                     address_line1="1 Raccoon Street",
                     metadata=[{"key": "Account", "value": "UMB-7", "display_in_invoice": True},
                               {"key": "risk", "value": "hidden-88",
                                "display_in_invoice": False}])  # fmt: skip
    billing.subscribe("cus", "basic", "sub", utc(2026, 11, 1))
    billing.events("sub", "calls", *[(utc(2026, 11, 5), {}) for _ in range(5)])
    billing.tick(BILLED_AT)
    [invoice] = billing.invoices()
    assert invoice.total_amount_cents == 12_600
    record_payment(billing, invoice.id, 12_600)
    with database.transaction(write=False) as session:
        fees = {fee.fee_type: fee.id for fee in session.scalars(
            select(Fee).where(Fee.invoice_id == invoice.id))}  # fmt: skip
    note = issue(
        billing, invoice.id, [(fees["subscription"], 5_000), (fees["charge"], 500)],
        reason="order_change", description="Downgraded mid-period",
        credit_amount_cents=3_600, refund_amount_cents=3_000,
    )  # fmt: skip
    html: dict[str, str] = {}
    text: dict[str, str] = {}
    with database.transaction(write=False) as session:
        found = session.get(CreditNote, note.id)
        assert found is not None
        customer = session.get(Customer, found.customer_id)
        assert customer is not None
        for locale in ("en", "fr"):
            customer.document_locale = locale
            html[locale] = credit_note_html(session, found, BILLED_AT)
        customer.name = "<script>alert(1)</script>"
        html["hostile"] = credit_note_html(session, found, BILLED_AT)
        session.rollback()
    for locale in ("en", "fr"):
        pdf = html_to_pdf(html[locale])
        text[locale] = flat(pdf_text(pdf))
        save_png(pdf, f"credit-note-{locale}-{database.engine.dialect.name}")
    return Rendered(note, invoice.number, html, text)


def test_credit_note_figures(rendered: Rendered) -> None:
    note, text = rendered.note, rendered.text["en"]
    # The note's own figures (those the API's credit note object carries).
    assert (
        note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents,
        note.total_amount_cents, note.credit_amount_cents, note.refund_amount_cents,
    ) == (5_500, 1_100, 6_600, 3_600, 3_000)  # fmt: skip
    assert text.startswith(f"Credit note {note.number}")
    assert f"Credit note number {note.number}" in text
    assert f"Invoice number {rendered.invoice_number}" in text
    issued = format_date(note.issuing_date, "en")
    assert f"Issue date {issued}" in text
    assert f"{money(6_600)} Issued on {issued}" in text  # credit and refund combined
    assert "Reason: Order change — Downgraded mid-period" in text
    assert "ITEM TAX RATE AMOUNT (EXCL. TAX)" in text
    assert f"Subscription – Basic 20% {money(5_000)}" in text
    assert f"API calls 20% {money(500)}" in text
    totals = [
        f"Subtotal (excl. tax) {money(5_500)}",
        f"VAT (20% on {money(5_500)}) {money(1_100)}",
        f"Credited on customer balance {money(3_600)}",
        f"Refunded {money(3_000)}",
        f"Total {money(6_600)}",
    ]
    positions = [text.index(line) for line in totals]
    assert positions == sorted(positions)


def test_credit_to_block_and_metadata(rendered: Rendered) -> None:
    text = rendered.text["en"]
    assert "CREDIT TO Umbrella Corp 1 Raccoon Street London EC1A 1BB United Kingdom" in text
    assert "Account UMB-7" in text and "hidden-88" not in text


def test_credit_note_in_french(rendered: Rendered) -> None:
    text, html = rendered.text["fr"], rendered.html["fr"]
    issued = format_date(rendered.note.issuing_date, "fr")
    assert issued == format_date(date(2030, 1, 1), "fr") == "1 janvier 2030"
    for label in ("Avoir", "Numéro d'avoir", "CRÉDITÉ À", "Motif: Modification de commande",
                  f"Émis le {issued}", "Sous-total HT", "Crédité sur le solde client",
                  "Remboursé", "Royaume-Uni", "Abonnement – Basic"):  # fmt: skip
        assert label in text, label
    assert format_money(6_600, "EUR", "fr") in html  # "66,00\xa0€"
    assert f"Total {money(6_600, 'fr')}" in text


def test_hostile_name_is_escaped(rendered: Rendered) -> None:
    html = rendered.html["hostile"]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_documents_share_their_styles_and_come_out_the_same(rendered: Rendered) -> None:
    """A document's computed styles serve the next documents: the English note made
    right after the French and the hostile one is the same file as made on its own, and
    it finds every style it needs already computed."""
    forget_shared_styles()
    alone = html_to_pdf(rendered.html["en"])
    after_one = shared_style_count()
    assert after_one > 20
    french = html_to_pdf(rendered.html["fr"])
    html_to_pdf(rendered.html["hostile"])
    # The French note's root has another language, so its styles are its own.
    grown = shared_style_count()
    assert grown > after_one
    assert html_to_pdf(rendered.html["en"]) == alone
    assert shared_style_count() == grown
    forget_shared_styles()
    assert html_to_pdf(rendered.html["fr"]) == french


def test_every_note_s_markup_reads_as_xml(rendered: Rendered) -> None:
    for html in rendered.html.values():
        assert_read_as_xml(html)


def test_documents_made_on_several_threads_at_once_are_the_same(rendered: Rendered) -> None:
    """Each thread keeps its own styles (the dashboard's downloads render on a pool)."""
    from concurrent.futures import ThreadPoolExecutor

    locales = ["en", "fr", "hostile"] * 3
    alone = {locale: html_to_pdf(rendered.html[locale]) for locale in ("en", "fr", "hostile")}
    with ThreadPoolExecutor(3) as pool:
        made = list(pool.map(lambda locale: html_to_pdf(rendered.html[locale]), locales))
    assert made == [alone[locale] for locale in locales]
