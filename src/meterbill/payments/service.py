"""Manual payments: record money received for an invoice, find and list them.

An invoice's `total_paid_amount_cents` grows with each payment; once payments and
offsetting credit notes cover its total, its payment status becomes `succeeded`.
Refunds (credit notes) are limited by what was paid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from meterbill.core.errors import Forbidden, NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.records import key_or_not_found
from meterbill.credit_notes.service import issued_on
from meterbill.customers.service import live_id
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.models import Invoice
from meterbill.invoices.schemas import HIDDEN_STATUSES
from meterbill.invoices.service import change_payment_status
from meterbill.payments.models import Payment
from meterbill.payments.schemas import PaymentInput

# An open credit invoice (a wallet top-up waiting for its payment) can be paid too.
MANUALLY_PAYABLE_STATUSES = ("finalized", "open")


def _amount_errors(invoice: Invoice, amount_cents: int, due: int) -> list[str]:
    errors = []
    # Purchased credits are paid whole: a wallet top-up has no partial payments.
    if invoice.invoice_type == "credit" and amount_cents != invoice.total_amount_cents:
        errors.append("invalid_amount")
    if amount_cents > due:
        errors.append("value_is_out_of_range")
    return errors


def create_manual_payment(
    session: Session, organization_id: uuid.UUID, data: PaymentInput, now: datetime
) -> Payment:
    """Refusals come in Lago's order: the request's own fields, the invoice, its status,
    then every problem with the payment itself at once."""
    if data.invoice_id is None:
        raise ValidationFailed.single("invoice_id", "value_is_mandatory")
    if data.amount_cents is None:
        raise ValidationFailed.single("amount_cents", "invalid_value")
    # Locked: a payment racing on the same invoice waits, then sees what this one paid.
    invoice = find_invoice(session, organization_id, data.invoice_id, lock=True, payable=True)
    if invoice.status not in MANUALLY_PAYABLE_STATUSES:
        raise Forbidden("feature_unavailable")
    if data.paid_at_invalid:
        raise ValidationFailed.single("paid_at", "invalid_date")
    due = issued_on(session, invoice.id).due(invoice)
    errors: dict[str, list[str]] = {}
    if data.reference_error is not None:
        errors["reference"] = [data.reference_error]
    amount_errors = _amount_errors(invoice, data.amount_cents, due)
    if amount_errors:
        errors["amount_cents"] = amount_errors
    if errors:
        raise ValidationFailed(errors)
    payment = Payment(
        id=uuid.uuid4(),
        organization_id=invoice.organization_id,
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        amount_cents=data.amount_cents,
        amount_currency=invoice.currency,
        payment_type="manual",
        status="succeeded",
        payable_payment_status="succeeded",
        reference=data.reference,
        created_at=data.paid_at or now,
        updated_at=now,
    )
    session.add(payment)
    invoice.total_paid_amount_cents += data.amount_cents
    invoice.updated_at = now
    if data.amount_cents == due:
        change_payment_status(session, invoice, "succeeded", now)
    session.flush()
    return payment


def _visible(organization_id: uuid.UUID) -> Select[tuple[Payment]]:
    """Payments of the organization whose invoice the API shows."""
    return (
        select(Payment)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(
            Payment.organization_id == organization_id,
            Invoice.status.not_in(HIDDEN_STATUSES),
        )
    )


def find_payment(session: Session, organization_id: uuid.UUID, payment_id: str) -> Payment:
    key = key_or_not_found(payment_id, "payment")
    payment = session.scalar(_visible(organization_id).where(Payment.id == key))
    if payment is None:
        raise NotFound("payment")
    return payment


@dataclass(frozen=True)
class PaymentFilters:
    invoice_id: uuid.UUID | None = None
    external_customer_id: str | None = None
    customer_id: uuid.UUID | None = None


def payment_query(organization_id: uuid.UUID, filters: PaymentFilters) -> Select[tuple[Payment]]:
    query = _visible(organization_id)
    if filters.invoice_id is not None:
        query = query.where(Payment.invoice_id == filters.invoice_id)
    if filters.customer_id is not None:
        query = query.where(Payment.customer_id == filters.customer_id)
    if filters.external_customer_id:
        query = query.where(
            Payment.customer_id.in_(live_id(organization_id, filters.external_customer_id))
        )
    return query.order_by(Payment.created_at.desc(), Payment.id.desc())


def list_payments(
    session: Session, organization_id: uuid.UUID, filters: PaymentFilters, page: PageRequest
) -> Page[Payment]:
    return paginate(session, payment_query(organization_id, filters), page)
