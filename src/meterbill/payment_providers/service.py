"""Connecting an organization's Stripe account, and finding the connection a customer's
payments go through."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound
from meterbill.core.records import flush_unique
from meterbill.customers.models import Customer
from meterbill.payment_providers.models import PaymentProvider
from meterbill.payment_providers.schemas import ConnectionInput
from meterbill.payment_providers.secrets import SecretBox


def _set_secrets(provider: PaymentProvider, fields: dict[str, object], box: SecretBox) -> None:
    secret_key = fields.get("secret_key")
    if isinstance(secret_key, str):
        provider.secret_key = box.encrypt(secret_key)
        provider.secret_key_last4 = secret_key[-4:]
    if "webhook_secret" in fields:
        secret = fields["webhook_secret"]
        provider.webhook_secret = box.encrypt(secret) if isinstance(secret, str) else None
        if secret is None:
            # Registered again at Stripe by the clock, with a new signing secret.
            provider.webhook_endpoint_id = None


def connect(
    session: Session,
    organization_id: uuid.UUID,
    data: ConnectionInput,
    box: SecretBox,
    now: datetime,
) -> PaymentProvider:
    fields = data.fields
    provider = PaymentProvider(
        id=uuid.uuid4(),
        organization_id=organization_id,
        provider_type=fields["provider_type"],
        code=fields["code"],
        name=fields["name"],
        success_redirect_url=fields.get("success_redirect_url"),
        created_at=now,
        updated_at=now,
    )
    _set_secrets(provider, fields, box)
    session.add(provider)
    flush_unique(session, "code")
    return provider


def update_connection(
    session: Session,
    organization_id: uuid.UUID,
    code: str,
    data: ConnectionInput,
    box: SecretBox,
    now: datetime,
) -> PaymentProvider:
    provider = find_connection(session, organization_id, code)
    fields = data.fields
    if "name" in fields and fields["name"] is not None:
        provider.name = fields["name"]
    if "success_redirect_url" in fields:
        provider.success_redirect_url = fields["success_redirect_url"]
    _set_secrets(provider, fields, box)
    provider.updated_at = now
    session.flush()
    return provider


def delete_connection(
    session: Session, organization_id: uuid.UUID, code: str, now: datetime
) -> PaymentProvider:
    """The connection goes; what was collected through it stays. Customers naming it
    are no longer collected until they name another."""
    provider = find_connection(session, organization_id, code)
    provider.deleted_at = now
    provider.updated_at = now
    session.flush()
    return provider


def _live(organization_id: uuid.UUID) -> Select[tuple[PaymentProvider]]:
    return (
        select(PaymentProvider)
        .where(
            PaymentProvider.organization_id == organization_id,
            PaymentProvider.deleted_at.is_(None),
        )
        .order_by(PaymentProvider.created_at, PaymentProvider.id)
    )


def list_connections(session: Session, organization_id: uuid.UUID) -> list[PaymentProvider]:
    return list(session.scalars(_live(organization_id)))


def find_connection(session: Session, organization_id: uuid.UUID, code: str) -> PaymentProvider:
    provider = session.scalar(_live(organization_id).where(PaymentProvider.code == code))
    if provider is None:
        raise NotFound("payment_provider")
    return provider


def connection_for(
    session: Session, organization_id: uuid.UUID, provider_type: str, code: str | None
) -> PaymentProvider | None:
    """The connection named by `code`, else the organization's first of this type
    (Lago's PaymentProviderFinder)."""
    query = _live(organization_id).where(PaymentProvider.provider_type == provider_type)
    if code:  # an empty code names none, as `connected` reads it
        query = query.where(PaymentProvider.code == code)
    return session.scalars(query.limit(1)).first()


def customer_connection(session: Session, customer: Customer) -> PaymentProvider | None:
    if customer.payment_provider != "stripe":
        return None
    return connection_for(
        session, customer.organization_id, "stripe", customer.payment_provider_code
    )


def connected(provider_type: str = "stripe") -> ColumnElement[bool]:
    """SQL: the customer (the `customers` row of the query) has a connection to charge
    through, as `customer_connection` finds it. The clock's claims filter on it, so that
    customers of organizations without one never fill their batches."""
    return exists(
        select(PaymentProvider.id).where(
            PaymentProvider.organization_id == Customer.organization_id,
            PaymentProvider.provider_type == provider_type,
            PaymentProvider.deleted_at.is_(None),
            or_(
                Customer.payment_provider_code.is_(None),
                Customer.payment_provider_code == "",
                PaymentProvider.code == Customer.payment_provider_code,
            ),
        )
    )
