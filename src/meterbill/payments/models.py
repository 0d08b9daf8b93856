"""Payments: money received for one invoice."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_org_created", "organization_id", "created_at"),
        CheckConstraint("amount_cents > 0", name="ck_payments_amount_positive"),
        # One charge per collection attempt: a retried call reuses the key, so Stripe
        # answers with the PaymentIntent it already made.
        Index("ux_payments_idempotency_key", "idempotency_key", unique=True),
        Index("ix_payments_provider_payment", "provider_payment_id"),
        Index("ix_payments_provider_due", "payment_type", "status", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id"), nullable=False, index=True
    )
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True
    )
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # "manual", or "provider" (collected through a payment_providers connection).
    payment_type: Mapped[str] = mapped_column(String, nullable=False)
    # The provider's own status word, and Lago's normalized one for the invoice.
    status: Mapped[str] = mapped_column(String, nullable=False)
    payable_payment_status: Mapped[str] = mapped_column(String, nullable=False)
    reference: Mapped[str | None] = mapped_column(String(40))
    provider_payment_id: Mapped[str | None] = mapped_column(String)
    # A provider's payment: the connection, the customer at the provider, the key of
    # its charge, and its sending (status "queued" until the provider has answered).
    payment_provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payment_providers.id")
    )
    provider_customer_id: Mapped[str | None] = mapped_column(String)
    idempotency_key: Mapped[str | None] = mapped_column(String)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error_code: Mapped[str | None] = mapped_column(String)
    error_message: Mapped[str | None] = mapped_column(String)
    # When the money was received (Lago stores `paid_at` here); the list is ordered by it.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
