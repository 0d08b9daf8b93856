"""What a call to the provider came to, and the error webhooks Lago sends about it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from sqlalchemy.orm import Session

from meterbill.customers.models import Customer
from meterbill.payment_providers.models import PaymentProvider
from meterbill.payment_providers.secrets import SecretsUnavailable
from meterbill.payment_providers.stripe_api import (
    ProviderError,
    describe,
    is_transient,
    payment_intent_of,
)
from meterbill.webhooks.outbox import enqueue


@dataclass(frozen=True)
class Outcome:
    """`value` when the provider answered; else `error`, `transient` when a later try
    may succeed (the network, a rate limit, the provider's own failure, no key)."""

    value: Any = None
    error: ProviderError | None = None
    transient: bool = False
    # A refused PaymentIntent's id, when the refusal names one.
    intent_id: str | None = None


def failed(error: Exception) -> Outcome:
    if isinstance(error, SecretsUnavailable):
        return Outcome(error=ProviderError("secrets_unavailable", str(error)), transient=True)
    if isinstance(error, stripe.StripeError):
        return Outcome(
            error=describe(error),
            transient=is_transient(error),
            intent_id=payment_intent_of(error),
        )
    raise error


def provider_fields(
    customer: Customer, provider: PaymentProvider | None, error: ProviderError
) -> dict[str, Any]:
    return {
        "lago_customer_id": str(customer.id),
        "external_customer_id": customer.external_id,
        "provider_customer_id": customer.provider_customer_id,
        "payment_provider": "stripe",
        "payment_provider_code": provider.code if provider else customer.payment_provider_code,
        "provider_error": error.payload(),
    }


def report_error(
    session: Session,
    organization_id: uuid.UUID,
    webhook_type: str,
    object_type: str,
    body: dict[str, Any],
    now: datetime,
) -> None:
    enqueue(session, organization_id, webhook_type, object_type, body, now)
