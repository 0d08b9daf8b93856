"""What the settings tell the payment providers' code (Settings.provider_options)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from meterbill.payment_providers.secrets import SecretBox


@dataclass(frozen=True)
class ProviderOptions:
    # The Fernet key secrets are stored with (METERBILL_ENCRYPTION_KEY).
    encryption_key: str | None = None
    # Another address for Stripe's API (a test double, a proxy); None: Stripe's own.
    stripe_api_base: str | None = None
    # Quick retries inside one call, by the stripe package (it reuses the idempotency
    # key); what still fails is tried again by a later tick, after `backoff`.
    network_retries: int = 2
    # Seconds a claimed call may take before another worker may try it again.
    lease: timedelta = timedelta(minutes=10)
    # Where Stripe reaches this meterbill: shown beside each connection (its webhook URL)
    # and, when `register_webhooks`, registered at Stripe for connections given no
    # signing secret (only with METERBILL_PUBLIC_URL set: a localhost address would be
    # refused by Stripe at every tick).
    public_url: str | None = None
    register_webhooks: bool = False

    def box(self) -> SecretBox:
        return SecretBox(self.encryption_key)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes after the n-th failed attempt, at most 6 hours."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=6))
