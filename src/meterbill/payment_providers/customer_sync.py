"""Creating customers at Stripe (sync_with_provider), from the clock.

A customer to create is one collected through Stripe, asked to be synced, with no
provider_customer_id: the clock finds it by that alone, so a creation the API answered
never waits on Stripe, and one Stripe refused is tried again once the customer changes.
Its state, and its last failure, are kept beside it (provider_customers).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from meterbill.core.db import Transactions
from meterbill.core.rehearsal import for_update
from meterbill.customers.models import Customer
from meterbill.invoices.scope import Scope, within
from meterbill.payment_providers.calls import answers
from meterbill.payment_providers.models import PaymentProvider, ProviderCustomer
from meterbill.payment_providers.options import ProviderOptions, backoff
from meterbill.payment_providers.outcomes import Outcome, failed, provider_fields, report_error
from meterbill.payment_providers.service import connected, customer_connection
from meterbill.payment_providers.stripe_api import Clients
from meterbill.webhooks.outbox import emit

BATCH = 50


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    customer_id: uuid.UUID
    external_id: str
    provider: PaymentProvider
    params: dict[str, Any]
    idempotency_key: str


def _name(customer: Customer) -> str | None:
    parts = (customer.firstname, customer.lastname)
    return customer.name or " ".join(part for part in parts if part) or None


def customer_params(customer: Customer) -> dict[str, Any]:
    """Lago's Stripe customer payload: the first of the customer's emails, its address."""
    params: dict[str, Any] = {
        "metadata": {"lago_customer_id": str(customer.id), "customer_id": customer.external_id},
    }
    name = _name(customer)
    if name:
        params["name"] = name
    if customer.email:
        params["email"] = customer.email.split(",")[0].strip()
    if customer.phone:
        params["phone"] = customer.phone
    address = {
        "line1": customer.address_line1,
        "line2": customer.address_line2,
        "city": customer.city,
        "postal_code": customer.zipcode,
        "state": customer.state,
        "country": customer.country,
    }
    if any(address.values()):
        params["address"] = {key: value for key, value in address.items() if value}
    return params


def provider_state(
    session: Session, customer: Customer, now: datetime, sync_status: str = "pending"
) -> ProviderCustomer:
    """The customer's state at its provider, made (with `sync_status`) if it has none."""
    state = session.get(ProviderCustomer, customer.id)
    if state is None:
        state = ProviderCustomer(
            customer_id=customer.id,
            organization_id=customer.organization_id,
            sync_status=sync_status,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        session.add(state)
    return state


def _claim(
    session: Session, now: datetime, options: ProviderOptions, scope: Scope | None
) -> list[_Claim]:
    query = (
        select(Customer)
        .outerjoin(ProviderCustomer, ProviderCustomer.customer_id == Customer.id)
        .where(
            within(scope, Customer.id),
            Customer.payment_provider == "stripe",
            Customer.provider_customer_id.is_(None),
            Customer.sync_with_provider.is_(True),
            Customer.deleted_at.is_(None),
            connected(),
            or_(
                ProviderCustomer.customer_id.is_(None),
                and_(
                    ProviderCustomer.sync_status == "pending",
                    ProviderCustomer.next_attempt_at <= now,
                ),
                # Refused: tried again once the customer was changed.
                and_(
                    ProviderCustomer.sync_status == "failed",
                    ProviderCustomer.updated_at < Customer.updated_at,
                ),
            ),
        )
        .order_by(Customer.created_at, Customer.id)
        .limit(BATCH)
    )
    claims = []
    for customer in session.scalars(for_update(session, query, skip_locked=True, of=Customer)):
        provider = customer_connection(session, customer)
        if provider is None:
            continue
        state = provider_state(session, customer, now)
        state.sync_status = "pending"
        state.attempts += 1
        # Leased: another worker tries it again only if this one never answers.
        state.next_attempt_at = now + options.lease
        state.updated_at = now
        session.expunge(provider)
        stamp = int(customer.updated_at.timestamp() * 1_000_000)
        claims.append(
            _Claim(
                customer.id,
                customer.external_id,
                provider,
                customer_params(customer),
                # The same customer as it stood: a retried call is the same creation.
                f"meterbill-customer-{customer.id}-{stamp}",
            )
        )
    session.flush()
    return claims


def _create(claim: _Claim, clients: Clients) -> Outcome:
    try:
        created = clients.of(claim.provider).v1.customers.create(
            params=claim.params,  # type: ignore[arg-type]
            options={"idempotency_key": claim.idempotency_key},
        )
    except Exception as error:
        return failed(error)
    return Outcome(value=created.id)


def _record(session: Session, claim: _Claim, outcome: Outcome, now: datetime) -> str:
    customer = session.scalar(
        select(Customer).where(Customer.id == claim.customer_id).with_for_update()
    )
    assert customer is not None
    state = provider_state(session, customer, now)
    state.updated_at = now
    if outcome.error is None:
        customer.provider_customer_id = outcome.value
        state.sync_status = "synced"
        state.error_code = state.error_message = None
        state.next_attempt_at = None
        session.flush()
        emit(session, "customer.payment_provider_created", customer, now)
        return "created"
    state.error_code, state.error_message = outcome.error.code, outcome.error.message
    if outcome.transient:
        state.sync_status = "pending"
        state.next_attempt_at = now + backoff(state.attempts)
        return "deferred"
    state.sync_status = "failed"
    state.next_attempt_at = None
    session.flush()
    report_error(
        session,
        customer.organization_id,
        "customer.payment_provider_error",
        "payment_provider_customer_error",
        provider_fields(customer, claim.provider, outcome.error),
        now,
    )
    return "failed"


def sync_customers(
    db: Transactions,
    now: datetime,
    options: ProviderOptions,
    report: SyncReport,
    scope: Scope | None = None,
) -> None:
    if not options.box().ready:
        return
    with db.transaction() as session:
        claims = _claim(session, now, options, scope)
    clients = Clients(options)
    # Outside any transaction, several at once.
    call = partial(_create, clients=clients)
    for claim, outcome in answers(claims, call, options.concurrency):
        with db.transaction() as session:
            result = _record(session, claim, outcome, now)
        getattr(report, result).append(claim.external_id)
