"""E-invoices: the CII XML (UN/CEFACT Cross Industry Invoice, Factur-X / ZUGFeRD profile
EN 16931) of an invoice or credit note, and the Factur-X PDF/A-3 that carries it.

Issuers in France and Germany get one (reference/webhooks-and-documents.md §6, Lago's
`EINVOICING_COUNTRIES`). The XML is built with plain lxml rather than drafthorse: the
element order is fixed by the schema we validate against anyway, every figure we write is
one we computed (drafthorse re-formats decimals and fills defaults of its own), and the
builder stays a short readable function of the document.

Figures. The monetary summation repeats the document's own `*_amount_cents` (what the API
returns): line total = fees (or credited items), tax basis = sub total excluding taxes,
tax total = taxes, grand total = sub total including taxes, prepaid = credit notes +
wallet credits, due payable = total. The difference between lines and tax basis is a
document-level allowance (coupons; a charge if it is negative, a rounding cent on credit
notes). Each allowance and each tax breakdown line carries one VAT category and rate, so
the coupons and the taxes are spread over the (category, rate) groups by their exact
shares (`_apportion`): the groups sum to the totals to the cent, as BR-CO-11/13/14 ask,
and a group's tax is within a cent of its exact share, well inside the ±1 tolerance of
BR-S-09 / BR-CO-17.

VAT categories (UNTDID 5305), one rate per line (a fee with several taxes uses their sum,
as the invoice's fee `taxes_rate` does):
- rate > 0: "S" (standard);
- a 0 % tax applied: "Z" (zero rated, no exemption reason allowed by BR-Z-10);
- no tax at all: "E" (exempt) with the reason text `EXEMPTION_REASON` (BR-E-10): the
  issuer chose not to tax, meterbill cannot know the legal ground;
- a prepaid-credit (wallet) invoice with no tax: "O" (not subject to VAT, reason code
  VATEX-EU-O), and then no VAT identifiers (BR-O-02..04), as Lago does.

Credit notes (381) carry positive amounts, as EN 16931 wants (Lago writes them negative).

Limits. `check` runs the XSD the factur-x package ships; its EN 16931 schematron is XSLT
2.0 (Saxon), so the business rules are not run here: the tests check the arithmetic ones.
Rules that depend on data the issuer may not have given fail on such data, whatever the
builder does: an issuer without a VAT number (BR-S-02, BR-Z-02, BR-E-02), a customer
without a country (no buyer address: BR-10, BR-11), a currency with three decimals (KWD,
BHD...: BR-DEC-*, amounts are written at the currency's exponent).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import facturx
from lxml import etree
from sqlalchemy.orm import Session

from meterbill.core.money import exponent, round_half_up, subunit_to_unit
from meterbill.credit_notes.models import CreditNote
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices.models import Fee, Invoice
from meterbill.organizations.models import Organization

EINVOICING_COUNTRIES = frozenset({"FR", "DE"})

FLAVOR = "factur-x"
LEVEL = "en16931"
GUIDELINE = "urn:cen.eu:en16931:2017"

COMMERCIAL_INVOICE = "380"
CREDIT_NOTE = "381"
PREPAID_INVOICE = "386"

UNIT_CODE = "C62"  # UN/ECE Rec. 20: "one"
DISCOUNT_REASON_CODE = "95"  # UNTDID 5189: discount
EXEMPTION_REASON = "Exempt from VAT"
NOT_SUBJECT_REASON_CODE = "VATEX-EU-O"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class EInvoiceInvalid(ValueError):
    """The XML does not validate against the Factur-X EN 16931 schema."""


def applies(organization: Organization) -> bool:
    """Whether the issuer gets e-invoices: its country is one of EINVOICING_COUNTRIES."""
    return (organization.country or "").upper() in EINVOICING_COUNTRIES


# ---------------------------------------------------------------------------------------
# The document as the builder sees it.


@dataclass(frozen=True)
class _Line:
    name: str
    description: str | None
    quantity: Decimal
    unit_price: Decimal  # major units
    net_cents: int
    category: str
    rate: Decimal
    coupon_weight: Decimal  # the exact coupon share on this line, in cents
    tax_weight: Decimal  # the exact tax on this line, in cents
    period: tuple[date, date] | None = None


@dataclass
class _Document:
    type_code: str
    number: str
    issue_date: date
    currency: str
    seller: Organization
    buyer: Customer
    lines: list[_Line]
    tax_basis_cents: int
    tax_total_cents: int
    grand_total_cents: int
    prepaid_cents: int
    due_cents: int
    due_date: date | None
    payment_terms: str
    notes: list[str] = field(default_factory=list)
    period: tuple[date, date] | None = None
    referenced: tuple[str, date] | None = None  # (invoice number, issue date)
    vat_registrations: bool = True

    @property
    def line_total_cents(self) -> int:
        return sum(line.net_cents for line in self.lines)


@dataclass(frozen=True)
class _Group:
    category: str
    rate: Decimal
    line_cents: int
    allowance_cents: int  # positive: allowance; negative: charge
    tax_cents: int

    @property
    def basis_cents(self) -> int:
        return self.line_cents - self.allowance_cents


def _apportion(total: int, exact: Sequence[Decimal], fallback: Sequence[Decimal]) -> list[int]:
    """`total` cents over groups whose exact shares are `exact`, summing to `total`.

    Each group is rounded half-up, then the cents the rounding gained or lost go to (or
    come from) the groups it moved furthest the other way: a group ends within a cent of
    its exact share, and a group with no share (a 0 % rate) gets nothing, as BR-Z-09 and
    BR-E-09 want. Exact shares summing to nothing (a rounding cent with no coupon behind
    it) fall back to `fallback`, scaled to the total."""
    if total == 0:
        return [0 for _share in exact]
    shares = list(exact)
    if not any(shares):
        weight = sum(fallback, ZERO)
        base = fallback if weight else [Decimal(1) for _share in exact]
        weight = sum(base, ZERO)
        shares = [Decimal(total) * share / weight for share in base]
    rounded = [int(round_half_up(share)) for share in shares]
    candidates = [index for index, share in enumerate(shares) if share != 0]
    candidates = candidates or list(range(len(shares)))
    gap = total - sum(rounded)
    step = 1 if gap > 0 else -1
    while gap != 0:
        # Most rounded the other way first; the earlier group on a tie.
        order = sorted(
            candidates, key=lambda index: (step * (rounded[index] - shares[index]), index)
        )
        for index in order[: abs(gap)]:
            rounded[index] += step
        gap = total - sum(rounded)
    return rounded


def _groups(document: _Document) -> list[_Group]:
    keys: list[tuple[str, Decimal]] = []
    lines: dict[tuple[str, Decimal], int] = {}
    coupons: dict[tuple[str, Decimal], Decimal] = {}
    taxes: dict[tuple[str, Decimal], Decimal] = {}
    for line in document.lines:
        key = (line.category, line.rate)
        if key not in lines:
            keys.append(key)
        lines[key] = lines.get(key, 0) + line.net_cents
        coupons[key] = coupons.get(key, ZERO) + line.coupon_weight
        taxes[key] = taxes.get(key, ZERO) + line.tax_weight
    allowance = document.line_total_cents - document.tax_basis_cents
    allowances = _apportion(
        allowance, [coupons[key] for key in keys], [Decimal(lines[key]) for key in keys]
    )
    bases = [Decimal(lines[key] - share) for key, share in zip(keys, allowances, strict=True)]
    taxed = [base * key[1] for key, base in zip(keys, bases, strict=True)]
    tax_shares = _apportion(document.tax_total_cents, [taxes[key] for key in keys], taxed)
    return [
        _Group(key[0], key[1], lines[key], share, tax)
        for key, share, tax in zip(keys, allowances, tax_shares, strict=True)
    ]


# ---------------------------------------------------------------------------------------
# Formatting.


def _amount(cents: int, currency: str) -> str:
    places = exponent(currency)
    value = Decimal(cents) / subunit_to_unit(currency)
    return str(value.quantize(Decimal(1).scaleb(-places)))


def _decimal(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def _day(value: date) -> str:
    return value.strftime("%Y%m%d")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _date_element(parent: etree._Element, tag: str, value: date, prefix: str = "udt") -> None:
    holder = _sub(parent, tag)
    _sub(holder, f"{prefix}:DateTimeString", _day(value), format="102")


# ---------------------------------------------------------------------------------------
# The XML.


def _party(parent: etree._Element, tag: str, party: Organization | Customer,
           identifier: str | None, name: str, vat: bool) -> None:  # fmt: skip
    element = _sub(parent, tag)
    if identifier:
        _sub(element, "ram:ID", identifier)
    _sub(element, "ram:Name", name)
    if party.legal_number:
        legal = _sub(element, "ram:SpecifiedLegalOrganization")
        _sub(legal, "ram:ID", party.legal_number)
    if party.country:
        address = _sub(element, "ram:PostalTradeAddress")
        if party.zipcode:
            _sub(address, "ram:PostcodeCode", party.zipcode)
        if party.address_line1:
            _sub(address, "ram:LineOne", party.address_line1)
        if party.address_line2:
            _sub(address, "ram:LineTwo", party.address_line2)
        if party.city:
            _sub(address, "ram:CityName", party.city)
        _sub(address, "ram:CountryID", party.country.upper())
        if party.state:
            _sub(address, "ram:CountrySubDivisionName", party.state)
    if party.email:
        uri = _sub(element, "ram:URIUniversalCommunication")
        _sub(uri, "ram:URIID", party.email.split(",")[0].strip(), schemeID="EM")
    if vat and party.tax_identification_number:
        registration = _sub(element, "ram:SpecifiedTaxRegistration")
        _sub(registration, "ram:ID", party.tax_identification_number, schemeID="VA")


def _seller_name(organization: Organization) -> str:
    return organization.legal_name or organization.name


def _buyer_name(customer: Customer) -> str:
    full = " ".join(part for part in (customer.firstname, customer.lastname) if part)
    return customer.legal_name or customer.name or full or customer.external_id


def _category_tax(parent: etree._Element, tag: str, category: str, rate: Decimal) -> None:
    tax = _sub(parent, tag)
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:CategoryCode", category)
    if category != "O":
        _sub(tax, "ram:RateApplicablePercent", _decimal(rate))


def _placeholder(document: _Document) -> _Line:
    """EN 16931 wants at least one line (BR-16, and the schema): a document without fees
    gets one line of nothing, exempt, so that every total stays zero and consistent."""
    return _Line(
        name=f"{document.number}: no billable items",
        description=None,
        quantity=Decimal(1),
        unit_price=ZERO,
        net_cents=0,
        category="E",
        rate=ZERO,
        coupon_weight=ZERO,
        tax_weight=ZERO,
    )


def _render(document: _Document) -> bytes:
    if not document.lines:
        document.lines = [_placeholder(document)]
    currency = document.currency
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _sub(root, "rsm:ExchangedDocumentContext")
    guideline = _sub(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _sub(guideline, "ram:ID", GUIDELINE)

    header = _sub(root, "rsm:ExchangedDocument")
    _sub(header, "ram:ID", document.number)
    _sub(header, "ram:TypeCode", document.type_code)
    _date_element(header, "ram:IssueDateTime", document.issue_date)
    for note in document.notes:
        _sub(_sub(header, "ram:IncludedNote"), "ram:Content", note)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for index, line in enumerate(document.lines, start=1):
        item = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _sub(_sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(index))
        product = _sub(item, "ram:SpecifiedTradeProduct")
        _sub(product, "ram:Name", line.name)
        if line.description:
            _sub(product, "ram:Description", line.description)
        agreement = _sub(item, "ram:SpecifiedLineTradeAgreement")
        price = _sub(agreement, "ram:NetPriceProductTradePrice")
        _sub(price, "ram:ChargeAmount", _decimal(line.unit_price))
        delivery = _sub(item, "ram:SpecifiedLineTradeDelivery")
        _sub(delivery, "ram:BilledQuantity", _decimal(line.quantity), unitCode=UNIT_CODE)
        settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
        _category_tax(settlement, "ram:ApplicableTradeTax", line.category, line.rate)
        if line.period is not None:
            period = _sub(settlement, "ram:BillingSpecifiedPeriod")
            _date_element(period, "ram:StartDateTime", line.period[0])
            _date_element(period, "ram:EndDateTime", line.period[1])
        summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _sub(summation, "ram:LineTotalAmount", _amount(line.net_cents, currency))

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    seller = document.seller
    vat = document.vat_registrations
    _party(agreement, "ram:SellerTradeParty", seller, seller.billing_entity_code,
           _seller_name(seller), vat)  # fmt: skip
    buyer = document.buyer
    _party(agreement, "ram:BuyerTradeParty", buyer, buyer.external_id, _buyer_name(buyer), vat)

    _sub(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    if document.type_code != CREDIT_NOTE:
        _sub(settlement, "ram:PaymentReference", document.number)
    _sub(settlement, "ram:InvoiceCurrencyCode", currency)
    groups = _groups(document)
    for group in groups:
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:CalculatedAmount", _amount(group.tax_cents, currency))
        _sub(tax, "ram:TypeCode", "VAT")
        if group.category == "E":
            _sub(tax, "ram:ExemptionReason", EXEMPTION_REASON)
        _sub(tax, "ram:BasisAmount", _amount(group.basis_cents, currency))
        _sub(tax, "ram:CategoryCode", group.category)
        if group.category == "O":
            _sub(tax, "ram:ExemptionReasonCode", NOT_SUBJECT_REASON_CODE)
        else:
            _sub(tax, "ram:RateApplicablePercent", _decimal(group.rate))
    if document.period is not None:
        period = _sub(settlement, "ram:BillingSpecifiedPeriod")
        _date_element(period, "ram:StartDateTime", document.period[0])
        _date_element(period, "ram:EndDateTime", document.period[1])
    for group in groups:
        if group.allowance_cents == 0:
            continue
        allowance = _sub(settlement, "ram:SpecifiedTradeAllowanceCharge")
        charge = group.allowance_cents < 0
        _sub(_sub(allowance, "ram:ChargeIndicator"), "udt:Indicator", "true" if charge else "false")
        _sub(allowance, "ram:ActualAmount", _amount(abs(group.allowance_cents), currency))
        if charge:
            _sub(allowance, "ram:Reason", "Rounding")
        else:
            _sub(allowance, "ram:ReasonCode", DISCOUNT_REASON_CODE)
            _sub(allowance, "ram:Reason", "Coupons")
        _category_tax(allowance, "ram:CategoryTradeTax", group.category, group.rate)
    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    _sub(terms, "ram:Description", document.payment_terms)
    if document.due_date is not None:
        _date_element(terms, "ram:DueDateDateTime", document.due_date)

    allowances = sum(group.allowance_cents for group in groups if group.allowance_cents > 0)
    charges = -sum(group.allowance_cents for group in groups if group.allowance_cents < 0)
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(document.line_total_cents, currency))
    if charges:
        _sub(summation, "ram:ChargeTotalAmount", _amount(charges, currency))
    if allowances:
        _sub(summation, "ram:AllowanceTotalAmount", _amount(allowances, currency))
    _sub(summation, "ram:TaxBasisTotalAmount", _amount(document.tax_basis_cents, currency))
    _sub(summation, "ram:TaxTotalAmount", _amount(document.tax_total_cents, currency),
         currencyID=currency)  # fmt: skip
    _sub(summation, "ram:GrandTotalAmount", _amount(document.grand_total_cents, currency))
    if document.prepaid_cents:
        _sub(summation, "ram:TotalPrepaidAmount", _amount(document.prepaid_cents, currency))
    _sub(summation, "ram:DuePayableAmount", _amount(document.due_cents, currency))
    if document.referenced is not None:
        reference = _sub(settlement, "ram:InvoiceReferencedDocument")
        _sub(reference, "ram:IssuerAssignedID", document.referenced[0])
        _date_element(reference, "ram:FormattedIssueDateTime", document.referenced[1], "qdt")

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ---------------------------------------------------------------------------------------
# From invoices and credit notes.


def _category(fee: Fee, invoice_type: str) -> tuple[str, Decimal]:
    rate = fee.taxes_rate
    if rate > 0:
        return "S", rate
    if invoice_type == "credit":
        return "O", ZERO
    return ("Z" if fee.applied_taxes else "E"), ZERO


def _local_day(value: datetime, timezone: str) -> date:
    return value.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def _fee_period(fee: Fee, timezone: str) -> tuple[date, date] | None:
    if fee.from_datetime is None or fee.to_datetime is None:
        return None
    return _local_day(fee.from_datetime, timezone), _local_day(fee.to_datetime, timezone)


def _fee_name(fee: Fee) -> str:
    name = fee.invoice_display_name or fee.item_name
    if fee.filter_display_name:
        name = f"{name} • {fee.filter_display_name}"
    return name


def _parties(session: Session, organization_id: object, customer_id: object
             ) -> tuple[Organization, Customer]:  # fmt: skip
    organization = session.get(Organization, organization_id)
    customer = session.get(Customer, customer_id)
    assert organization is not None and customer is not None
    return organization, customer


def _payment_terms(days: int) -> str:
    return "Due on receipt" if days == 0 else f"Net {days} days"


def invoice_xml(session: Session, invoice: Invoice) -> bytes:
    """The invoice's CII XML, Factur-X profile EN 16931 (type 380; 386 for prepaid credits)."""
    organization, customer = _parties(session, invoice.organization_id, invoice.customer_id)
    timezone = applicable_timezone(customer, organization)
    lines = []
    for fee in invoice.fees:
        category, rate = _category(fee, invoice.invoice_type)
        lines.append(
            _Line(
                name=_fee_name(fee),
                description=fee.description,
                quantity=fee.units,
                unit_price=max(fee.precise_unit_amount, ZERO),
                net_cents=fee.amount_cents,
                category=category,
                rate=rate,
                coupon_weight=fee.precise_coupons_amount_cents,
                tax_weight=fee.taxes_precise_amount_cents,
                period=_fee_period(fee, timezone),
            )
        )
    periods = [
        (_local_day(entry.from_datetime, timezone), _local_day(entry.to_datetime, timezone))
        for entry in invoice.billing_periods
        if entry.from_datetime is not None and entry.to_datetime is not None
    ]
    grand = invoice.sub_total_excluding_taxes_amount_cents + invoice.taxes_amount_cents
    prepaid = invoice.credit_notes_amount_cents + invoice.prepaid_credit_amount_cents
    if grand - prepaid != invoice.total_amount_cents:
        # The total is capped at zero: what was prepaid is then what made it zero.
        prepaid = grand - invoice.total_amount_cents
    credit = invoice.invoice_type == "credit"
    document = _Document(
        type_code=PREPAID_INVOICE if credit else COMMERCIAL_INVOICE,
        number=invoice.number,
        issue_date=invoice.issuing_date,
        currency=invoice.currency,
        seller=organization,
        buyer=customer,
        lines=lines,
        tax_basis_cents=invoice.sub_total_excluding_taxes_amount_cents,
        tax_total_cents=invoice.taxes_amount_cents,
        grand_total_cents=grand,
        prepaid_cents=prepaid,
        due_cents=invoice.total_amount_cents,
        due_date=invoice.payment_due_date,
        payment_terms=_payment_terms(invoice.net_payment_term),
        period=(min(p[0] for p in periods), max(p[1] for p in periods)) if periods else None,
        vat_registrations=not (credit and all(line.category == "O" for line in lines)),
    )
    return _render(document)


def credit_note_xml(session: Session, note: CreditNote) -> bytes:
    """The credit note's CII XML: type 381, referencing the credited invoice (BT-25/26).

    Amounts are positive, as EN 16931 wants for a 381. An item that credits its whole fee
    keeps the fee's quantity and unit price; a part of a fee is one unit of its amount."""
    organization, customer = _parties(session, note.organization_id, note.customer_id)
    invoice = session.get(Invoice, note.invoice_id)
    assert invoice is not None
    fees = {fee.id: fee for fee in invoice.fees}
    lines = []
    for item in note.items:
        fee = fees.get(item.fee_id) or session.get(Fee, item.fee_id)
        assert fee is not None
        category, rate = _category(fee, invoice.invoice_type)
        whole = item.amount_cents == fee.amount_cents
        share = item.precise_amount_cents / fee.amount_cents if fee.amount_cents else ZERO
        coupon = fee.precise_coupons_amount_cents * share
        lines.append(
            _Line(
                name=_fee_name(fee),
                description=fee.description,
                quantity=fee.units if whole else Decimal(1),
                unit_price=(
                    max(fee.precise_unit_amount, ZERO)
                    if whole
                    else Decimal(item.amount_cents) / subunit_to_unit(note.currency)
                ),
                net_cents=item.amount_cents,
                category=category,
                rate=rate,
                coupon_weight=coupon,
                tax_weight=(item.precise_amount_cents - coupon) * rate / HUNDRED,
            )
        )
    grand = note.sub_total_excluding_taxes_amount_cents + note.taxes_amount_cents
    notes = [f"Credit note for invoice {invoice.number}", f"Reason: {note.reason}"]
    if note.description:
        notes.append(note.description)
    document = _Document(
        type_code=CREDIT_NOTE,
        number=note.number,
        issue_date=note.issuing_date,
        currency=note.currency,
        seller=organization,
        buyer=customer,
        lines=lines,
        tax_basis_cents=note.sub_total_excluding_taxes_amount_cents,
        tax_total_cents=note.taxes_amount_cents,
        grand_total_cents=grand,
        prepaid_cents=grand - note.total_amount_cents,
        due_cents=note.total_amount_cents,
        due_date=note.issuing_date,
        payment_terms="Credit note: settled by credit, refund or offset against the invoice",
        notes=notes,
        referenced=(invoice.number, invoice.issuing_date),
        vat_registrations=not all(line.category == "O" for line in lines),
    )
    return _render(document)


# ---------------------------------------------------------------------------------------
# Validation and the PDF.


def check(xml: bytes) -> None:
    """Raise EInvoiceInvalid unless the XML validates against the Factur-X EN 16931 XSD
    shipped by the factur-x package."""
    try:
        facturx.xml_check_xsd(xml, flavor=FLAVOR, level=LEVEL)
    except Exception as error:  # the package raises bare Exception
        raise EInvoiceInvalid(str(error)) from error


def embed(pdf: bytes, xml: bytes) -> bytes:
    """A Factur-X PDF/A-3: `pdf` with `xml` attached as factur-x.xml (AFRelationship
    Data) and the Factur-X XMP metadata. The XML is checked against the XSD first."""
    result: bytes = facturx.generate_from_binary(
        pdf, xml, flavor=FLAVOR, level=LEVEL, check_xsd=True, afrelationship="data"
    )
    return result
