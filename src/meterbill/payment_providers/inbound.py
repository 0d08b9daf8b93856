"""Stripe's webhooks (`POST /webhooks/stripe/{organization_id}?code=...`): verified
with the connection's signing secret by the stripe package, applied once.

An event's id is stored with the changes it makes, in one transaction: a replayed event
finds it and changes nothing; one whose changes fail is not stored, and Stripe sends
it again. Each handler reads only the database (Stripe is never called from here).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.errors import BadRequest, NotFound
from meterbill.core.records import uuid_or_none
from meterbill.customers.models import Customer
from meterbill.invoices.models import Invoice
from meterbill.payment_providers.collection import QUEUED, locked_invoice, settle
from meterbill.payment_providers.customer_sync import provider_state
from meterbill.payment_providers.models import (
    PaymentProvider,
    ProviderEvent,
    Refund,
)
from meterbill.payment_providers.outcomes import report_error
from meterbill.payment_providers.refunds import apply_status
from meterbill.payment_providers.secrets import SecretBox, SecretsUnavailable
from meterbill.payment_providers.service import connection_for, customer_connection
from meterbill.payment_providers.stripe_api import ProviderError
from meterbill.payments.models import Payment
from meterbill.webhooks.outbox import render

# Stripe's own default: a signature older than this is refused (a replay from afar).
TOLERANCE_SECONDS = 300

Handler = Callable[[Session, PaymentProvider, dict[str, Any], dict[str, Any], datetime], None]


def receive(
    session: Session,
    organization_id: str,
    code: str | None,
    payload: bytes,
    signature: str | None,
    box: SecretBox,
    now: datetime,
) -> bool:
    """Apply one event; False when it was applied before (or is of no interest)."""
    org = uuid_or_none(organization_id)
    provider = connection_for(session, org, "stripe", code) if org is not None else None
    if provider is None:
        raise NotFound("payment_provider")
    if provider.webhook_secret is None or not signature:
        raise BadRequest("invalid signature")
    try:
        secret = box.decrypt(provider.webhook_secret)
        stripe.WebhookSignature.verify_header(
            payload.decode(), signature, secret, tolerance=TOLERANCE_SECONDS
        )
        event = orjson.loads(payload)
    except (stripe.SignatureVerificationError, SecretsUnavailable, ValueError) as error:
        raise BadRequest("invalid signature") from error
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise BadRequest("invalid payload")
    handler = HANDLERS.get(str(event.get("type")))
    if handler is None:
        return False
    try:
        with session.begin_nested():
            session.add(
                ProviderEvent(
                    organization_id=provider.organization_id,
                    payment_provider_id=provider.id,
                    event_id=event["id"],
                    event_type=event["type"],
                    created_at=now,
                )
            )
            session.flush()
    except IntegrityError:
        return False
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise BadRequest("invalid payload")
    try:
        handler(session, provider, event, obj, now)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        # Signed by Stripe yet not of Stripe's shape: refused whole (the event's id
        # with it, so a corrected one is taken).
        raise BadRequest("invalid payload") from error
    return True


def _payment_for_intent(
    session: Session, provider: PaymentProvider, intent: dict[str, Any], now: datetime
) -> Payment | None:
    """The payment this PaymentIntent settles: by its id, by the payment meterbill
    named in its metadata (the answer to the create call may come after the event),
    else a Checkout page's one-time payment, recorded now (Lago's create_payment)."""
    organization_id = provider.organization_id
    payment = session.scalar(
        select(Payment).where(
            Payment.organization_id == organization_id,
            Payment.provider_payment_id == intent.get("id"),
        )
    )
    metadata = intent.get("metadata") or {}
    if payment is None and uuid_or_none(str(metadata.get("lago_payment_id", ""))):
        payment = session.scalar(
            select(Payment).where(
                Payment.organization_id == organization_id,
                Payment.id == uuid.UUID(metadata["lago_payment_id"]),
            )
        )
    if payment is not None:
        payment.provider_payment_id = payment.provider_payment_id or intent.get("id")
        return payment
    invoice_id = uuid_or_none(str(metadata.get("lago_invoice_id", "")))
    if metadata.get("payment_type") != "one-time" or invoice_id is None:
        return None  # not made by meterbill
    invoice = session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.organization_id == organization_id)
    )
    if invoice is None or invoice.payment_status == "succeeded":
        return None
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    payment = Payment(
        id=uuid.uuid4(),
        organization_id=organization_id,
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        amount_cents=int(intent.get("amount_received") or intent.get("amount") or 0),
        amount_currency=invoice.currency,
        payment_type="provider",
        status="processing",
        payable_payment_status="processing",
        payment_provider_id=provider.id,
        provider_customer_id=customer.provider_customer_id,
        provider_payment_id=intent.get("id"),
        attempts=1,
        created_at=now,
        updated_at=now,
    )
    if payment.amount_cents <= 0:
        return None
    session.add(payment)
    session.flush()
    return payment


def _intent(
    session: Session,
    provider: PaymentProvider,
    event: dict[str, Any],
    intent: dict[str, Any],
    now: datetime,
) -> None:
    payment = _payment_for_intent(session, provider, intent, now)
    if payment is None:
        return
    invoice = locked_invoice(session, payment.invoice_id)
    status = str(intent.get("status") or "")
    if event["type"] == "payment_intent.payment_failed" and status not in (
        "requires_payment_method",
        "canceled",
    ):
        status = "requires_payment_method"
    last_error = intent.get("last_payment_error") or {}
    error = (
        ProviderError(last_error.get("code"), str(last_error.get("message") or status))
        if last_error
        else None
    )
    if payment.status == QUEUED:
        payment.attempts = max(payment.attempts, 1)
    settle(session, payment, invoice, status, now, error=error)


def _stripe_customer(
    session: Session, provider: PaymentProvider, stripe_customer_id: Any
) -> Customer | None:
    if not isinstance(stripe_customer_id, str):
        return None
    for customer in session.scalars(
        select(Customer).where(
            Customer.organization_id == provider.organization_id,
            Customer.provider_customer_id == stripe_customer_id,
            Customer.deleted_at.is_(None),
        )
    ):
        connection = customer_connection(session, customer)
        if connection is not None and connection.id == provider.id:
            return customer
    return None


def _set_method(session: Session, customer: Customer, method: Any, now: datetime) -> None:
    if isinstance(method, dict):
        method = method.get("id")
    # Known at Stripe already (the event names it), so synced if it had no state yet.
    state = provider_state(session, customer, now, sync_status="synced")
    state.payment_method_id = method if isinstance(method, str) else None
    state.updated_at = now
    session.flush()


def _setup_intent(
    session: Session,
    provider: PaymentProvider,
    event: dict[str, Any],
    obj: dict[str, Any],
    now: datetime,
) -> None:
    """A card set up through Stripe (a Checkout in setup mode) becomes the customer's
    default for the next charges."""
    customer = _stripe_customer(session, provider, obj.get("customer"))
    if customer is not None and obj.get("payment_method"):
        _set_method(session, customer, obj["payment_method"], now)


def _customer_updated(
    session: Session,
    provider: PaymentProvider,
    event: dict[str, Any],
    obj: dict[str, Any],
    now: datetime,
) -> None:
    customer = _stripe_customer(session, provider, obj.get("id"))
    if customer is None:
        return
    settings = obj.get("invoice_settings") or {}
    _set_method(
        session, customer, settings.get("default_payment_method") or obj.get("default_source"), now
    )


def _dispute_closed(
    session: Session,
    provider: PaymentProvider,
    event: dict[str, Any],
    obj: dict[str, Any],
    now: datetime,
) -> None:
    """A lost dispute: the invoice is marked (Lago's LoseDisputeService) and reported."""
    if obj.get("status") != "lost":
        return
    payment = session.scalar(
        select(Payment).where(
            Payment.organization_id == provider.organization_id,
            Payment.provider_payment_id == obj.get("payment_intent"),
        )
    )
    if payment is None:
        return
    invoice = locked_invoice(session, payment.invoice_id)
    if invoice.payment_dispute_lost_at is not None:
        return
    created = event.get("created")
    invoice.payment_dispute_lost_at = (
        datetime.fromtimestamp(created, UTC) if isinstance(created, int) else now
    )
    invoice.updated_at = now
    session.flush()
    [body] = render(session, "invoice", [invoice], now)
    report_error(
        session,
        invoice.organization_id,
        "invoice.payment_dispute_lost",
        "payment_dispute_lost",
        {**body, "provider_error": obj.get("reason")},
        now,
    )


def _refund_updated(
    session: Session,
    provider: PaymentProvider,
    event: dict[str, Any],
    obj: dict[str, Any],
    now: datetime,
) -> None:
    refund = session.scalar(
        select(Refund)
        .where(
            Refund.organization_id == provider.organization_id,
            Refund.provider_refund_id == obj.get("id"),
        )
        .with_for_update()
    )
    if refund is not None and isinstance(obj.get("status"), str):
        apply_status(session, refund, obj["status"], now)


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _intent,
    "payment_intent.payment_failed": _intent,
    "payment_intent.canceled": _intent,
    "setup_intent.succeeded": _setup_intent,
    "customer.updated": _customer_updated,
    "charge.dispute.closed": _dispute_closed,
    "charge.refund.updated": _refund_updated,
}
