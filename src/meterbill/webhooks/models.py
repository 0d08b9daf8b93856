"""Webhook endpoints, the outbox of deliveries, and each organization's signing keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base

STATUSES = ("pending", "retrying", "succeeded", "failed")


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        UniqueConstraint("organization_id", "webhook_url", name="ux_webhook_endpoints_url"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    webhook_url: Mapped[str] = mapped_column(String, nullable=False)
    signature_algo: Mapped[str] = mapped_column(String, nullable=False, default="jwt")
    name: Mapped[str | None] = mapped_column(String)
    # None: every type; a list (possibly empty): only those types.
    event_types: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


DUE_PREDICATE = "status IN ('pending', 'retrying')"
UNRENDERED_PREDICATE = "payload IS NULL"


class Webhook(Base):
    """One delivery of one webhook to one endpoint; its id is the X-Lago-Unique-Key."""

    __tablename__ = "webhooks"
    __table_args__ = (
        # The delivery loop's scan: what is due, oldest first.
        Index("ix_webhooks_due", "status", "next_attempt_at"),
        Index("ix_webhooks_org_created", "organization_id", "created_at"),
        # A claim's read: each endpoint's oldest due rows, whatever the backlog.
        Index(
            "ix_webhooks_unrendered",
            "object_id",
            postgresql_where=text(UNRENDERED_PREDICATE),
            sqlite_where=text(UNRENDERED_PREDICATE),
        ),
        Index(
            "ix_webhooks_endpoint_due",
            "webhook_endpoint_id",
            "ordinal",
            postgresql_where=text(DUE_PREDICATE),
            sqlite_where=text(DUE_PREDICATE),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    # Deleting an endpoint deletes its deliveries (Lago: dependent: :delete_all).
    webhook_endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False, index=True
    )
    webhook_type: Mapped[str] = mapped_column(String, nullable=False)
    object_type: Mapped[str] = mapped_column(String, nullable=False)
    object_id: Mapped[str | None] = mapped_column(String, index=True)
    # The envelope as sent. Empty for a webhook of a bulk change (a billing run), whose
    # object is rendered after its transaction, before anything else may change it
    # (outbox.materialize).
    # SQL NULL, not JSON null, for a payload still to render (the partial index's).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    status: Mapped[str] = mapped_column(String, nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Set by a manual retry: one attempt more than made so far. Otherwise the
    # configured budget applies.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    # When the row may next be claimed: due now, after a back-off, or after the lease of
    # a worker that claimed it (a worker that died mid-send leaves it to be sent again).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    http_status: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The order in which the changes were written, finer than created_at (the `now` of
    # a transaction, shared by all its changes): see outbox.next_ordinal.
    ordinal: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class WebhookKeys(Base):
    """The organization's RSA key pair (JWT signatures) and HMAC key; made on first use."""

    __tablename__ = "webhook_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    private_key_pem: Mapped[str] = mapped_column(Text, nullable=False)
    public_key_pem: Mapped[str] = mapped_column(Text, nullable=False)
    hmac_key: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
