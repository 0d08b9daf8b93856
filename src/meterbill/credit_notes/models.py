"""Credit notes: what an invoice gives back, item by item, and the taxes on it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterbill.core.columns import ExactDecimal, UTCDateTime
from meterbill.core.db import Base
from meterbill.taxes.models import AppliedTaxColumns


class CreditNote(Base):
    __tablename__ = "credit_notes"
    __table_args__ = (
        # The number's sequence is per invoice: two notes racing on one invoice collide here.
        UniqueConstraint("invoice_id", "sequential_id", name="ux_credit_notes_invoice_sequence"),
        Index("ix_credit_notes_org_created", "organization_id", "created_at"),
        Index("ix_credit_notes_customer_credit", "customer_id", "credit_status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), nullable=False)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True
    )
    sequential_id: Mapped[int] = mapped_column(Integer, nullable=False)
    number: Mapped[str] = mapped_column(String, nullable=False)
    issuing_date: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String, nullable=False, default="finalized")
    credit_status: Mapped[str | None] = mapped_column(String)
    refund_status: Mapped[str | None] = mapped_column(String)
    reason: Mapped[str] = mapped_column(String, nullable=False)
    description: Mapped[str | None] = mapped_column(String)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    total_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    precise_total_amount_cents: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    precise_taxes_amount_cents: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    sub_total_excluding_taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    balance_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    credit_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    refund_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    offset_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    coupons_adjustment_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    precise_coupons_adjustment_amount_cents: Mapped[Decimal] = mapped_column(
        ExactDecimal, nullable=False
    )
    taxes_rate: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    metadata_values: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, nullable=False, default=dict
    )
    automatic: Mapped[bool] = mapped_column(nullable=False, default=False)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    items: Mapped[list[CreditNoteItem]] = relationship(
        order_by="CreditNoteItem.position", lazy="selectin", viewonly=True
    )
    applied_taxes: Mapped[list[CreditNoteTax]] = relationship(
        order_by="CreditNoteTax.tax_code", lazy="selectin", viewonly=True
    )


class CreditNoteItem(Base):
    """A part of one fee given back; the precise amount keeps the prorated fraction."""

    __tablename__ = "credit_note_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    credit_note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("credit_notes.id", ondelete="CASCADE"), nullable=False, index=True
    )
    fee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fees.id", ondelete="CASCADE"), nullable=False, index=True
    )
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    precise_amount_cents: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CreditNoteTax(AppliedTaxColumns, Base):
    """One tax rate given back, its name and rate as the invoice applied them."""

    __tablename__ = "credit_note_taxes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    credit_note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("credit_notes.id", ondelete="CASCADE"), nullable=False, index=True
    )
    base_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
