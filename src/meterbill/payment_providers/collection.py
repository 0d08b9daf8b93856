"""Collecting finalized invoices through Stripe, from the clock.

A payment row is the unit of work: the clock queues one for each finalized invoice with
an amount due whose customer is collected through Stripe (never in the request that
finalized it), then sends it: a PaymentIntent, off-session, on the customer's default
payment method, under the payment's idempotency key (`meterbill-invoice-<id>-<attempt>`).
A call that fails on the network or a rate limit leaves the payment queued with the same
key, so that the retry, by the package or by a later tick, can never charge twice.
Stripe's answer, or its webhook, settles the payment and the invoice (`settle`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from meterbill.core.db import Transactions
from meterbill.core.errors import MethodNotAllowed
from meterbill.core.rehearsal import for_update
from meterbill.credit_notes.service import issued_on
from meterbill.customers.models import Customer
from meterbill.invoices.models import Invoice
from meterbill.invoices.scope import Scope, within
from meterbill.invoices.service import change_payment_status
from meterbill.organizations.models import Organization
from meterbill.payment_providers.models import PaymentProvider, ProviderCustomer
from meterbill.payment_providers.options import ProviderOptions, backoff
from meterbill.payment_providers.outcomes import Outcome, failed, provider_fields, report_error
from meterbill.payment_providers.service import connected, customer_connection
from meterbill.payment_providers.stripe_api import AMOUNT_TOO_SMALL, ProviderError, client
from meterbill.payments.models import Payment
from meterbill.webhooks.outbox import materialize

BATCH = 50
QUEUED = "queued"
# Lago's StripeProvider statuses, by what they make of the invoice's payment.
PROCESSING = ("processing", "requires_capture", "requires_action", "requires_confirmation")
FAILED = ("canceled", "requires_payment_method", "failed")
IN_FLIGHT = (QUEUED, *PROCESSING)


def payable_status(status: str) -> str:
    if status == "succeeded":
        return "succeeded"
    if status in PROCESSING:
        return "processing"
    if status in FAILED:
        return "failed"
    return "pending"


@dataclass
class CollectionReport:
    queued: list[str] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    processing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)


# --- queueing ---------------------------------------------------------------


def _provider_payments(invoice_id: Any) -> Any:
    return select(Payment.id).where(
        Payment.invoice_id == invoice_id, Payment.payment_type == "provider"
    )


def queue_payment(
    session: Session,
    invoice: Invoice,
    customer: Customer,
    provider: PaymentProvider,
    amount_cents: int,
    now: datetime,
) -> Payment:
    attempt = 1 + (
        session.scalar(select(func.count()).select_from(_provider_payments(invoice.id).subquery()))
        or 0
    )
    payment = Payment(
        id=uuid.uuid4(),
        organization_id=invoice.organization_id,
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        amount_cents=amount_cents,
        amount_currency=invoice.currency,
        payment_type="provider",
        status=QUEUED,
        payable_payment_status="pending",
        payment_provider_id=provider.id,
        provider_customer_id=customer.provider_customer_id,
        idempotency_key=f"meterbill-invoice-{invoice.id}-{attempt}",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(payment)
    session.flush()
    return payment


def queue_new_invoices(
    session: Session, now: datetime, report: CollectionReport, scope: Scope | None = None
) -> None:
    """Finalized invoices with an amount due, of customers collected through Stripe,
    never sent for collection yet (an invoice finalized by any path: the billing run,
    the API, the deletion cascade)."""
    query = (
        select(Invoice, Customer)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(
            within(scope, Invoice.customer_id),
            Invoice.status == "finalized",
            Invoice.payment_status == "pending",
            Invoice.total_amount_cents > Invoice.total_paid_amount_cents,
            Invoice.payment_dispute_lost_at.is_(None),
            Customer.payment_provider == "stripe",
            Customer.provider_customer_id.is_not(None),
            connected(),
            ~exists(_provider_payments(Invoice.id)),
        )
        .order_by(Invoice.created_at, Invoice.id)
        .limit(BATCH)
    )
    for invoice, customer in session.execute(
        for_update(session, query, skip_locked=True, of=Invoice)
    ).all():
        provider = customer_connection(session, customer)
        due = issued_on(session, invoice.id).due(invoice)
        if provider is None or due <= 0:
            continue
        queue_payment(session, invoice, customer, provider, due, now)
        report.queued.append(invoice.number)


# --- sending ----------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    payment_id: uuid.UUID
    invoice_number: str
    provider: PaymentProvider
    idempotency_key: str
    payment_method_id: str | None
    params: dict[str, Any]


def _intent_params(
    payment: Payment, invoice: Invoice, customer: Customer, organization: Organization
) -> dict[str, Any]:
    return {
        "amount": payment.amount_cents,
        "currency": payment.amount_currency.lower(),
        "customer": payment.provider_customer_id,
        "payment_method_types": customer.provider_payment_methods or ["card"],
        "confirm": True,
        # Lago: Indian cards are charged on-session (RBI rules); everyone else off it.
        "off_session": customer.country != "IN",
        "error_on_requires_action": customer.country != "IN",
        "description": f"{organization.name} - Invoice {invoice.number}",
        "metadata": {
            "lago_payment_id": str(payment.id),
            "lago_invoice_id": str(invoice.id),
            "lago_customer_id": str(customer.id),
            "lago_organization_id": str(invoice.organization_id),
            "invoice_issuing_date": invoice.issuing_date.isoformat(),
            "invoice_type": invoice.invoice_type,
        },
    }


def _claim(
    session: Session, now: datetime, options: ProviderOptions, scope: Scope | None
) -> list[_Claim]:
    query = (
        select(Payment)
        .where(
            within(scope, Payment.customer_id),
            Payment.payment_type == "provider",
            Payment.status == QUEUED,
            Payment.next_attempt_at <= now,
        )
        .order_by(Payment.next_attempt_at, Payment.id)
        .limit(BATCH)
    )
    claims = []
    for payment in session.scalars(for_update(session, query, skip_locked=True)).all():
        invoice = session.get(Invoice, payment.invoice_id)
        customer = session.get(Customer, payment.customer_id)
        organization = session.get(Organization, payment.organization_id)
        provider = (
            session.get(PaymentProvider, payment.payment_provider_id)
            if payment.payment_provider_id
            else None
        )
        assert invoice is not None and customer is not None and organization is not None
        if invoice.status != "finalized" or invoice.payment_status == "succeeded":
            # Voided, or paid another way meanwhile (Lago's AlreadyPaidError): not sent.
            payment.status, payment.next_attempt_at, payment.updated_at = "canceled", None, now
            continue
        if provider is None or provider.deleted_at is not None:
            # Disconnected since: nothing can be sent; the invoice is left as it was.
            payment.status, payment.error_code = "failed", "missing_payment_provider"
            payment.updated_at = now
            continue
        state = session.get(ProviderCustomer, customer.id)
        payment.attempts += 1
        payment.next_attempt_at = now + options.lease
        payment.updated_at = now
        session.expunge(provider)
        claims.append(
            _Claim(
                payment.id,
                invoice.number,
                provider,
                payment.idempotency_key or f"meterbill-payment-{payment.id}",
                state.payment_method_id if state else None,
                _intent_params(payment, invoice, customer, organization),
            )
        )
    session.flush()
    return claims


def _default_method(stripe_client: Any, customer_id: str) -> str | None:
    """Lago's order: the customer's invoice default, its default source, else the first
    payment method it has."""
    stripe_customer = stripe_client.v1.customers.retrieve(customer_id).to_dict()
    settings = stripe_customer.get("invoice_settings") or {}
    method = settings.get("default_payment_method") or stripe_customer.get("default_source")
    if method:
        return method if isinstance(method, str) else method.get("id")
    methods = stripe_client.v1.customers.payment_methods.list(customer_id)
    return methods.data[0].id if methods.data else None


def _charge(claim: _Claim, options: ProviderOptions) -> Outcome:
    try:
        stripe_client = client(claim.provider, options)
        customer_id = claim.params["customer"]
        method = claim.payment_method_id or _default_method(stripe_client, customer_id)
        if method is None:
            message = "The customer has no payment method at Stripe"
            return Outcome(error=ProviderError("missing_payment_method", message))
        intent = stripe_client.v1.payment_intents.create(
            params={**claim.params, "payment_method": method},  # type: ignore[typeddict-item]
            options={"idempotency_key": claim.idempotency_key},
        )
    except Exception as error:
        return failed(error)
    return Outcome(value={"id": intent.id, "status": intent.status})


# --- settling ---------------------------------------------------------------


def settle(
    session: Session,
    payment: Payment,
    invoice: Invoice,
    status: str,
    now: datetime,
    *,
    error: ProviderError | None = None,
    payable: str | None = None,
) -> str:
    """The provider's word on a payment, applied to it and its invoice; the same word
    twice changes nothing, and a succeeded payment never goes back."""
    if payment.payable_payment_status == "succeeded":
        return "succeeded"
    payable = payable or payable_status(status)
    if payment.status == status and payment.payable_payment_status == payable:
        return payable
    # Told once: Stripe's webhook after the refused call's own answer sends nothing more.
    already_failed = payment.payable_payment_status == "failed"
    payment.status, payment.payable_payment_status = status, payable
    if error is not None:
        payment.error_code, payment.error_message = error.code, error.message
    payment.next_attempt_at = None
    payment.updated_at = now
    if payable == "succeeded":
        invoice.total_paid_amount_cents += payment.amount_cents
        invoice.updated_at = now
        if issued_on(session, invoice.id).due(invoice) <= 0:
            change_payment_status(session, invoice, "succeeded", now)
    elif payable == "failed" and not already_failed and invoice.payment_status != "succeeded":
        change_payment_status(session, invoice, "failed", now)
        customer = session.get(Customer, invoice.customer_id)
        provider = (
            session.get(PaymentProvider, payment.payment_provider_id)
            if payment.payment_provider_id
            else None
        )
        assert customer is not None
        reason = error or ProviderError(payment.error_code, payment.error_message or status)
        report_error(
            session,
            invoice.organization_id,
            "invoice.payment_failure",
            "payment_provider_invoice_payment_error",
            {"lago_invoice_id": str(invoice.id), **provider_fields(customer, provider, reason)},
            now,
        )
    session.flush()
    return payable


def locked_invoice(session: Session, invoice_id: uuid.UUID) -> Invoice:
    invoice = session.scalar(select(Invoice).where(Invoice.id == invoice_id).with_for_update())
    assert invoice is not None
    # Changed here: a webhook still to render shows it as it was before.
    materialize(session, object_ids=[invoice.id])
    return invoice


def _record(session: Session, claim: _Claim, outcome: Outcome, now: datetime) -> str:
    invoice_id = session.scalar(select(Payment.invoice_id).where(Payment.id == claim.payment_id))
    invoice = locked_invoice(session, invoice_id)  # type: ignore[arg-type]
    payment = session.scalar(
        select(Payment).where(Payment.id == claim.payment_id).with_for_update()
    )
    assert payment is not None
    if outcome.error is None:
        payment.provider_payment_id = outcome.value["id"]
        if payment.status != QUEUED:
            return payment.payable_payment_status  # a webhook told first
        return settle(session, payment, invoice, outcome.value["status"], now)
    if outcome.intent_id:
        payment.provider_payment_id = outcome.intent_id
    if outcome.transient:
        payment.error_code, payment.error_message = outcome.error.code, outcome.error.message
        payment.next_attempt_at = now + backoff(payment.attempts)
        payment.updated_at = now
        return "deferred"
    if payment.status != QUEUED:
        return payment.payable_payment_status
    # Lago: an amount Stripe finds too small leaves the invoice to be paid by hand.
    payable = "pending" if outcome.error.code == AMOUNT_TOO_SMALL else "failed"
    return settle(session, payment, invoice, "failed", now, error=outcome.error, payable=payable)


def collect(
    db: Transactions,
    now: datetime,
    options: ProviderOptions,
    report: CollectionReport,
    scope: Scope | None = None,
) -> None:
    with db.transaction() as session:
        queue_new_invoices(session, now, report, scope)
    if not options.box().ready:
        return
    with db.transaction() as session:
        claims = _claim(session, now, options, scope)
    for claim in claims:
        outcome = _charge(claim, options)  # outside any transaction
        with db.transaction() as session:
            result = _record(session, claim, outcome, now)
        getattr(report, result if hasattr(report, result) else "deferred").append(
            claim.invoice_number
        )


# --- asked for through the API -------------------------------------------------


def retry_payment(session: Session, invoice: Invoice, now: datetime) -> Payment | None:
    """Lago's RetryService: a new attempt (a new key: the failed charge stays failed),
    sent by the next tick. A customer without a payment provider is told through
    invoice.payment_failure; one whose provider cannot charge it yet, not at all."""
    if invoice.status != "finalized" or invoice.payment_status == "succeeded":
        raise MethodNotAllowed("invalid_status")
    in_flight = session.scalar(
        select(exists(_provider_payments(invoice.id).where(Payment.status.in_(IN_FLIGHT))))
    )
    if in_flight:
        raise MethodNotAllowed("payment_processor_is_currently_handling_payment")
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    if not customer.payment_provider:
        reason = ProviderError("customer_must_have_payment_provider", "")
        body = provider_fields(customer, None, reason)
        body.update(payment_provider=None, provider_error={"code": reason.code})
        report_error(
            session,
            invoice.organization_id,
            "invoice.payment_failure",
            "payment_provider_invoice_payment_error",
            {"lago_invoice_id": str(invoice.id), **body},
            now,
        )
        return None
    provider = customer_connection(session, customer)
    due = issued_on(session, invoice.id).due(invoice)
    if provider is None or not customer.provider_customer_id or due <= 0:
        return None
    return queue_payment(session, invoice, customer, provider, due, now)
