"""Stripe through the official `stripe` package: one client per call, pointed at the
connection's account (and at the options' API address), never a process-wide setting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

from meterbill.payment_providers.models import PaymentProvider
from meterbill.payment_providers.options import ProviderOptions

# Failures worth trying again later with the same idempotency key: the network, Stripe's
# rate limit, Stripe's own 5xx.
TRANSIENT: tuple[type[Exception], ...] = (
    stripe.APIConnectionError,
    stripe.RateLimitError,
    stripe.APIError,
)
AMOUNT_TOO_SMALL = "amount_too_small"

# Lago's PaymentProviders::StripeProvider::WEBHOOKS_EVENTS: what meterbill asks Stripe
# to send (README).
WEBHOOK_EVENTS = (
    "setup_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.succeeded",
    "payment_intent.canceled",
    "payment_method.detached",
    "charge.refund.updated",
    "customer.updated",
    "charge.dispute.closed",
)


def client(provider: PaymentProvider, options: ProviderOptions) -> stripe.StripeClient:
    secret_key = options.box().decrypt(provider.secret_key)
    return client_for_key(secret_key, options)


def client_for_key(secret_key: str, options: ProviderOptions) -> stripe.StripeClient:
    base = {"api": options.stripe_api_base} if options.stripe_api_base else None
    return stripe.StripeClient(
        secret_key,
        base_addresses=base,  # type: ignore[arg-type]
        max_network_retries=options.network_retries,
    )


@dataclass(frozen=True)
class ProviderError:
    """A refusal as Lago's error webhooks carry it (provider_error)."""

    code: str | None
    message: str

    def payload(self) -> dict[str, Any]:
        return {"message": self.message, "error_code": self.code}


def describe(error: Exception) -> ProviderError:
    if isinstance(error, stripe.StripeError):
        message = error.user_message or str(error) or type(error).__name__
        return ProviderError(error.code, message)
    return ProviderError(None, str(error) or type(error).__name__)


def is_transient(error: Exception) -> bool:
    return isinstance(error, TRANSIENT)


def payment_intent_of(error: Exception) -> str | None:
    """A card refused after the PaymentIntent was made names it in the error."""
    body = getattr(error, "json_body", None) or {}
    intent = (body.get("error") or {}).get("payment_intent") or {}
    return intent.get("id") if isinstance(intent, dict) else None
