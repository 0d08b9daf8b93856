"""An invoice of two subscriptions (Lago's `_subscriptions_summary`): after the amount, one
line per subscription with its fees' total excl. tax, then the invoice's totals, then each
subscription's details ending with its own subtotal. Every figure is the API's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.documents.i18n import format_money
from meterbill.documents.pdf import html_to_pdf
from meterbill.documents.rendering import invoice_html
from tests.documents.builders import (
    BILLED_AT,
    api_invoice,
    assert_read_as_xml,
    find_invoice,
    pdf_text,
    plain,
    save_png,
    set_locale,
    two_subscriptions_invoice,
)


def flat(text: str) -> str:
    return " ".join(plain(text).split())


def money(cents: int, locale: str = "en") -> str:
    return plain(format_money(cents, "EUR", locale))


@dataclass
class Rendered:
    api: dict[str, Any]
    text: str
    text_fr: str


@pytest.fixture(scope="module")
def rendered(database: Database) -> Rendered:
    org, invoice_id = two_subscriptions_invoice(database)
    with database.transaction(write=False) as session:
        invoice = find_invoice(session, invoice_id)
        api = api_invoice(session, org, invoice)
        html = invoice_html(session, invoice, BILLED_AT)
        set_locale(session, invoice, "fr")
        html_fr = invoice_html(session, invoice, BILLED_AT)
        session.rollback()
    assert_read_as_xml(html)
    assert_read_as_xml(html_fr)
    pdf = html_to_pdf(html)
    save_png(pdf, f"invoice-two-subscriptions-{database.engine.dialect.name}")
    return Rendered(api, flat(pdf_text(pdf)), flat(pdf_text(html_to_pdf(html_fr))))


NAMES = {"multi-1": "Starter plan", "multi-2": "Analytics workspace"}


def subscription_totals(api: dict[str, Any]) -> dict[str, int]:
    """Each subscription's fees' amounts summed, from the API's fees."""
    totals: dict[str, int] = {}
    for fee in api["fees"]:
        key = fee["external_subscription_id"]
        totals[key] = totals.get(key, 0) + fee["amount_cents"]
    return totals


def in_order(api: dict[str, Any]) -> list[str]:
    """The subscriptions in the invoice's order (the API's billing periods)."""
    return [entry["external_subscription_id"] for entry in api["billing_periods"]]


def test_the_api_invoice_bills_both_subscriptions(rendered: Rendered) -> None:
    api = rendered.api
    assert len(api["subscriptions"]) == 2 and sorted(in_order(api)) == ["multi-1", "multi-2"]
    # 29.00 + 30 × 0.05; 49.00 + 15.5 GB × 1.25 (rounded half up).
    assert subscription_totals(api) == {"multi-1": 3_050, "multi-2": 6_838}
    assert (
        api["fees_amount_cents"], api["coupons_amount_cents"],
        api["sub_total_excluding_taxes_amount_cents"], api["taxes_amount_cents"],
        api["sub_total_including_taxes_amount_cents"], api["total_amount_cents"],
    ) == (9_888, 500, 9_388, 1_878, 11_266, 11_266)  # fmt: skip


def test_summary_lines_then_invoice_totals(rendered: Rendered) -> None:
    api, text = rendered.api, rendered.text
    totals = subscription_totals(api)
    [tax] = api["applied_taxes"]
    # The plan's invoice display name for the unnamed one, the subscription's own name else.
    lines = " ".join(f"{NAMES[key]} {money(totals[key])}" for key in in_order(api))
    summary = (
        f"SUBSCRIPTION TOTAL (EXCL. TAX) {lines} "
        f"launch ({money(500)}) {money(-api['coupons_amount_cents'])} "
        f"Subtotal (excl. tax) {money(api['sub_total_excluding_taxes_amount_cents'])} "
        f"VAT (20% on {money(tax['fees_amount_cents'])}) {money(tax['amount_cents'])} "
        f"Subtotal (incl. tax) {money(api['sub_total_including_taxes_amount_cents'])} "
        f"Total {money(api['total_amount_cents'])} "
    )
    # Right after the amount block, then the footer closes page 1 (as Lago's); the
    # totals only once.
    amount = f"{money(api['total_amount_cents'])} Due on December 31, 2026 "
    footer = "Acme Cloud SAS — IBAN FR76 3000 6000 0112 3456 7890 189 "
    assert amount + summary + footer + "1 / 3 " in text
    assert text.count(footer) == 1
    assert text.count("Subtotal (incl. tax)") == 1
    assert text.count(f"Total {money(api['total_amount_cents'])}") == 1


def test_each_details_section_ends_with_its_subtotal(rendered: Rendered) -> None:
    api, text = rendered.api, rendered.text
    totals = subscription_totals(api)
    first, second = in_order(api)
    starts = [text.index(f"{NAMES[key]} details") for key in (first, second)]
    sections = {first: text[starts[0] : starts[1]], second: text[starts[1] :]}
    # Each subscription on a page of its own (pages 2 and 3), ending with its subtotal.
    for page, key in ((2, first), (3, second)):
        assert sections[key].rstrip().endswith(f"Subtotal {money(totals[key])} {page} / 3")
        assert sections[key].count("Subtotal") == 1
    assert f"Starter plan 1 {money(2_900)} 20% {money(2_900)}" in sections["multi-1"]
    assert f"API calls 30 €0.05 20% {money(150)}" in sections["multi-1"]
    data = sections["multi-2"]
    assert f"Monthly subscription – Data 1 {money(4_900)} 20% {money(4_900)}" in data
    assert f"Storage 15.5 €1.25 20% {money(1_938)}" in data
    assert money(totals["multi-2"]) == money(4_900 + 1_938)


def test_labels_are_translated(rendered: Rendered) -> None:
    text, api = rendered.text_fr, rendered.api
    totals = subscription_totals(api)
    lines = " ".join(f"{NAMES[key]} {money(totals[key], 'fr')}" for key in in_order(api))
    assert f"ABONNEMENT TOTAL HT {lines} launch" in text
    for key in in_order(api):
        assert f"Sous-total {money(totals[key], 'fr')}" in text
    assert f"Sous-total TTC {money(api['sub_total_including_taxes_amount_cents'], 'fr')}" in text
