"""Refunding credit notes through Stripe, from the clock.

A credit note with a refund amount on an invoice paid through Stripe gets a refund row
(queued), sent as a Stripe refund of the payment's PaymentIntent under the credit
note's id as idempotency key; its status (Stripe's answer, then charge.refund.updated)
is the credit note's refund_status.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, true
from sqlalchemy.orm import Session

from meterbill.core.db import Transactions
from meterbill.core.rehearsal import for_update
from meterbill.credit_notes.models import CreditNote
from meterbill.customers.models import Customer
from meterbill.invoices.models import Invoice
from meterbill.invoices.scope import Scope, within
from meterbill.payment_providers.models import PaymentProvider, Refund
from meterbill.payment_providers.options import ProviderOptions, backoff
from meterbill.payment_providers.outcomes import Outcome, failed, provider_fields, report_error
from meterbill.payment_providers.stripe_api import ProviderError, client
from meterbill.payments.models import Payment

BATCH = 50
QUEUED = "queued"
# Lago's CreditNotes::Refunds::StripeService#stripe_reason.
REASONS = {
    "duplicated_charge": "duplicate",
    "product_unsatisfactory": "requested_by_customer",
    "order_change": "requested_by_customer",
    "order_cancellation": "requested_by_customer",
    "fraudulent_charge": "fraudulent",
}


def refund_status(status: str) -> str:
    """Stripe's refund status as a credit note's refund_status."""
    if status == "succeeded":
        return "succeeded"
    if status in ("failed", "canceled"):
        return "failed"
    return "pending"


@dataclass
class RefundReport:
    queued: list[str] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)


def queue_refunds(
    session: Session, now: datetime, report: RefundReport, scope: Scope | None = None
) -> None:
    """Credit notes refunding an invoice a Stripe payment paid, not sent yet."""
    paid = (
        select(Payment.id)
        .where(
            Payment.invoice_id == CreditNote.invoice_id,
            Payment.payment_type == "provider",
            Payment.payable_payment_status == "succeeded",
            Payment.provider_payment_id.is_not(None),
        )
        .order_by(Payment.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(CreditNote, paid)
        .join(Invoice, Invoice.id == CreditNote.invoice_id)
        .where(
            within(scope, CreditNote.customer_id),
            CreditNote.status == "finalized",
            CreditNote.refund_amount_cents > 0,
            CreditNote.refund_status == "pending",
            Invoice.payment_dispute_lost_at.is_(None),
            paid.is_not(None),
            ~exists(select(Refund.id).where(Refund.credit_note_id == CreditNote.id)),
        )
        .order_by(CreditNote.created_at)
        .limit(BATCH)
    )
    for note, payment_id in session.execute(
        for_update(session, query, skip_locked=True, of=CreditNote)
    ).all():
        payment = session.get(Payment, payment_id)
        assert payment is not None and payment.payment_provider_id is not None
        session.add(
            Refund(
                id=uuid.uuid4(),
                organization_id=note.organization_id,
                credit_note_id=note.id,
                payment_id=payment.id,
                payment_provider_id=payment.payment_provider_id,
                amount_cents=note.refund_amount_cents,
                amount_currency=note.currency,
                status=QUEUED,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        report.queued.append(note.number)
    session.flush()


@dataclass(frozen=True)
class _Claim:
    refund_id: uuid.UUID
    number: str
    provider: PaymentProvider
    params: dict[str, Any]
    idempotency_key: str


def _claim(
    session: Session, now: datetime, options: ProviderOptions, scope: Scope | None
) -> list[_Claim]:
    scoped = (
        Refund.credit_note_id.in_(
            select(CreditNote.id).where(within(scope, CreditNote.customer_id))
        )
        if scope is not None
        else true()
    )
    query = (
        select(Refund)
        .where(scoped, Refund.status == QUEUED, Refund.next_attempt_at <= now)
        .order_by(Refund.next_attempt_at, Refund.id)
        .limit(BATCH)
    )
    claims = []
    for refund in session.scalars(for_update(session, query, skip_locked=True)).all():
        note = session.get(CreditNote, refund.credit_note_id)
        payment = session.get(Payment, refund.payment_id)
        provider = session.get(PaymentProvider, refund.payment_provider_id)
        assert note is not None and payment is not None and provider is not None
        refund.attempts += 1
        refund.next_attempt_at = now + options.lease
        refund.updated_at = now
        params: dict[str, Any] = {
            "payment_intent": payment.provider_payment_id,
            "amount": refund.amount_cents,
            "metadata": {
                "lago_customer_id": str(note.customer_id),
                "lago_credit_note_id": str(note.id),
                "lago_invoice_id": str(note.invoice_id),
            },
        }
        if note.reason in REASONS:
            params["reason"] = REASONS[note.reason]
        session.expunge(provider)
        claims.append(_Claim(refund.id, note.number, provider, params, str(note.id)))
    session.flush()
    return claims


def _send(claim: _Claim, options: ProviderOptions) -> Outcome:
    try:
        refund = client(claim.provider, options).v1.refunds.create(
            params=claim.params,  # type: ignore[arg-type]
            options={"idempotency_key": claim.idempotency_key},
        )
    except Exception as error:
        return failed(error)
    return Outcome(value={"id": refund.id, "status": refund.status})


def apply_status(
    session: Session,
    refund: Refund,
    status: str,
    now: datetime,
    *,
    error: ProviderError | None = None,
) -> str:
    """Stripe's word on a refund, applied to it and its credit note; a succeeded credit
    note's refund stays succeeded."""
    note = session.scalar(
        select(CreditNote).where(CreditNote.id == refund.credit_note_id).with_for_update()
    )
    assert note is not None
    if note.refund_status == "succeeded" or refund.status == status:
        return note.refund_status or "pending"
    refund.status = status
    refund.next_attempt_at = None
    refund.updated_at = now
    if error is not None:
        refund.error = error.payload()
    mapped = refund_status(status)
    note.refund_status = mapped
    note.updated_at = now
    if mapped == "succeeded":
        note.refunded_at = now
    if mapped == "failed":
        customer = session.get(Customer, note.customer_id)
        provider = session.get(PaymentProvider, refund.payment_provider_id)
        assert customer is not None
        reason = error or ProviderError(None, "Payment refund failed")
        # Lago's body says credit_note.refund_failure, which no endpoint filtering on
        # its subscribable name (credit_note.provider_refund_failure) receives.
        report_error(
            session,
            note.organization_id,
            "credit_note.refund_failure",
            "credit_note_payment_provider_refund_error",
            {"lago_credit_note_id": str(note.id), **provider_fields(customer, provider, reason)},
            now,
        )
    session.flush()
    return mapped


def _record(session: Session, claim: _Claim, outcome: Outcome, now: datetime) -> str:
    refund = session.scalar(select(Refund).where(Refund.id == claim.refund_id).with_for_update())
    assert refund is not None
    if outcome.error is None:
        refund.provider_refund_id = outcome.value["id"]
        return apply_status(session, refund, outcome.value["status"], now)
    if outcome.transient:
        refund.error = outcome.error.payload()
        refund.next_attempt_at = now + backoff(refund.attempts)
        refund.updated_at = now
        return "deferred"
    return apply_status(session, refund, "failed", now, error=outcome.error)


def refund_credit_notes(
    db: Transactions,
    now: datetime,
    options: ProviderOptions,
    report: RefundReport,
    scope: Scope | None = None,
) -> None:
    with db.transaction() as session:
        queue_refunds(session, now, report, scope)
    if not options.box().ready:
        return
    with db.transaction() as session:
        claims = _claim(session, now, options, scope)
    for claim in claims:
        outcome = _send(claim, options)  # outside any transaction
        with db.transaction() as session:
            result = _record(session, claim, outcome, now)
        getattr(report, result).append(claim.number)
