"""E-invoices (reference/webhooks-and-documents.md §6): the CII XML of real invoices and
credit notes made by the services and the clock, checked against the Factur-X EN 16931
schema, against EN 16931's arithmetic rules (BR-CO-*, BR-S-08/09) and against the
document's own API amounts; and the Factur-X PDF that carries the XML."""

from __future__ import annotations

import io
import uuid
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import facturx
import pypdf
import pytest
import weasyprint
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from meterbill.add_ons.schemas import parse_add_on
from meterbill.add_ons.service import create_add_on
from meterbill.core.db import Database
from meterbill.credit_notes.models import CreditNote
from meterbill.customers.models import Customer
from meterbill.documents.einvoice import (
    EINVOICING_COUNTRIES,
    EInvoiceInvalid,
    _Document,
    _groups,
    _Line,
    _render,
    applies,
    check,
    credit_note_xml,
    embed,
    invoice_xml,
)
from meterbill.invoices.models import Invoice
from meterbill.invoices.one_off import create_one_off_invoice, parse_one_off
from meterbill.organizations.models import Organization
from meterbill.organizations.service import update_organization
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import e15, issue, plan_fee
from tests.scenarios.wallets import Wallets

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
SUMMATION = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
LINES = "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
LINE_TOTALS = (
    f"{LINES}/ram:SpecifiedLineTradeSettlement/"
    "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
)
CENT = Decimal("0.01")

ISSUER = {
    "country": "FR",
    "legal_name": "Acme SAS",
    "legal_number": "123456789",
    "tax_identification_number": "FR32123456789",
    "address_line1": "1 rue de la Paix",
    "zipcode": "75002",
    "city": "Paris",
    "email": "billing@acme.test",
}
BUYER = {
    "name": "Beta",
    "legal_name": "Beta GmbH",
    "legal_number": "HRB 12345",
    "tax_identification_number": "DE123456789",
    "address_line1": "Hauptstrasse 1",
    "zipcode": "10115",
    "city": "Berlin",
    "country": "DE",
    "email": "ap@beta.test",
}


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    with database.transaction() as session:
        update_organization(session, org.id, dict(ISSUER), utc(2020, 1, 1))
    return billing


def load_invoice_xml(billing: Billing, invoice_id: Any) -> tuple[bytes, Invoice]:
    with billing.database.transaction(write=False) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        xml = invoice_xml(session, invoice)
        session.expunge_all()
        return xml, invoice


def load_note_xml(billing: Billing, note_id: uuid.UUID) -> tuple[bytes, CreditNote]:
    with billing.database.transaction(write=False) as session:
        note = session.get(CreditNote, note_id)
        assert note is not None
        xml = credit_note_xml(session, note)
        session.expunge_all()
        return xml, note


def text(tree: etree._Element, path: str) -> str:
    found = tree.findtext(path, namespaces=NS)
    assert found is not None, path
    return found


def amount(tree: etree._Element, path: str) -> Decimal:
    return Decimal(text(tree, path))


def amounts(tree: etree._Element, path: str) -> list[Decimal]:
    return [Decimal(node.text) for node in tree.findall(path, namespaces=NS)]


def euros(cents: int) -> Decimal:
    return Decimal(cents) / 100


def optional(tree: etree._Element, path: str) -> Decimal:
    found = tree.findtext(path, namespaces=NS)
    return Decimal(found) if found is not None else Decimal(0)


def assert_en16931_arithmetic(tree: etree._Element) -> None:
    """The calculation rules of EN 16931 the XSD does not check (BR-CO-10..16, BR-S-08,
    BR-CO-17 / BR-S-09 to 2 cents rather than their ±1 unit tolerance)."""
    lines = amounts(tree, LINE_TOTALS)
    line_total = amount(tree, f"{SUMMATION}/ram:LineTotalAmount")
    assert sum(lines) == line_total  # BR-CO-10
    allowances, charges = Decimal(0), Decimal(0)
    by_group: dict[tuple[str, Decimal], Decimal] = {}
    for node in tree.findall(f"{SETTLEMENT}/ram:SpecifiedTradeAllowanceCharge", NS):
        value = Decimal(text(node, "ram:ActualAmount"))
        key = (text(node, "ram:CategoryTradeTax/ram:CategoryCode"),
               optional(node, "ram:CategoryTradeTax/ram:RateApplicablePercent"))  # fmt: skip
        if text(node, "ram:ChargeIndicator/udt:Indicator") == "true":
            charges += value
            by_group[key] = by_group.get(key, Decimal(0)) + value
        else:
            allowances += value
            by_group[key] = by_group.get(key, Decimal(0)) - value
    assert optional(tree, f"{SUMMATION}/ram:AllowanceTotalAmount") == allowances  # BR-CO-11
    assert optional(tree, f"{SUMMATION}/ram:ChargeTotalAmount") == charges  # BR-CO-12
    basis = amount(tree, f"{SUMMATION}/ram:TaxBasisTotalAmount")
    assert basis == line_total - allowances + charges  # BR-CO-13
    tax_total = amount(tree, f"{SUMMATION}/ram:TaxTotalAmount")
    breakdown = tree.findall(f"{SETTLEMENT}/ram:ApplicableTradeTax", NS)
    assert sum(Decimal(text(node, "ram:CalculatedAmount")) for node in breakdown) == tax_total
    assert sum(Decimal(text(node, "ram:BasisAmount")) for node in breakdown) == basis
    for node in breakdown:  # BR-S-08 (and E/Z-08), BR-CO-17
        category = text(node, "ram:CategoryCode")
        rate = optional(node, "ram:RateApplicablePercent")  # absent for "O"
        group_lines = sum(
            Decimal(text(item, "ram:SpecifiedLineTradeSettlement/"
                               "ram:SpecifiedTradeSettlementLineMonetarySummation/"
                               "ram:LineTotalAmount"))
            for item in tree.findall(LINES, NS)
            if text(item, "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/"
                          "ram:CategoryCode") == category
            and optional(item, "ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/"
                               "ram:RateApplicablePercent") == rate
        )  # fmt: skip
        group_basis = Decimal(text(node, "ram:BasisAmount"))
        assert group_basis == group_lines + by_group.get((category, rate), Decimal(0))
        calculated = Decimal(text(node, "ram:CalculatedAmount"))
        # The schematron allows ±1 (a whole unit); a group's tax is within a cent of its
        # exact tax, whose basis is within a cent of the rounded one: 2 cents at most.
        assert abs(calculated - group_basis * rate / 100) < 2 * CENT
    grand = amount(tree, f"{SUMMATION}/ram:GrandTotalAmount")
    assert grand == basis + tax_total  # BR-CO-15
    prepaid = optional(tree, f"{SUMMATION}/ram:TotalPrepaidAmount")
    assert amount(tree, f"{SUMMATION}/ram:DuePayableAmount") == grand - prepaid  # BR-CO-16
    assert tax_total == amount(tree, f"{SUMMATION}/ram:TaxTotalAmount[@currencyID]")


def assert_totals(tree: etree._Element, invoice: Invoice) -> None:
    """The XML's totals are the invoice's API figures, line by line and in sum."""
    lines = amounts(tree, LINE_TOTALS)
    assert lines == [euros(fee.amount_cents) for fee in invoice.fees]
    assert amount(tree, f"{SUMMATION}/ram:LineTotalAmount") == euros(invoice.fees_amount_cents)
    assert optional(tree, f"{SUMMATION}/ram:AllowanceTotalAmount") == euros(
        invoice.coupons_amount_cents
    )
    assert amount(tree, f"{SUMMATION}/ram:TaxBasisTotalAmount") == euros(
        invoice.sub_total_excluding_taxes_amount_cents
    )
    assert amount(tree, f"{SUMMATION}/ram:TaxTotalAmount") == euros(invoice.taxes_amount_cents)
    assert amount(tree, f"{SUMMATION}/ram:GrandTotalAmount") == euros(
        invoice.sub_total_including_taxes_amount_cents
    )
    assert optional(tree, f"{SUMMATION}/ram:TotalPrepaidAmount") == euros(
        invoice.credit_notes_amount_cents + invoice.prepaid_credit_amount_cents
    )
    assert amount(tree, f"{SUMMATION}/ram:DuePayableAmount") == euros(invoice.total_amount_cents)


def add_on(billing: Billing, code: str, cents: int) -> None:
    body = {"name": code.title(), "code": code, "amount_cents": cents, "amount_currency": "EUR"}
    with billing.database.transaction() as session:
        create_add_on(session, billing.org.id, parse_add_on(body, creating=True), utc(2020, 1, 1))


def one_off(billing: Billing, customer: str, fees: list[dict[str, Any]]) -> uuid.UUID:
    with billing.database.transaction() as session:
        body = {"external_customer_id": customer, "currency": "EUR", "fees": fees}
        invoice = create_one_off_invoice(
            session, billing.org.id, parse_one_off(body), utc(2026, 3, 10, 9)
        )
        return invoice.id


def test_applies_to_issuers_in_france_and_germany() -> None:
    assert sorted(EINVOICING_COUNTRIES) == ["DE", "FR"]
    assert applies(Organization(name="a", country="FR"))
    assert applies(Organization(name="a", country="DE"))
    assert not applies(Organization(name="a", country="US"))
    assert not applies(Organization(name="a", country=None))


def test_subscription_invoice_with_usage_and_20_percent_tax(billing: Billing) -> None:
    billing.tax("vat", "20", applied_to_organization=True)
    calls = billing.metric("api_calls")
    billing.plan("pro", [{"billable_metric_id": calls, "charge_model": "standard",
                          "properties": {"amount": "0.35"}}], amount_cents=4_999)  # fmt: skip
    billing.customer("beta", timezone="UTC", currency="EUR", **BUYER)
    billing.subscribe("beta", "pro", "sub", utc(2026, 1, 1))
    billing.events("sub", "api_calls", *[(utc(2026, 1, day, 10), {}) for day in range(1, 8)])
    billing.tick(utc(2026, 2, 1, 1))
    [row] = billing.invoices()
    assert row.status == "finalized"
    xml, invoice = load_invoice_xml(billing, row.id)
    check(xml)
    tree = etree.fromstring(xml)
    assert facturx.get_level(tree) == "en16931"
    assert facturx.get_flavor(tree) == "factur-x"
    assert text(tree, "rsm:ExchangedDocument/ram:ID") == invoice.number
    assert text(tree, "rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert text(tree, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == (
        invoice.issuing_date.strftime("%Y%m%d")
    )
    assert text(tree, f"{SETTLEMENT}/ram:InvoiceCurrencyCode") == "EUR"
    due = f"{SETTLEMENT}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    assert text(tree, due) == invoice.payment_due_date.strftime("%Y%m%d")
    agreement = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
    seller, buyer = f"{agreement}/ram:SellerTradeParty", f"{agreement}/ram:BuyerTradeParty"
    assert text(tree, f"{seller}/ram:Name") == "Acme SAS"
    assert text(tree, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID") == "123456789"
    assert text(tree, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID") == "FR32123456789"
    assert text(tree, f"{seller}/ram:PostalTradeAddress/ram:CountryID") == "FR"
    assert text(tree, f"{buyer}/ram:Name") == "Beta GmbH"
    assert text(tree, f"{buyer}/ram:SpecifiedTaxRegistration/ram:ID") == "DE123456789"
    assert text(tree, f"{buyer}/ram:PostalTradeAddress/ram:CityName") == "Berlin"
    # Two lines (plan 49.99, 7 calls at 0.35 = 2.45), both standard-rated at 20 %.
    assert [fee.amount_cents for fee in invoice.fees] == [4_999, 245]
    assert [line.findtext("ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/"
                          "ram:RateApplicablePercent", namespaces=NS)
            for line in tree.findall(LINES, NS)] == ["20", "20"]  # fmt: skip
    assert amounts(tree, f"{LINES}/ram:SpecifiedLineTradeDelivery/ram:BilledQuantity") == [1, 7]
    price = f"{LINES}/ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice"
    assert amounts(tree, f"{price}/ram:ChargeAmount") == [Decimal("49.99"), Decimal("0.35")]
    assert invoice.taxes_amount_cents == 1_049
    tax = f"{SETTLEMENT}/ram:ApplicableTradeTax"
    assert amount(tree, f"{tax}/ram:CalculatedAmount") == Decimal("10.49")
    assert amount(tree, f"{tax}/ram:BasisAmount") == Decimal("52.44")
    assert_totals(tree, invoice)
    assert_en16931_arithmetic(tree)


def test_coupons_and_two_rates_spread_to_the_cent(billing: Billing) -> None:
    # E15: a 10 % plan and a 10 % + 10 % plan, a 250 EUR coupon on the second.
    october = e15(billing)
    xml, invoice = load_invoice_xml(billing, october.id)
    check(xml)
    tree = etree.fromstring(xml)
    assert invoice.coupons_amount_cents == 25_000
    assert_totals(tree, invoice)
    assert_en16931_arithmetic(tree)
    groups = {
        text(node, "ram:RateApplicablePercent"): (
            Decimal(text(node, "ram:BasisAmount")), Decimal(text(node, "ram:CalculatedAmount")))
        for node in tree.findall(f"{SETTLEMENT}/ram:ApplicableTradeTax", NS)
    }  # fmt: skip
    # 179 at 10 %; 399 - 250 of coupon at 20 %.
    assert groups == {"10": (Decimal("179.00"), Decimal("17.90")),
                      "20": (Decimal("149.00"), Decimal("29.80"))}  # fmt: skip
    allowances = tree.findall(f"{SETTLEMENT}/ram:SpecifiedTradeAllowanceCharge", NS)
    assert [(text(node, "ram:ActualAmount"),
             text(node, "ram:CategoryTradeTax/ram:RateApplicablePercent"))
            for node in allowances] == [("250.00", "20")]  # fmt: skip


def test_credit_note_is_a_381_referencing_the_invoice(billing: Billing) -> None:
    october = e15(billing)
    fee = plan_fee(billing, october.id, 39_900)
    issued = issue(billing, october.id, [(fee, 26_260)], credit_amount_cents=11_767)
    xml, note = load_note_xml(billing, issued.id)
    check(xml)
    tree = etree.fromstring(xml)
    assert text(tree, "rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert text(tree, "rsm:ExchangedDocument/ram:ID") == note.number
    reference = f"{SETTLEMENT}/ram:InvoiceReferencedDocument"
    assert text(tree, f"{reference}/ram:IssuerAssignedID") == october.number
    assert text(tree, f"{reference}/ram:FormattedIssueDateTime/qdt:DateTimeString") == (
        october.issuing_date.strftime("%Y%m%d")
    )
    assert amounts(tree, LINE_TOTALS) == [Decimal("262.60")]
    assert (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents,
            note.total_amount_cents) == (9_806, 1_961, 11_767)  # fmt: skip
    assert amount(tree, f"{SUMMATION}/ram:TaxBasisTotalAmount") == Decimal("98.06")
    assert amount(tree, f"{SUMMATION}/ram:TaxTotalAmount") == Decimal("19.61")
    assert amount(tree, f"{SUMMATION}/ram:GrandTotalAmount") == Decimal("117.67")
    assert amount(tree, f"{SUMMATION}/ram:DuePayableAmount") == Decimal("117.67")
    assert_en16931_arithmetic(tree)


def test_untaxed_one_off_invoice_is_exempt(billing: Billing) -> None:
    billing.customer("beta", timezone="UTC", currency="EUR", **BUYER)
    add_on(billing, "setup", 10_000)
    invoice_id = one_off(billing, "beta", [{"add_on_code": "setup", "units": "2.5",
                                            "unit_amount_cents": 1_234}])  # fmt: skip
    xml, invoice = load_invoice_xml(billing, invoice_id)
    check(xml)
    tree = etree.fromstring(xml)
    assert (invoice.invoice_type, invoice.status) == ("one_off", "finalized")
    assert invoice.fees_amount_cents == 3_085
    assert text(tree, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CategoryCode") == "E"
    assert text(tree, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:ExemptionReason")
    assert amount(tree, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CalculatedAmount") == 0
    assert_totals(tree, invoice)
    assert_en16931_arithmetic(tree)


def test_embed_makes_a_facturx_pdf(billing: Billing) -> None:
    billing.tax("vat", "20", applied_to_organization=True)
    billing.customer("beta", timezone="UTC", currency="EUR", **BUYER)
    add_on(billing, "setup", 10_000)
    xml, invoice = load_invoice_xml(billing, one_off(billing, "beta", [{"add_on_code": "setup"}]))
    assert invoice.total_amount_cents == 12_000
    pdf = weasyprint.HTML(string=f"<h1>Invoice {invoice.number}</h1>").write_pdf(
        pdf_variant="pdf/a-3b"
    )
    assert pdf is not None
    made = embed(pdf, xml)
    reader = pypdf.PdfReader(io.BytesIO(made))
    assert reader.attachments["factur-x.xml"] == [xml]
    filename, found = facturx.get_facturx_xml_from_pdf(made, check_xsd=True)
    assert (filename, found) == ("factur-x.xml", xml)
    metadata = reader.xmp_metadata
    assert metadata is not None
    raw = metadata.stream.get_data()
    assert b"urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in raw
    assert b"EN 16931" in raw
    assert b"<pdfaid:part>3</pdfaid:part>" in raw or b'pdfaid:part="3"' in raw


def test_check_refuses_an_invalid_xml(billing: Billing) -> None:
    billing.customer("beta", timezone="UTC", currency="EUR", **BUYER)
    add_on(billing, "setup", 10_000)
    xml, _invoice = load_invoice_xml(billing, one_off(billing, "beta", [{"add_on_code": "setup"}]))
    tree = etree.fromstring(xml)
    header = tree.find("rsm:ExchangedDocument", NS)
    assert header is not None
    header.remove(header.find("ram:TypeCode", NS))
    with pytest.raises(EInvoiceInvalid):
        check(etree.tostring(tree))
    with pytest.raises(EInvoiceInvalid):
        check(b"<not-an-invoice/>")


def test_taxes_rounded_once_are_spread_over_the_rates(billing: Billing) -> None:
    # 0.05 at 10 % and 0.10 at 5 %: half a cent of tax each, one cent on the invoice
    # (rounded once, billing.md §5.3). The breakdown gives the cent to one rate, so
    # that the rates sum to the invoice's tax (BR-CO-14), each within a cent of its own.
    billing.tax("ten", "10")
    billing.tax("five", "5")
    billing.customer("beta", timezone="UTC", currency="EUR", **BUYER)
    add_on(billing, "a", 5)
    add_on(billing, "b", 10)
    fees = [{"add_on_code": "a", "tax_codes": ["ten"]}, {"add_on_code": "b", "tax_codes": ["five"]}]
    invoice_id = one_off(billing, "beta", fees)
    xml, invoice = load_invoice_xml(billing, invoice_id)
    check(xml)
    tree = etree.fromstring(xml)
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents) == (15, 1)
    taxes = amounts(tree, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:CalculatedAmount")
    assert sorted(taxes) == [Decimal("0.00"), Decimal("0.01")]
    assert_totals(tree, invoice)
    assert_en16931_arithmetic(tree)


def test_credit_note_balance_spent_on_the_next_invoice_is_prepaid(billing: Billing) -> None:
    october = e15(billing)
    fee = plan_fee(billing, october.id, 39_900)
    issue(billing, october.id, [(fee, 26_260)], credit_amount_cents=11_767)
    billing.tick(utc(2023, 11, 19, 10))
    november = billing.invoices()[-1]
    xml, invoice = load_invoice_xml(billing, november.id)
    check(xml)
    tree = etree.fromstring(xml)
    assert invoice.credit_notes_amount_cents == 11_767
    assert amount(tree, f"{SUMMATION}/ram:TotalPrepaidAmount") == Decimal("117.67")
    assert_totals(tree, invoice)
    assert_en16931_arithmetic(tree)


def test_wallet_purchase_and_wallet_credits_spent(database: Database, org: Org) -> None:
    wallets = Wallets(database, org)
    with database.transaction() as session:
        update_organization(session, org.id, dict(ISSUER), utc(2020, 1, 1))
    wallets.tax("vat", "20", applied_to_organization=True)
    wallets.plan("pro", [], amount_cents=4_999)
    wallets.customer("beta", timezone="UTC", currency="EUR", **BUYER)
    wallets.wallet("beta", utc(2026, 1, 1), paid_credits="30", granted_credits="10")
    wallets.subscribe("beta", "pro", "sub", utc(2026, 1, 1))
    wallets.tick(utc(2026, 2, 1, 1))
    purchase, monthly = wallets.invoices()
    # The purchase of credits: a prepayment (386), not subject to VAT, no VAT ids (BR-O-*).
    xml, invoice = load_invoice_xml(wallets, purchase.id)
    check(xml)
    tree = etree.fromstring(xml)
    assert invoice.invoice_type == "credit"
    assert text(tree, "rsm:ExchangedDocument/ram:TypeCode") == "386"
    assert {node.text for node in tree.iterfind(".//ram:CategoryCode", NS)} == {"O"}
    assert tree.find(".//ram:SpecifiedTaxRegistration", NS) is None
    assert text(tree, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:ExemptionReasonCode") == (
        "VATEX-EU-O"
    )
    assert_totals(tree, invoice)
    assert_en16931_arithmetic(tree)
    # The month's invoice, paid in part by the wallet: the credits are prepaid.
    xml, invoice = load_invoice_xml(wallets, monthly.id)
    check(xml)
    tree = etree.fromstring(xml)
    assert invoice.prepaid_credit_amount_cents > 0
    assert amount(tree, f"{SUMMATION}/ram:TotalPrepaidAmount") == euros(
        invoice.prepaid_credit_amount_cents
    )
    assert_totals(tree, invoice)
    assert_en16931_arithmetic(tree)


def document(lines: list[_Line], basis: int, taxes: int) -> _Document:
    issuer = Organization(name="Acme", billing_entity_code="acme", **ISSUER)
    return _Document(
        type_code="380", number="ACM-1", issue_date=date(2026, 1, 1), currency="EUR",
        seller=issuer, buyer=Customer(external_id="beta", **BUYER), lines=lines,
        tax_basis_cents=basis, tax_total_cents=taxes, grand_total_cents=basis + taxes,
        prepaid_cents=0, due_cents=basis + taxes, due_date=None, payment_terms="Net 30 days",
    )  # fmt: skip


def test_a_document_without_fees_has_one_empty_line() -> None:
    xml = _render(document([], 0, 0))
    check(xml)
    tree = etree.fromstring(xml)
    assert amounts(tree, LINE_TOTALS) == [Decimal("0.00")]
    assert amount(tree, f"{SUMMATION}/ram:DuePayableAmount") == 0
    assert_en16931_arithmetic(tree)


RATES = st.sampled_from([Decimal(0), Decimal("5.5"), Decimal(10), Decimal(20)])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10**7), RATES, st.booleans()), min_size=1, max_size=8),
    st.fractions(0, 1),
)
def test_coupons_and_taxes_spread_over_the_rates_sum_to_the_totals(
    rows: list[tuple[int, Decimal, bool]], coupon: Fraction
) -> None:
    """Whatever the lines, the groups' allowances sum to the document's, their taxes to its
    tax, and each group's tax is within a cent of its own exact tax (BR-CO-14, BR-S-09)."""
    fees = sum(net for net, _rate, _eligible in rows)
    eligible = sum(net for net, _rate, chosen in rows if chosen)
    allowance = eligible * coupon.numerator // coupon.denominator
    lines = []
    for net, rate, chosen in rows:
        share = Decimal(allowance) * net / eligible if chosen and eligible else Decimal(0)
        lines.append(_Line("x", None, Decimal(1), Decimal(net) / 100, net, "S" if rate else "Z",
                           rate, share, (net - share) * rate / 100))  # fmt: skip
    exact_tax = sum((line.tax_weight for line in lines), Decimal(0))
    taxes = int(exact_tax.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    doc = document(lines, fees - allowance, taxes)
    groups = _groups(doc)
    assert sum(group.allowance_cents for group in groups) == allowance
    assert sum(group.tax_cents for group in groups) == taxes
    for group in groups:
        exact = sum(
            (line.tax_weight for line in lines if (line.category, line.rate) ==
             (group.category, group.rate)), Decimal(0),
        )  # fmt: skip
        assert abs(group.tax_cents - exact) <= 1
        if group.rate == 0:
            assert group.tax_cents == 0
    assert_en16931_arithmetic(etree.fromstring(_render(doc)))
