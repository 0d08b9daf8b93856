"""Registering meterbill's webhook endpoint at Stripe for a connection given no signing
secret (Lago's RegisterWebhookService), from the clock: the endpoint's secret Stripe
answers with is stored encrypted, as a secret given by hand would be."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, true

from meterbill.core.db import Transactions
from meterbill.invoices.scope import Scope
from meterbill.payment_providers.models import PaymentProvider
from meterbill.payment_providers.options import ProviderOptions
from meterbill.payment_providers.outcomes import Outcome, failed
from meterbill.payment_providers.schemas import webhook_url
from meterbill.payment_providers.stripe_api import WEBHOOK_EVENTS, client

logger = logging.getLogger("meterbill.payment_providers")


@dataclass(frozen=True)
class _Claim:
    provider: PaymentProvider
    url: str
    idempotency_key: str


def _register(claim: _Claim, options: ProviderOptions) -> Outcome:
    try:
        endpoint = client(claim.provider, options).v1.webhook_endpoints.create(
            params={
                "url": claim.url,
                "enabled_events": list(WEBHOOK_EVENTS),  # type: ignore[typeddict-item]
                "description": "meterbill",
            },
            options={"idempotency_key": claim.idempotency_key},
        )
    except Exception as error:
        return failed(error)
    return Outcome(value={"id": endpoint.id, "secret": endpoint.secret})


def register_webhooks(
    db: Transactions,
    now: datetime,
    options: ProviderOptions,
    registered: list[str],
    scope: Scope | None = None,
) -> None:
    box = options.box()
    if not box.ready or not options.register_webhooks or not options.public_url:
        return
    organization = (
        true() if scope is None else PaymentProvider.organization_id == scope.organization_id
    )
    with db.transaction(write=False) as session:
        providers = list(
            session.scalars(
                select(PaymentProvider).where(
                    organization,
                    PaymentProvider.provider_type == "stripe",
                    PaymentProvider.deleted_at.is_(None),
                    PaymentProvider.webhook_secret.is_(None),
                )
            )
        )
        for provider in providers:
            session.expunge(provider)
    for provider in providers:
        stamp = int(provider.updated_at.timestamp() * 1_000_000)
        url = webhook_url(options.public_url, provider.organization_id, provider.code)
        # The same connection as it stands: a second worker's call is the same endpoint.
        claim = _Claim(provider, url, f"meterbill-webhook-{provider.id}-{stamp}")
        outcome = _register(claim, options)
        if outcome.error is not None:
            logger.warning(
                "stripe webhook endpoint of %s not registered: %s",
                provider.code,
                outcome.error.message,
            )
            continue
        with db.transaction() as session:
            row = session.scalar(
                select(PaymentProvider)
                .where(PaymentProvider.id == provider.id, PaymentProvider.webhook_secret.is_(None))
                .with_for_update()
            )
            if row is None:
                continue  # given by hand, or registered by another worker, meanwhile
            row.webhook_endpoint_id = outcome.value["id"]
            row.webhook_secret = box.encrypt(outcome.value["secret"])
            row.updated_at = now
        registered.append(provider.code)
