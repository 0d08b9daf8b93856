"""What an invoice or credit note document shows, as plain data read from the database.

Every figure comes from the columns the API serializers read (`invoices/schemas.py`,
`credit_notes/schemas.py`), so the document and the API object never disagree. Labels are
translated here (`_` is the document locale's gettext) and figures formatted, so the
templates only lay things out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from meterbill.core.money import subunit_to_unit
from meterbill.core.periods import local_date
from meterbill.coupons.models import AppliedCoupon
from meterbill.credit_notes.models import CreditNote
from meterbill.customers.models import Customer
from meterbill.customers.overview import display_name
from meterbill.customers.schemas import applicable_timezone
from meterbill.documents import i18n
from meterbill.invoices.models import Fee, Invoice
from meterbill.organizations.models import Organization
from meterbill.plans.models import Charge, Plan
from meterbill.subscriptions.models import Subscription
from meterbill.wallets.models import Wallet, WalletTransaction

ZERO = Decimal(0)
LOGO_PREFIXES = (
    "data:image/png;",
    "data:image/jpeg;",
    "data:image/jpg;",
    "data:image/gif;",
    "data:image/svg+xml;",
    "data:image/webp;",
)


@dataclass(frozen=True)
class Party:
    name: str
    legal_number: str | None
    address: list[str]
    email: str | None
    tax_id: str | None


@dataclass(frozen=True)
class Row:
    """One table line. kind: item (a fee), group (a charge's name above its details),
    detail (a line explaining a charge's amount), subtotal (a charge's total)."""

    label: str
    kind: str = "item"
    notes: list[str] = field(default_factory=list)
    units: str = ""
    unit_price: str = ""
    tax_rate: str = ""
    amount: str = ""


@dataclass(frozen=True)
class Table:
    heading: str
    rows: list[Row]


@dataclass(frozen=True)
class Block:
    """One subscription's fees, one table per billing period. On an invoice of several
    subscriptions, `subtotal` is the sum of the subscription's fee amounts (excl. tax)."""

    title: str
    tables: list[Table]
    name: str = ""
    amount_cents: int = 0
    subtotal: str | None = None


@dataclass(frozen=True)
class Line:
    label: str
    amount: str
    kind: str = "plain"  # plain | minus | subtotal | total


@dataclass
class Document:
    kind: str  # subscription | one_off | credit | credit_note
    locale: str
    title: str
    number: str
    logo: str | None
    issuer: Party
    recipient: Party
    recipient_heading: str
    facts: list[tuple[str, str]]
    metadata: list[tuple[str, str]]
    total: str
    total_note: str
    blocks: list[Block] = field(default_factory=list)
    # Several subscriptions: one line per subscription (its fees' total, excl. tax).
    summary: list[Line] = field(default_factory=list)
    items: list[Row] = field(default_factory=list)
    totals: list[Line] = field(default_factory=list)
    footer: str | None = None
    reason: str | None = None
    description: str | None = None
    show_tax_column: bool = True


class Formats:
    """The document locale's translations and formats for one currency."""

    def __init__(self, locale: str, currency: str) -> None:
        self.locale, self.currency = locale, currency
        catalog = i18n.translations(locale)
        self.gettext: Callable[[str], str] = catalog.gettext
        self.ngettext: Callable[[str, str, int], str] = catalog.ngettext

    def money(self, cents: int | Decimal) -> str:
        return i18n.format_money(cents, self.currency, self.locale)

    def major(self, value: Any) -> str:
        """An amount of amount_details (major units, a decimal string) as money."""
        return self.money(_decimal(value) * subunit_to_unit(self.currency))

    def unit_price(self, value: Any) -> str:
        return i18n.format_unit_price(_decimal(value), self.currency, self.locale)

    def units(self, value: Any) -> str:
        return i18n.format_units(_decimal(value), self.locale)

    def rate(self, value: Any) -> str:
        return i18n.format_rate(_decimal(value), self.locale)

    def date(self, value: date) -> str:
        return i18n.format_date(value, self.locale)


def _decimal(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return ZERO
    return Decimal(str(value))


def _logo(organization: Organization) -> str | None:
    logo = (organization.logo or "").strip()
    return logo if logo.startswith(LOGO_PREFIXES) and "base64," in logo else None


def _address(record: Organization | Customer, locale: str) -> list[str]:
    """The postal address of an organization or a customer (same field names)."""
    return i18n.address_lines(
        line1=record.address_line1,
        line2=record.address_line2,
        city=record.city,
        zipcode=record.zipcode,
        state=record.state,
        country=record.country,
        locale=locale,
    )


def _issuer(organization: Organization, locale: str) -> Party:
    return Party(
        name=organization.legal_name or organization.name,
        legal_number=organization.legal_number,
        address=_address(organization, locale),
        email=organization.email,
        tax_id=organization.tax_identification_number,
    )


def customer_display_name(customer: Customer) -> str:
    """Lago's display name (the name, else first and last names), else the legal name,
    else the external id: a document always names its customer."""
    return display_name(customer) or customer.legal_name or customer.external_id


def _subscription_name(subscription: Subscription | None, plan: Plan | None, fallback: str) -> str:
    """The subscription's name, else its plan's invoice name."""
    if subscription is not None and subscription.name:
        return subscription.name
    return (plan.invoice_display_name or plan.name) if plan is not None else fallback


def _recipient(customer: Customer, locale: str) -> Party:
    emails = [part.strip() for part in (customer.email or "").split(",") if part.strip()]
    return Party(
        name=customer_display_name(customer),
        legal_number=customer.legal_number,
        address=_address(customer, locale),
        email=", ".join(emails) or None,
        tax_id=customer.tax_identification_number,
    )


def _displayable_metadata(customer: Customer) -> list[tuple[str, str]]:
    return [(item.key, item.value) for item in customer.metadata_items if item.display_in_invoice]


def _load(session: Session, invoice_or_note: Invoice | CreditNote) -> tuple[Customer, Organization]:
    # session.get answers from the session's identity map when a prefetch loaded them.
    customer = session.get(Customer, invoice_or_note.customer_id)
    organization = session.get(Organization, invoice_or_note.organization_id)
    if customer is None or organization is None:
        raise LookupError("the document's customer or organization is missing")
    return customer, organization


# ---------------------------------------------------------------------------------------
# Invoices


# Where Lago's invoices are "tax invoices" (its billing entity's country).
TAX_INVOICE_COUNTRIES = frozenset({"AU", "AE", "NZ", "ID", "SG"})


def _title(invoice: Invoice, organization: Organization, _: Any) -> str:
    """Lago's document names: prepaid credits are an advance invoice; charges paid in
    advance a paid invoice; in a few countries an invoice is a tax invoice."""
    if invoice.invoice_type == "credit":
        return str(_("Advance invoice"))
    taxed = organization.country in TAX_INVOICE_COUNTRIES
    if invoice.invoice_type == "advance_charges":
        return str(_("Paid tax invoice") if taxed else _("Paid invoice"))
    return str(_("Tax invoice") if taxed else _("Invoice"))


def invoice_document(
    session: Session, invoice: Invoice, now: datetime, *, locale: str | None = None
) -> Document:
    """The document of `invoice`: subscription, one-off or credit (prepaid top-up) layout,
    in the customer's document language unless `locale` is given (the dashboard's
    invoice page shows the same lines in its own language)."""
    del now  # documents show what was issued; nothing here depends on the time
    customer, organization = _load(session, invoice)
    locale = locale or i18n.document_locale(customer, organization)
    fmt = Formats(locale, invoice.currency)
    _ = fmt.gettext
    timezone = applicable_timezone(customer, organization)
    kind = invoice.invoice_type if invoice.invoice_type in ("one_off", "credit") else "subscription"
    title = _title(invoice, organization, _)
    days = invoice.net_payment_term
    facts = [
        (_("Invoice number"), invoice.number),
        (_("Issue date"), fmt.date(invoice.issuing_date)),
        (_("Payment term"), fmt.ngettext("%(num)d day", "%(num)d days", days) % {"num": days}),
    ]
    document = Document(
        kind=kind,
        locale=locale,
        title=title,
        number=invoice.number,
        logo=_logo(organization),
        issuer=_issuer(organization, locale),
        recipient=_recipient(customer, locale),
        recipient_heading=_("Bill to"),
        facts=facts,
        metadata=_displayable_metadata(customer),
        total=fmt.money(invoice.total_amount_cents),
        total_note=_("Due on %(date)s") % {"date": fmt.date(invoice.payment_due_date)},
        footer=organization.invoice_footer,
    )
    fees = [fee for fee in invoice.fees if fee.deleted_at is None]
    if kind == "subscription":
        document.blocks = _subscription_blocks(session, invoice, fees, fmt, timezone)
        if len(document.blocks) > 1:
            _summarize(document, fmt)
    elif kind == "one_off":
        document.items = [_one_off_row(fee, fmt, timezone) for fee in fees]
    else:
        document.items = _credit_rows(session, fees, fmt)
        document.show_tax_column = False
    document.totals = _invoice_totals(session, invoice, fmt, with_taxes=kind != "credit")
    return document


def _tax_rate(fee: Fee, fmt: Formats) -> str:
    return fmt.rate(fee.taxes_rate)


def _filter_text(fee: Fee) -> str | None:
    if fee.filter_display_name:
        return fee.filter_display_name
    if not fee.filter_values:
        return None
    values = [str(value) for found in fee.filter_values.values() for value in _listed(found)]
    return ", ".join(values) or None


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _fee_name(fee: Fee) -> str:
    name = fee.invoice_display_name or fee.item_name
    grouped = [str(value) for value in (fee.grouped_by or {}).values() if value is not None]
    if grouped:
        name = f"{name} • {' • '.join(grouped)}"
    filtered = _filter_text(fee)
    if filtered:
        name = f"{name} • {filtered}"
    return name


def _subscription_blocks(
    session: Session, invoice: Invoice, fees: list[Fee], fmt: Formats, timezone: str
) -> list[Block]:
    _ = fmt.gettext
    subscription_ids = list(
        dict.fromkeys(
            [entry.subscription_id for entry in invoice.billing_periods]
            + [fee.subscription_id for fee in fees if fee.subscription_id is not None]
        )
    )
    subscriptions = _by_id(session, Subscription, subscription_ids)
    plans = _by_id(session, Plan, {item.plan_id for item in subscriptions.values()})
    charges = _by_id(session, Charge, {fee.charge_id for fee in fees if fee.charge_id})
    blocks = []
    for subscription_id in subscription_ids:
        subscription = subscriptions.get(subscription_id)
        plan = plans.get(subscription.plan_id) if subscription is not None else None
        own = [fee for fee in fees if fee.subscription_id == subscription_id]
        if not own:
            continue
        name = _subscription_name(subscription, plan, own[0].item_name)
        periods: dict[tuple[date | None, date | None], list[Row]] = {}
        for fee in own:
            rows = _fee_rows(fee, plan, charges.get(fee.charge_id), fmt)
            if not rows:
                continue
            bounds = (
                local_date(fee.from_datetime, timezone) if fee.from_datetime else None,
                local_date(fee.to_datetime, timezone) if fee.to_datetime else None,
            )
            periods.setdefault(bounds, []).extend(rows)
        tables = []
        for (start, end), rows in periods.items():
            heading = (
                _("Fees from %(from)s to %(to)s") % {"from": fmt.date(start), "to": fmt.date(end)}
                if start is not None and end is not None
                else _("Fees")
            )
            tables.append(Table(heading, rows))
        blocks.append(
            Block(
                _("%(name)s details") % {"name": name},
                tables,
                name=name,
                amount_cents=sum(fee.amount_cents for fee in own),
            )
        )
    return blocks


def _summarize(document: Document, fmt: Formats) -> None:
    """Lago's `_subscriptions_summary`: one line per subscription with the sum of its fee
    amounts (excl. tax, before coupons), and each details section ends with that sum.
    Taxes stay invoice-level: they are computed on the whole invoice after coupons."""
    document.summary = [
        Line(block.name, fmt.money(block.amount_cents), "item") for block in document.blocks
    ]
    document.blocks = [
        replace(block, subtotal=fmt.money(block.amount_cents)) for block in document.blocks
    ]


def _by_id(session: Session, model: Any, ids: Iterable[uuid.UUID | None]) -> dict[Any, Any]:
    """The records by id: those the session holds already (a generator's prefetch) without
    a query, the others in one."""
    found: dict[Any, Any] = {}
    missing = []
    for key in {key for key in ids if key is not None}:
        held = session.identity_map.get(identity_key(model, key))
        if held is not None:
            found[key] = held
        else:
            missing.append(key)
    if missing:
        found.update(
            (item.id, item) for item in session.scalars(select(model).where(model.id.in_(missing)))
        )
    return found


def prefetch(session: Session, invoices: list[Invoice]) -> list[Any]:
    """Load what the documents of these invoices show, a query per kind for them all, so
    that making them one after the other in this session queries nothing more per
    document (the document generator's batches). The session holds its records weakly:
    the caller keeps the returned list while it renders."""
    held: list[Any] = []
    customer_ids = {invoice.customer_id for invoice in invoices}
    if customer_ids:
        held += session.scalars(
            select(Customer)
            .where(Customer.id.in_(customer_ids))
            .options(selectinload(Customer.metadata_items))
        ).all()
    organization_ids = {invoice.organization_id for invoice in invoices}
    held += _by_id(session, Organization, organization_ids).values()
    subscriptions = _by_id(
        session,
        Subscription,
        {fee.subscription_id for invoice in invoices for fee in invoice.fees}
        | {entry.subscription_id for invoice in invoices for entry in invoice.billing_periods},
    )
    held += subscriptions.values()
    held += _by_id(session, Plan, {item.plan_id for item in subscriptions.values()}).values()
    charge_ids = {fee.charge_id for invoice in invoices for fee in invoice.fees}
    held += _by_id(session, Charge, charge_ids).values()
    return held


def _interval_label(interval: str, fmt: Formats) -> str:
    _ = fmt.gettext
    labels = {
        "weekly": _("Weekly subscription"),
        "monthly": _("Monthly subscription"),
        "quarterly": _("Quarterly subscription"),
        "semiannual": _("Semiannual subscription"),
        "yearly": _("Yearly subscription"),
    }
    return labels.get(interval, _("Subscription"))


def _plain_row(label: str, notes: list[str], fee: Fee, fmt: Formats) -> Row:
    """A fee on one line: its units, precise unit price, tax rate and amount."""
    return Row(
        label,
        notes=notes,
        units=fmt.units(fee.units),
        unit_price=fmt.unit_price(fee.precise_unit_amount),
        tax_rate=_tax_rate(fee, fmt),
        amount=fmt.money(fee.amount_cents),
    )


def _fee_rows(fee: Fee, plan: Plan | None, charge: Charge | None, fmt: Formats) -> list[Row]:
    _ = fmt.gettext
    units, amount = fee.units, fee.amount_cents
    if fee.fee_type == "subscription":
        if plan is not None and not plan.invoice_display_name:
            label = f"{_interval_label(plan.interval, fmt)} – {plan.name}"
        else:
            label = fee.invoice_display_name or fee.item_name
        notes = []
        plan_amount = (fee.amount_details or {}).get("plan_amount_cents")
        if isinstance(plan_amount, int) and plan_amount != fee.amount_cents and fee.amount_cents:
            notes.append(_("The fee is prorated on the days of the period."))
        return [_plain_row(label, notes, fee, fmt)]
    if fee.fee_type == "commitment":
        label = fee.invoice_display_name or _("Minimum commitment")
        return [
            Row(
                label,
                units=fmt.units(units),
                unit_price=fmt.money(amount),
                tax_rate=_tax_rate(fee, fmt),
                amount=fmt.money(amount),
            )
        ]
    if units <= 0 and amount <= 0:
        return []
    name = _fee_name(fee)
    notes: list[str] = []
    if fee.true_up_parent_fee_id is not None:
        name = _("%(name)s – True-up") % {"name": name}
    model = charge.charge_model if charge is not None else None
    if model == "percentage":
        notes.append(_("Total events: %(count)s") % {"count": fmt.units(fee.events_count)})
    if charge is not None and charge.prorated:
        notes.append(_("The fee is prorated on the days of the period."))
    details = (
        _detail_rows(model, fee, fmt)
        if fee.true_up_parent_fee_id is None and model is not None
        else []
    )
    if not details:
        return [_plain_row(name, notes, fee, fmt)]
    return [
        Row(name, kind="group", notes=notes),
        *details,
        Row(
            _("Subtotal"),
            kind="subtotal",
            units=fmt.units(units),
            tax_rate=_tax_rate(fee, fmt),
            amount=fmt.money(amount),
        ),
    ]


def _bounds(tier: dict[str, Any], fmt: Formats) -> dict[str, str]:
    start, end = _decimal(tier.get("from_value")), tier.get("to_value")
    return {
        "from": fmt.units(start),
        "to": fmt.units(end) if end is not None else "",
    }


def _tier_label(
    index: int, tier: dict[str, Any], fmt: Formats, labels: tuple[str, str, str]
) -> str:
    first, following, above = labels
    values = _bounds(tier, fmt)
    if tier.get("to_value") is None:
        return above % values
    if index == 0:
        return first % values
    return following % values


def _detail_rows(model: str, fee: Fee, fmt: Formats) -> list[Row]:
    _ = fmt.gettext
    details = fee.amount_details or {}
    rows: list[Row] = []
    if model in ("graduated", "graduated_percentage"):
        key = "graduated_ranges" if model == "graduated" else "graduated_percentage_ranges"
        tiers = [tier for tier in details.get(key) or [] if isinstance(tier, dict)]
        if model == "graduated":
            labels = (
                _("Fee per unit for the first %(to)s"),
                _("Fee per unit for the next %(from)s to %(to)s"),
                _("Fee per unit for %(from)s and above"),
            )
        else:
            labels = (
                _("Rate for the first %(to)s"),
                _("Rate for the next %(from)s to %(to)s"),
                _("Rate for %(from)s and above"),
            )
        for index, tier in enumerate(tiers):
            price = (
                fmt.unit_price(tier.get("per_unit_amount"))
                if model == "graduated"
                else fmt.rate(tier.get("rate"))
            )
            rows.append(
                Row(
                    _tier_label(index, tier, fmt, labels),
                    kind="detail",
                    units=fmt.units(tier.get("units")),
                    unit_price=price,
                    amount=fmt.major(tier.get("per_unit_total_amount")),
                )
            )
        flat_labels = (
            _("Flat fee for the first %(to)s"),
            _("Flat fee for the next %(from)s to %(to)s"),
            _("Flat fee for %(from)s and above"),
        )
        for index, tier in enumerate(tiers):
            flat = _decimal(tier.get("flat_unit_amount"))
            if flat > 0:
                rows.append(
                    Row(
                        _tier_label(index, tier, fmt, flat_labels),
                        kind="detail",
                        units=fmt.units(1),
                        unit_price=fmt.unit_price(flat),
                        amount=fmt.major(flat),
                    )
                )
    elif model == "volume":
        rows.append(
            Row(
                _("Fee per unit"),
                kind="detail",
                units=fmt.units(fee.units),
                unit_price=fmt.unit_price(details.get("per_unit_amount")),
                amount=fmt.major(details.get("per_unit_total_amount")),
            )
        )
        flat = _decimal(details.get("flat_unit_amount"))
        if flat > 0:
            rows.append(
                Row(
                    _("Flat fee for all units"),
                    kind="detail",
                    units=fmt.units(1),
                    unit_price=fmt.unit_price(flat),
                    amount=fmt.major(flat),
                )
            )
    elif model == "package":
        free = _decimal(details.get("free_units"))
        if free > 0:
            rows.append(
                Row(
                    _("Free units for the first %(count)s") % {"count": fmt.units(free)},
                    kind="detail",
                    units=fmt.units(min(free, fee.units)),
                    unit_price=fmt.unit_price(ZERO),
                    amount=fmt.money(0),
                )
            )
        size = details.get("per_package_size") or 0
        price = fmt.unit_price(details.get("per_package_unit_amount"))
        rows.append(
            Row(
                _("Fee per package"),
                kind="detail",
                units=fmt.units(details.get("paid_units")),
                unit_price=_("%(amount)s per %(size)s units")
                % {"amount": price, "size": fmt.units(size)},
                amount=fmt.money(fee.amount_cents),
            )
        )
    elif model == "percentage":
        rows.append(
            Row(
                _("Rate on the amount"),
                kind="detail",
                units=fmt.units(details.get("paid_units")),
                unit_price=fmt.rate(details.get("rate")),
                amount=fmt.major(details.get("per_unit_total_amount")),
            )
        )
        free = _decimal(details.get("free_units"))
        events = int(_decimal(details.get("free_events")))
        if free > 0:
            rows.append(
                Row(
                    fmt.ngettext(
                        "Free units for %(num)d transaction",
                        "Free units for %(num)d transactions",
                        events,
                    )
                    % {"num": events},
                    kind="detail",
                    units=fmt.units(free),
                    unit_price=fmt.rate(0),
                    amount=fmt.money(0),
                )
            )
        fixed = _decimal(details.get("fixed_fee_total_amount"))
        if fixed > 0:
            rows.append(
                Row(
                    _("Fixed fee per transaction"),
                    kind="detail",
                    units=fmt.units(details.get("paid_events")),
                    unit_price=fmt.unit_price(details.get("fixed_fee_unit_amount")),
                    amount=fmt.major(fixed),
                )
            )
        adjustment = _decimal(details.get("min_max_adjustment_total_amount"))
        if adjustment != 0:
            rows.append(
                Row(
                    _("Adjustment for min/max per transaction"),
                    kind="detail",
                    amount=fmt.major(adjustment),
                )
            )
    return rows


def _one_off_row(fee: Fee, fmt: Formats, timezone: str) -> Row:
    _ = fmt.gettext
    notes = [fee.description] if fee.description else []
    if fee.from_datetime is not None and fee.to_datetime is not None:
        notes.append(
            _("From %(from)s to %(to)s")
            % {
                "from": fmt.date(local_date(fee.from_datetime, timezone)),
                "to": fmt.date(local_date(fee.to_datetime, timezone)),
            }
        )
    return Row(
        fee.invoice_display_name or fee.item_name,
        notes=notes,
        units=fmt.units(fee.units),
        unit_price=fmt.unit_price(fee.precise_unit_amount),
        tax_rate=_tax_rate(fee, fmt),
        amount=fmt.money(fee.amount_cents),
    )


def _wallet_names(session: Session, fees: list[Fee]) -> dict[Any, str | None]:
    """Credit fees' transaction id -> the wallet's name."""
    ids = [fee.item_id for fee in fees if fee.item_id is not None]
    if not ids:
        return {}
    found = session.execute(
        select(WalletTransaction.id, Wallet.name)
        .join(Wallet, Wallet.id == WalletTransaction.wallet_id)
        .where(WalletTransaction.id.in_(ids))
    ).all()
    return {transaction_id: name for transaction_id, name in found}


def _credit_rows(session: Session, fees: list[Fee], fmt: Formats) -> list[Row]:
    _ = fmt.gettext
    wallets = _wallet_names(session, fees)
    rows = []
    for fee in fees:
        wallet = wallets.get(fee.item_id)
        name = fee.invoice_display_name if fee.invoice_display_name != "credit" else None
        label = _("Prepaid credits – %(name)s") % {"name": name or wallet or _("Wallet")}
        rows.append(
            Row(
                label,
                units=fmt.units(fee.units),
                unit_price=fmt.unit_price(fee.precise_unit_amount),
                amount=fmt.money(fee.amount_cents),
            )
        )
    return rows


def _coupon_label(applied: AppliedCoupon | None, name: str, fmt: Formats) -> str:
    if applied is None:
        return name
    if applied.percentage_rate is not None:
        return f"{name} ({fmt.rate(applied.percentage_rate)})"
    if applied.amount_cents is not None:
        currency = applied.amount_currency or fmt.currency
        return f"{name} ({i18n.format_money(applied.amount_cents, currency, fmt.locale)})"
    return name


def _tax_lines(taxes: Iterable[Any], fmt: Formats, base_of: Callable[[Any], int]) -> list[Line]:
    _ = fmt.gettext
    ordered = sorted(taxes, key=lambda tax: (-tax.tax_rate, tax.tax_name))
    if not ordered:
        return [Line(_("Tax (%(rate)s)") % {"rate": fmt.rate(0)}, fmt.money(0))]
    return [
        Line(
            _("%(name)s (%(rate)s on %(base)s)")
            % {
                "name": tax.tax_name,
                "rate": fmt.rate(tax.tax_rate),
                "base": fmt.money(base_of(tax)),
            },
            fmt.money(tax.amount_cents),
        )
        for tax in ordered
    ]


def _minus(fmt: Formats, cents: int) -> str:
    return fmt.money(-cents)


def _invoice_totals(
    session: Session, invoice: Invoice, fmt: Formats, *, with_taxes: bool
) -> list[Line]:
    _ = fmt.gettext
    lines: list[Line] = []
    if invoice.progressive_billing_credit_amount_cents > 0:
        lines.append(
            Line(
                _("Usage already billed"),
                _minus(fmt, invoice.progressive_billing_credit_amount_cents),
                "minus",
            )
        )
    coupons = [credit for credit in invoice.credits if credit.applied_coupon_id is not None]
    applied = _by_id(session, AppliedCoupon, [credit.applied_coupon_id for credit in coupons])
    for credit in coupons:
        label = _coupon_label(applied.get(credit.applied_coupon_id), credit.item_name, fmt)
        lines.append(Line(label, _minus(fmt, credit.amount_cents), "minus"))
    if with_taxes:
        lines.append(
            Line(
                _("Subtotal (excl. tax)"),
                fmt.money(invoice.sub_total_excluding_taxes_amount_cents),
                "subtotal",
            )
        )
        lines.extend(_tax_lines(invoice.applied_taxes, fmt, lambda tax: tax.fees_amount_cents))
        lines.append(
            Line(
                _("Subtotal (incl. tax)"),
                fmt.money(invoice.sub_total_including_taxes_amount_cents),
                "subtotal",
            )
        )
    if invoice.credit_notes_amount_cents > 0:
        lines.append(
            Line(_("Credit notes"), _minus(fmt, invoice.credit_notes_amount_cents), "minus")
        )
    if invoice.prepaid_credit_amount_cents > 0:
        lines.append(
            Line(_("Prepaid credits"), _minus(fmt, invoice.prepaid_credit_amount_cents), "minus")
        )
    lines.append(Line(_("Total"), fmt.money(invoice.total_amount_cents), "total"))
    return lines


# ---------------------------------------------------------------------------------------
# Credit notes


def _reason(reason: str, fmt: Formats) -> str:
    _ = fmt.gettext
    labels = {
        "duplicated_charge": _("Duplicated charge"),
        "product_unsatisfactory": _("Product unsatisfactory"),
        "order_change": _("Order change"),
        "order_cancellation": _("Order cancellation"),
        "fraudulent_charge": _("Fraudulent charge"),
        "other": _("Other"),
    }
    return labels.get(reason, reason)


def credit_note_document(session: Session, note: CreditNote, now: datetime) -> Document:
    del now
    customer, organization = _load(session, note)
    invoice = session.get(Invoice, note.invoice_id)
    if invoice is None:
        raise LookupError("the credit note's invoice is missing")
    locale = i18n.document_locale(customer, organization)
    fmt = Formats(locale, note.currency)
    _ = fmt.gettext
    issued = fmt.date(note.issuing_date)
    methods = [
        (note.credit_amount_cents, _("Credited on customer balance on %(date)s")),
        (note.refund_amount_cents, _("Refunded on %(date)s")),
        (note.offset_amount_cents, _("Offset invoice %(number)s on %(date)s")),
    ]
    used = [text for cents, text in methods if cents > 0]
    notice = used[0] if len(used) == 1 else _("Issued on %(date)s")
    fees = {fee.id: fee for fee in invoice.fees}
    is_credit = invoice.invoice_type == "credit"
    document = Document(
        kind="credit_note",
        locale=locale,
        title=_("Credit note"),
        number=note.number,
        logo=_logo(organization),
        issuer=_issuer(organization, locale),
        recipient=_recipient(customer, locale),
        recipient_heading=_("Credit to"),
        facts=[
            (_("Credit note number"), note.number),
            (_("Invoice number"), invoice.number),
            (_("Issue date"), issued),
        ],
        metadata=_displayable_metadata(customer),
        total=fmt.money(note.total_amount_cents),
        total_note=notice % {"date": issued, "number": invoice.number},
        footer=organization.invoice_footer,
        reason=_reason(note.reason, fmt),
        description=note.description,
        show_tax_column=not is_credit,
    )
    document.items = _credit_note_rows(session, note, fees, fmt, is_credit=is_credit)
    document.totals = _credit_note_totals(note, invoice, fmt, with_taxes=not is_credit)
    return document


def _credit_note_rows(
    session: Session, note: CreditNote, fees: dict[Any, Fee], fmt: Formats, *, is_credit: bool
) -> list[Row]:
    _ = fmt.gettext
    credited = [fees[item.fee_id] for item in note.items if item.fee_id in fees]
    subscriptions = _by_id(session, Subscription, [fee.subscription_id for fee in credited])
    plans = _by_id(session, Plan, {item.plan_id for item in subscriptions.values()})
    wallets = _wallet_names(session, credited) if is_credit else {}
    rows = []
    for item in note.items:
        fee = fees.get(item.fee_id)
        if fee is None:
            continue
        if fee.fee_type == "subscription":
            subscription = subscriptions.get(fee.subscription_id)
            plan = plans.get(subscription.plan_id) if subscription is not None else None
            name = _subscription_name(subscription, plan, fee.item_name)
            label = _("Subscription – %(name)s") % {"name": name}
        elif fee.fee_type == "credit":
            wallet = wallets.get(fee.item_id) or fee.item_name
            label = _("Prepaid credits – %(name)s") % {"name": wallet}
        else:
            label = _fee_name(fee)
            if fee.true_up_parent_fee_id is not None:
                label = _("%(name)s – True-up") % {"name": label}
        rows.append(
            Row(
                label,
                tax_rate="" if is_credit else _tax_rate(fee, fmt),
                amount=fmt.money(item.amount_cents),
            )
        )
    return rows


def _credit_note_totals(
    note: CreditNote, invoice: Invoice, fmt: Formats, *, with_taxes: bool
) -> list[Line]:
    _ = fmt.gettext
    lines: list[Line] = []
    if note.coupons_adjustment_amount_cents > 0:
        lines.append(Line(_("Coupons"), _minus(fmt, note.coupons_adjustment_amount_cents), "minus"))
    lines.append(
        Line(
            _("Subtotal (excl. tax)"),
            fmt.money(note.sub_total_excluding_taxes_amount_cents),
            "subtotal",
        )
    )
    if with_taxes:
        lines.extend(_tax_lines(note.applied_taxes, fmt, lambda tax: tax.base_amount_cents))
    if note.offset_amount_cents > 0:
        lines.append(
            Line(
                _("Offset on invoice %(number)s") % {"number": invoice.number},
                fmt.money(note.offset_amount_cents),
            )
        )
    if note.credit_amount_cents > 0:
        lines.append(Line(_("Credited on customer balance"), fmt.money(note.credit_amount_cents)))
    if note.refund_amount_cents > 0:
        lines.append(Line(_("Refunded"), fmt.money(note.refund_amount_cents)))
    lines.append(Line(_("Total"), fmt.money(note.total_amount_cents), "total"))
    return lines
