"""Wallets of prepaid credits, the metrics they are limited to, their recurring top-up
rules and the transactions that move their balance (billing.md §9)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import ExactDecimal, UTCDateTime
from meterbill.core.db import Base

ACTIVE = text("status = 'active'")


class Wallet(Base):
    __tablename__ = "wallets"
    __table_args__ = (
        # A code names one active wallet of the customer; terminated ones free it.
        Index(
            "ux_wallets_customer_code_active",
            "customer_id",
            "code",
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        ),
        Index("ix_wallets_org_customer", "organization_id", "customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), nullable=False)
    status: Mapped[str] = mapped_column(String, nullable=False, default="active")
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    name: Mapped[str | None] = mapped_column(String)
    code: Mapped[str] = mapped_column(String, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=50)
    rate_amount: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    # Settled money in minor units; credits are derived through rate_amount.
    balance_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    consumed_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    invoice_requires_successful_payment: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False
    )
    paid_top_up_min_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    paid_top_up_max_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    fee_types: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    metadata_items: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, nullable=False, default=dict
    )
    expiration_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_balance_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_consumed_credit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The edge wallet.depleted_ongoing_balance reports: set when a check finds the
    # ongoing balance at or below zero (and the webhook goes out), cleared when a check
    # finds it positive again. Not in the API object (Lago's serializer has no such field).
    depleted_ongoing_balance: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class WalletTarget(Base):
    """One billable metric a limited wallet pays for (applies_to.billable_metric_codes)."""

    __tablename__ = "wallet_targets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    wallet_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("wallets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    billable_metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billable_metrics.id"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RecurringTransactionRule(Base):
    __tablename__ = "recurring_transaction_rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    wallet_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("wallets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String, nullable=False, default="active")
    trigger: Mapped[str] = mapped_column(String, nullable=False)
    interval: Mapped[str | None] = mapped_column(String)
    method: Mapped[str] = mapped_column(String, nullable=False, default="fixed")
    paid_credits: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False, default=Decimal(0))
    granted_credits: Mapped[Decimal] = mapped_column(
        ExactDecimal, nullable=False, default=Decimal(0)
    )
    target_ongoing_balance: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    threshold_credits: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    grants_target_top_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    invoice_requires_successful_payment: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False
    )
    ignore_paid_top_up_limits: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    transaction_metadata: Mapped[list[dict[str, str]]] = mapped_column(
        JSON, nullable=False, default=list
    )
    transaction_name: Mapped[str | None] = mapped_column(String)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expiration_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class WalletTransaction(Base):
    __tablename__ = "wallet_transactions"
    __table_args__ = (
        Index("ix_wallet_transactions_wallet", "wallet_id", "created_at"),
        # An interval rule tops a wallet up once per anniversary, whatever the workers.
        Index("ux_wallet_transactions_run", "rule_id", "run_key", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    wallet_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("wallets.id", ondelete="CASCADE"), nullable=False
    )
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("invoices.id"), index=True)
    voided_invoice_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("invoices.id"))
    # The credit note that refunded these credits (voided credits of a refunded top-up).
    credit_note_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("credit_notes.id"))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("recurring_transaction_rules.id", ondelete="SET NULL")
    )
    run_key: Mapped[str | None] = mapped_column(String)
    status: Mapped[str] = mapped_column(String, nullable=False)
    source: Mapped[str] = mapped_column(String, nullable=False, default="manual")
    transaction_status: Mapped[str] = mapped_column(String, nullable=False)
    transaction_type: Mapped[str] = mapped_column(String, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credit_amount: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=50)
    name: Mapped[str | None] = mapped_column(String)
    metadata_items: Mapped[list[dict[str, str]]] = mapped_column(
        "metadata", JSON, nullable=False, default=list
    )
    invoice_requires_successful_payment: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False
    )
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
