"""An organization's connections to payment providers, and what they track outside."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base, live_index


class PaymentProvider(Base):
    """One connected account (Lago's payment_providers): a code per connection, its
    secrets encrypted with the settings' key (payment_providers.secrets)."""

    __tablename__ = "payment_providers"
    __table_args__ = (live_index("ux_payment_providers_org_code_live", "organization_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    provider_type: Mapped[str] = mapped_column(String, nullable=False)
    code: Mapped[str] = mapped_column(String, nullable=False)
    name: Mapped[str] = mapped_column(String, nullable=False)
    # Fernet tokens; never sent back whole (the last four characters are kept apart).
    secret_key: Mapped[str] = mapped_column(String, nullable=False)
    secret_key_last4: Mapped[str] = mapped_column(String, nullable=False)
    webhook_secret: Mapped[str | None] = mapped_column(String)
    # The endpoint meterbill registered at Stripe, when it registered one.
    webhook_endpoint_id: Mapped[str | None] = mapped_column(String)
    success_redirect_url: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProviderCustomer(Base):
    """The customer as the provider knows it: the sync's state (its last failure kept
    here, on the customer, until a later attempt succeeds) and the default payment
    method Stripe's webhooks tell of."""

    __tablename__ = "provider_customers"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    # pending (to create at the provider), synced, failed (waits for the customer to change)
    sync_status: Mapped[str] = mapped_column(String, nullable=False, default="pending")
    error_code: Mapped[str | None] = mapped_column(String)
    error_message: Mapped[str | None] = mapped_column(String)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_method_id: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ProviderEvent(Base):
    """A provider's webhook event, once applied: a replay finds its id here."""

    __tablename__ = "provider_events"
    __table_args__ = (
        UniqueConstraint("payment_provider_id", "event_id", name="ux_provider_events_event"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    payment_provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment_providers.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[str] = mapped_column(String, nullable=False)
    event_type: Mapped[str] = mapped_column(String, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Refund(Base):
    """A credit note's refund through the provider; its status is the credit note's
    refund_status. One per credit note: its id is the refund's idempotency key."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("credit_note_id", name="ux_refunds_credit_note"),
        Index("ix_refunds_provider_refund", "provider_refund_id"),
        Index("ix_refunds_due", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    credit_note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("credit_notes.id", ondelete="CASCADE"), nullable=False
    )
    payment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), nullable=False
    )
    payment_provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("payment_providers.id"), nullable=False
    )
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # queued (not sent yet), pending, succeeded, failed (Stripe's words, queued aside)
    status: Mapped[str] = mapped_column(String, nullable=False)
    provider_refund_id: Mapped[str | None] = mapped_column(String)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
