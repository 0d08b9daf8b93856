"""POST /invoices: a one-off invoice of add-on fees, finalized at once (billing.md §8).

One-off invoices take fees and taxes only: no coupons, credit notes or wallet credits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterbill.add_ons.service import find_add_on
from meterbill.core.db import Database
from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.limits import AMOUNT_CENTS_MAX, LONG_TEXT_MAX, UNITS_MAX
from meterbill.core.money import is_currency, round_half_up, subunit_to_unit
from meterbill.core.periods import local_date
from meterbill.core.rehearsal import Rehearsal, rehearse
from meterbill.core.validation import MISSING, Reader
from meterbill.customers.schemas import applicable_timezone
from meterbill.customers.service import assign_currency, find_customer
from meterbill.invoices.building import BillingContext, BuiltFee
from meterbill.invoices.computation import apply_amounts
from meterbill.invoices.lifecycle import close_or_number, new_invoice
from meterbill.invoices.models import Invoice
from meterbill.organizations.service import get_organization
from meterbill.taxes.service import find_taxes_by_codes


@dataclass(frozen=True)
class OneOffFee:
    add_on_code: str
    unit_amount_cents: int | None
    units: Decimal
    description: str | None
    invoice_display_name: str | None
    from_datetime: datetime | None
    to_datetime: datetime | None
    tax_codes: list[str] | None


@dataclass(frozen=True)
class OneOffInput:
    external_customer_id: str
    currency: str | None
    fees: list[OneOffFee]


def _instant(raw: Any) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed.single("boundaries", "values_are_invalid") from None
    if value.tzinfo is None:
        raise ValidationFailed.single("boundaries", "values_are_invalid")
    return value


def _fee(raw: dict[str, Any]) -> OneOffFee:
    """One fee of the request; Lago answers the first bad field alone, so this raises."""
    reader = Reader(raw)
    unit_amount = reader.amount_cents("unit_amount_cents")
    if unit_amount is MISSING and "unit_amount_cents" in reader.errors:
        raise ValidationFailed.single("unit_amount_cents", "value_is_invalid")
    units = reader.decimal("units", minimum=Decimal(0), maximum=UNITS_MAX)
    if "units" in reader.errors:
        raise ValidationFailed.single("units", "value_is_invalid")
    start, end = _instant(raw.get("from_datetime")), _instant(raw.get("to_datetime"))
    if (start is None) != (end is None) or (start and end and start > end):
        raise ValidationFailed.single("boundaries", "values_are_invalid")
    codes = reader.string_list("tax_codes")
    description = reader.string("description", max_length=LONG_TEXT_MAX)
    display_name = reader.string("invoice_display_name")
    reader.raise_if_any()
    return OneOffFee(
        add_on_code=raw["add_on_code"],
        unit_amount_cents=unit_amount if isinstance(unit_amount, int) else None,
        units=units if isinstance(units, Decimal) else Decimal(1),
        description=description if isinstance(description, str) else None,
        invoice_display_name=display_name if isinstance(display_name, str) else None,
        from_datetime=start,
        to_datetime=end,
        tax_codes=codes if isinstance(codes, list) else None,
    )


def parse_one_off(data: dict[str, Any]) -> OneOffInput:
    reader = Reader(data)
    customer = reader.string("external_customer_id", required=True)
    currency = data.get("currency")
    if currency is not None and not is_currency(currency):
        reader.add("currency", "value_is_invalid")
    reader.raise_if_any()
    raw_fees = data.get("fees")
    if raw_fees is not None and not isinstance(raw_fees, list):
        raise ValidationFailed.single("fees", "value_is_invalid")
    fees = []
    for raw in raw_fees or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("add_on_code"), str):
            raise NotFound("add_on")
        fees.append(_fee(raw))
    assert isinstance(customer, str)
    return OneOffInput(external_customer_id=customer, currency=currency, fees=fees)


def create_one_off_invoice(
    session: Session, organization_id: uuid.UUID, data: OneOffInput, now: datetime
) -> Invoice:
    customer = find_customer(session, organization_id, data.external_customer_id)
    if not data.fees:
        raise NotFound("fees")
    organization = get_organization(session, organization_id)
    add_ons = [find_add_on(session, organization_id, fee.add_on_code) for fee in data.fees]
    currency = data.currency or customer.currency or add_ons[0].amount_currency
    assign_currency(session, customer, currency)
    timezone = applicable_timezone(customer, organization)
    today = local_date(now, timezone)
    invoice = new_invoice(
        customer,
        organization,
        invoice_type="one_off",
        currency=currency,
        billing_date=today,
        issuing_date=today,
        now=now,
    )
    session.add(invoice)
    session.flush()
    ctx = BillingContext(
        session=session, customer=customer, timezone=timezone, currency=currency, now=now
    )
    built = []
    for fee, add_on in zip(data.fees, add_ons, strict=True):
        unit_cents = (
            fee.unit_amount_cents if fee.unit_amount_cents is not None else add_on.amount_cents
        )
        precise = Decimal(unit_cents) * fee.units
        if precise > AMOUNT_CENTS_MAX:
            raise ValidationFailed.single("units", "value_is_out_of_range")
        explicit = (
            find_taxes_by_codes(session, organization_id, fee.tax_codes) if fee.tax_codes else None
        )
        built.append(
            BuiltFee(
                ctx.new_fee(
                    fee_type="add_on",
                    add_on_id=add_on.id,
                    item_code=add_on.code,
                    item_name=add_on.name,
                    item_id=add_on.id,
                    item_type="AddOn",
                    invoice_display_name=fee.invoice_display_name
                    or add_on.invoice_display_name
                    or add_on.name,
                    description=fee.description
                    if fee.description is not None
                    else add_on.description,
                    amount_cents=int(round_half_up(precise)),
                    precise_amount_cents=precise,
                    unit_amount_cents=unit_cents,
                    precise_unit_amount=Decimal(unit_cents) / subunit_to_unit(currency),
                    units=fee.units,
                    total_aggregated_units=fee.units,
                    events_count=0,
                    amount_details={},
                    from_datetime=fee.from_datetime,
                    to_datetime=fee.to_datetime,
                    properties={},
                ),
                ctx.taxes.for_add_on(add_on.id, explicit),
            )
        )
    apply_amounts(session, invoice, built, now, with_coupons=False)
    close_or_number(session, invoice, customer, organization, now)
    session.flush()
    session.refresh(invoice)
    return invoice


@dataclass(frozen=True)
class PreviewLine:
    name: str
    description: str | None
    units: Decimal
    unit_amount_cents: int
    amount_cents: int
    taxes_amount_cents: int


@dataclass(frozen=True)
class PreviewTax:
    name: str
    rate: Decimal
    amount_cents: int


@dataclass(frozen=True)
class OneOffPreview:
    """What `create_one_off_invoice` would bill, in plain values."""

    currency: str
    lines: list[PreviewLine]
    taxes: list[PreviewTax]
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    total_amount_cents: int


def preview_one_off_invoice(
    db: Database, organization_id: uuid.UUID, data: OneOffInput, now: datetime
) -> OneOffPreview:
    """The one-off invoice `data` asks for, created by `create_one_off_invoice` itself in
    a transaction that is rolled back: the live total of the dashboard's form is the
    total the real invoice gets. Refuses as the creation refuses."""

    def act(rehearsal: Rehearsal) -> OneOffPreview:
        invoice = create_one_off_invoice(rehearsal.session, organization_id, data, now)
        return OneOffPreview(
            currency=invoice.currency,
            lines=[
                PreviewLine(
                    name=fee.invoice_display_name or fee.item_name,
                    description=fee.description,
                    units=fee.units,
                    unit_amount_cents=fee.unit_amount_cents,
                    amount_cents=fee.amount_cents,
                    taxes_amount_cents=fee.taxes_amount_cents,
                )
                for fee in invoice.fees
            ],
            taxes=[
                PreviewTax(tax.tax_name, tax.tax_rate, tax.amount_cents)
                for tax in invoice.applied_taxes
            ],
            sub_total_excluding_taxes_amount_cents=invoice.sub_total_excluding_taxes_amount_cents,
            taxes_amount_cents=invoice.taxes_amount_cents,
            total_amount_cents=invoice.total_amount_cents,
        )

    return rehearse(db, act)
