"""Paid fees regrouped on an invoice: a charge with `regroup_paid_fees: "invoice"` (paid in
advance, not invoiceable) has its fees paid one by one outside invoices; when the
subscription is billed, the fees paid by then go together on an `advance_charges`
invoice, already paid, as a statement of what was charged (Lago's AdvanceChargesService).

On a plain billing day only the fees of periods that have ended are regrouped (a fee of
the period just starting waits for the next one); a plan change or a termination takes
every fee paid so far.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from meterbill.core.db import flush_in_table_order
from meterbill.core.money import round_half_up
from meterbill.core.periods import local_date
from meterbill.core.rehearsal import rehearsing
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices.lifecycle import Billed, close_or_number, new_invoice
from meterbill.invoices.models import Fee, FeeTax, Invoice, InvoiceSubscription, InvoiceTax
from meterbill.invoices.run import current_run, deferring
from meterbill.organizations.models import Organization
from meterbill.payments.models import Payment
from meterbill.plans.models import Charge
from meterbill.subscriptions.models import Subscription
from meterbill.usage.service import plan_charges

REFERENCE = "Charges paid in advance"


def regroup_paid_fees(
    session: Session,
    customer: Customer,
    organization: Organization,
    billed: Sequence[Billed],
    now: datetime,
) -> Invoice | None:
    """The `advance_charges` invoice of the fees paid by `now` for the billed
    subscriptions (and the others of their external ids), or None when there are none."""
    subscriptions = [item.subscription for item in billed]
    if rehearsing(session) or not _regrouping(session, subscriptions):
        return None
    external_ids = {subscription.external_id for subscription in subscriptions}
    owners = select(Subscription.id).where(
        Subscription.customer_id == customer.id,
        Subscription.external_id.in_(external_ids),
        Subscription.status.in_(("active", "terminated")),
    )
    regrouped = select(Charge.id).where(Charge.regroup_paid_fees == "invoice")
    query = select(Fee).where(
        Fee.invoice_id.is_(None),
        Fee.deleted_at.is_(None),
        Fee.payment_status == "succeeded",
        Fee.succeeded_at <= now,
        Fee.subscription_id.in_(owners),
        Fee.charge_id.in_(regrouped),
    )
    if _plain_billing_day(session, subscriptions):
        query = query.where(or_(Fee.to_datetime.is_(None), Fee.to_datetime <= now))
    fees = list(session.scalars(query.order_by(Fee.created_at, Fee.id).with_for_update()))
    if not fees:
        return None
    if deferring(session):
        # A clock batch holds its writes back: they go out before this invoice is numbered.
        flush_in_table_order(session)
        run = current_run(session)
        if run is not None:
            run.pending.clear()
    today = local_date(now, applicable_timezone(customer, organization))
    invoice = new_invoice(
        customer, organization, invoice_type="advance_charges", currency=fees[0].amount_currency,
        billing_date=today, issuing_date=today, now=now,
    )  # fmt: skip
    session.add(invoice)
    session.flush()
    for fee in fees:
        fee.invoice_id = invoice.id
        fee.updated_at = now
    _amounts_from_fees(session, invoice, fees, now)
    _billing_periods(session, invoice, billed, fees, now)
    close_or_number(session, invoice, customer, organization, now)
    if invoice.status == "finalized" and invoice.total_amount_cents > 0:
        # Paid already, fee by fee: the invoice records that payment.
        session.add(
            Payment(
                id=uuid.uuid4(), organization_id=invoice.organization_id,
                customer_id=invoice.customer_id, invoice_id=invoice.id,
                amount_cents=invoice.total_amount_cents, amount_currency=invoice.currency,
                payment_type="manual", status="succeeded", payable_payment_status="succeeded",
                reference=REFERENCE, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        invoice.total_paid_amount_cents = invoice.total_amount_cents
    invoice.payment_status = "succeeded"
    session.flush()
    return invoice


def _billing_periods(
    session: Session, invoice: Invoice, billed: Sequence[Billed], fees: Sequence[Fee],
    now: datetime,
) -> None:  # fmt: skip
    """A billing period per subscription with regrouped fees: the charges period the
    billing closes, of the latest subscription billed (as Lago's, for plan and charges)."""
    latest = sorted(
        (item for item in billed if item.spec.charges is not None),
        key=lambda item: item.subscription.started_at or now,
        reverse=True,
    )
    if not latest or latest[0].spec.charges is None:
        return
    start, end = latest[0].spec.charges
    owners = list(dict.fromkeys(fee.subscription_id for fee in fees if fee.subscription_id))
    for position, subscription_id in enumerate(owners):
        session.add(
            InvoiceSubscription(
                id=uuid.uuid4(), invoice_id=invoice.id, subscription_id=subscription_id,
                invoicing_reason="in_advance_charge_periodic",
                boundary=f"advance_charges:{invoice.id}", from_datetime=start, to_datetime=end,
                charges_from_datetime=start, charges_to_datetime=end, position=position,
                created_at=now,
            )
        )  # fmt: skip


def _regrouping(session: Session, subscriptions: Sequence[Subscription]) -> bool:
    return any(
        charge.regroup_paid_fees == "invoice"
        for subscription in subscriptions
        for charge in plan_charges(session, subscription.plan_id)[0]
    )


def _plain_billing_day(session: Session, subscriptions: Sequence[Subscription]) -> bool:
    """Every subscription active, none handing over to a pending one."""
    if any(subscription.status != "active" for subscription in subscriptions):
        return False
    pending = session.scalar(
        select(Subscription.id)
        .where(
            Subscription.previous_subscription_id.in_([s.id for s in subscriptions]),
            Subscription.status == "pending",
        )
        .limit(1)
    )
    return pending is None


def _amounts_from_fees(
    session: Session, invoice: Invoice, fees: Sequence[Fee], now: datetime
) -> None:
    """The sums of the fees' own figures: their taxes were charged with them, fee by
    fee, so they are added up, not computed again on the total."""
    fees_amount = sum(fee.amount_cents for fee in fees)
    taxes = sum(fee.taxes_amount_cents for fee in fees)
    invoice.fees_amount_cents = fees_amount
    invoice.sub_total_excluding_taxes_amount_cents = fees_amount
    invoice.taxes_amount_cents = taxes
    invoice.sub_total_including_taxes_amount_cents = fees_amount + taxes
    invoice.total_amount_cents = fees_amount + taxes
    invoice.taxes_rate = (
        round_half_up(Decimal(taxes) * 100 / Decimal(fees_amount), 5) if fees_amount else Decimal(0)
    )
    amounts = {fee.id: fee.amount_cents for fee in fees}
    by_tax: dict[uuid.UUID, tuple[FeeTax, int, int]] = {}
    for applied in session.scalars(
        select(FeeTax).where(FeeTax.fee_id.in_(list(amounts))).order_by(FeeTax.created_at)
    ):
        first, amount, base = by_tax.get(applied.tax_id, (applied, 0, 0))
        by_tax[applied.tax_id] = (
            first,
            amount + applied.amount_cents,
            base + amounts[applied.fee_id],
        )
    for tax_id, (first, amount, base) in by_tax.items():
        session.add(
            InvoiceTax(
                invoice_id=invoice.id, tax_id=tax_id, tax_name=first.tax_name,
                tax_code=first.tax_code, tax_rate=first.tax_rate,
                tax_description=first.tax_description, amount_cents=amount,
                fees_amount_cents=base, amount_currency=invoice.currency, created_at=now,
            )
        )  # fmt: skip
