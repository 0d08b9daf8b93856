"""Helpers for billing scenarios: the `Setup` of the current-usage tests plus coupons,
the clock and a plain read-back of invoices, fees, taxes and credits from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from meterbill.clock import TickReport, tick
from meterbill.coupons.models import Coupon
from meterbill.coupons.schemas import parse_applied_coupon, parse_coupon
from meterbill.coupons.service import apply_coupon, create_coupon
from meterbill.customers.models import Customer
from meterbill.invoices.models import Invoice
from tests.db.test_current_usage import Setup, utc

__all__ = ["Billing", "FeeRow", "InvoiceRow", "utc"]


@dataclass(frozen=True)
class FeeRow:
    fee_type: str
    item_code: str
    amount_cents: int
    precise_amount_cents: Decimal
    precise_coupons_amount_cents: Decimal
    taxes_amount_cents: int
    taxes_rate: Decimal
    units: Decimal
    events_count: int
    true_up: bool
    from_datetime: datetime | None
    to_datetime: datetime | None
    subscription_id: Any
    taxes: dict[str, int]  # tax code -> rounded fee tax


@dataclass(frozen=True)
class InvoiceRow:
    id: Any
    number: str
    status: str
    customer: str
    billing_date: date
    issuing_date: date
    payment_due_date: date
    fees_amount_cents: int
    coupons_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    sub_total_including_taxes_amount_cents: int
    total_amount_cents: int
    payment_status: str
    fees: list[FeeRow]
    credits: list[tuple[str, int]]  # (coupon code, amount)
    applied_taxes: dict[str, tuple[int, int]]  # code -> (amount, fees_amount)
    periods: list[dict[str, Any]]

    def fee(self, item_code: str, *, true_up: bool = False) -> FeeRow:
        [found] = [f for f in self.fees if f.item_code == item_code and f.true_up == true_up]
        return found

    @property
    def totals(self) -> tuple[int, int, int, int, int, int]:
        return (
            self.fees_amount_cents,
            self.coupons_amount_cents,
            self.sub_total_excluding_taxes_amount_cents,
            self.taxes_amount_cents,
            self.sub_total_including_taxes_amount_cents,
            self.total_amount_cents,
        )


class Billing(Setup):
    """Setup + coupons, the clock, and invoices read back from the database."""

    def coupon(self, code: str, **fields: Any) -> None:
        body = {"name": code, "code": code, "expiration": "no_expiration", **fields}
        with self.database.transaction() as session:
            create_coupon(session, self.org.id, parse_coupon(body, creating=True), utc(2020, 1, 1))

    def apply(self, customer: str, code: str, at: datetime, **fields: Any) -> None:
        body = {"external_customer_id": customer, "coupon_code": code, **fields}
        with self.database.transaction() as session:
            apply_coupon(session, self.org.id, parse_applied_coupon(body), at)

    def coupon_status(self, code: str) -> str:
        with self.database.transaction(write=False) as session:
            return session.scalars(
                select(Coupon.status).where(
                    Coupon.organization_id == self.org.id, Coupon.code == code
                )
            ).one()

    def tick(self, now: datetime) -> TickReport:
        return tick(self.database, now)

    def invoices(self, customer: str | None = None) -> list[InvoiceRow]:
        """The org's invoices (optionally one customer's), in billing then finalization order."""
        with self.database.transaction(write=False) as session:
            query = (
                select(Invoice, Customer.external_id)
                .join(Customer, Customer.id == Invoice.customer_id)
                .where(Invoice.organization_id == self.org.id)
                .order_by(
                    Invoice.billing_date,
                    Invoice.created_at,
                    Invoice.organization_sequential_id,
                    Invoice.id,
                )
            )
            if customer is not None:
                query = query.where(Customer.external_id == customer)
            return [_row(invoice, external) for invoice, external in session.execute(query).all()]


def _row(invoice: Invoice, customer: str) -> InvoiceRow:
    return InvoiceRow(
        id=invoice.id,
        number=invoice.number,
        status=invoice.status,
        customer=customer,
        billing_date=invoice.billing_date,
        issuing_date=invoice.issuing_date,
        payment_due_date=invoice.payment_due_date,
        fees_amount_cents=invoice.fees_amount_cents,
        coupons_amount_cents=invoice.coupons_amount_cents,
        sub_total_excluding_taxes_amount_cents=invoice.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=invoice.taxes_amount_cents,
        sub_total_including_taxes_amount_cents=invoice.sub_total_including_taxes_amount_cents,
        total_amount_cents=invoice.total_amount_cents,
        payment_status=invoice.payment_status,
        fees=[
            FeeRow(
                fee_type=fee.fee_type,
                item_code=fee.item_code,
                amount_cents=fee.amount_cents,
                precise_amount_cents=fee.precise_amount_cents,
                precise_coupons_amount_cents=fee.precise_coupons_amount_cents,
                taxes_amount_cents=fee.taxes_amount_cents,
                taxes_rate=fee.taxes_rate,
                units=fee.units,
                events_count=fee.events_count,
                true_up=fee.true_up_parent_fee_id is not None,
                from_datetime=fee.from_datetime,
                to_datetime=fee.to_datetime,
                subscription_id=fee.subscription_id,
                taxes={tax.tax_code: tax.amount_cents for tax in fee.applied_taxes},
            )
            for fee in invoice.fees
        ],
        credits=[(credit.item_code, credit.amount_cents) for credit in invoice.credits],
        applied_taxes={
            tax.tax_code: (tax.amount_cents, tax.fees_amount_cents) for tax in invoice.applied_taxes
        },
        periods=[
            {
                "subscription_id": entry.subscription_id,
                "reason": entry.invoicing_reason,
                "from": entry.from_datetime,
                "to": entry.to_datetime,
                "charges_from": entry.charges_from_datetime,
                "charges_to": entry.charges_to_datetime,
            }
            for entry in invoice.billing_periods
        ],
    )
