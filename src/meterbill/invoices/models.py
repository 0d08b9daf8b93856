"""Invoices, the fees on them, their taxes and coupon credits."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterbill.core.columns import ExactDecimal, UTCDateTime
from meterbill.core.db import Base
from meterbill.taxes.models import AppliedTaxColumns


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_org_created", "organization_id", "created_at"),
        Index("ix_invoices_customer", "customer_id", "status"),
        # The Invoices list (migration 0020): newest first, with what its search reads;
        # its counts by status and filters; one customer's invoices, newest first.
        Index(
            "ix_invoices_org_listing",
            "organization_id",
            "created_at",
            "id",
            "status",
            "customer_id",
            "number",
        ),
        Index(
            "ix_invoices_org_filters",
            "organization_id",
            "status",
            "payment_status",
            "payment_overdue",
            "currency",
            "invoice_type",
            "issuing_date",
            "total_amount_cents",
        ),
        Index(
            "ix_invoices_customer_listing",
            "customer_id",
            "created_at",
            "id",
            "organization_id",
            "status",
        ),
        # PostgreSQL: any part of a number found through its trigrams (pg_trgm).
        Index(
            "ix_invoices_number_trgm",
            "number",
            postgresql_using="gin",
            postgresql_ops={"number": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        # Sequences are unique once given (NULL while a draft: NULLs never collide).
        Index(
            "ux_invoices_customer_sequence",
            "customer_id",
            "sequential_id",
            unique=True,
        ),
        Index(
            "ux_invoices_org_sequence",
            "organization_id",
            "organization_sequential_id",
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), nullable=False)
    # Given at finalization: per customer, and per organization (billing entity).
    sequential_id: Mapped[int | None] = mapped_column(Integer)
    organization_sequential_id: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String, nullable=False)
    invoice_type: Mapped[str] = mapped_column(String, nullable=False)
    status: Mapped[str] = mapped_column(String, nullable=False)
    payment_status: Mapped[str] = mapped_column(String, nullable=False, default="pending")
    payment_overdue: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    payment_dispute_lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    issuing_date: Mapped[date] = mapped_column(Date, nullable=False)
    payment_due_date: Mapped[date] = mapped_column(Date, nullable=False)
    net_payment_term: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The billing day the invoice was generated for (customer's timezone); grace and
    # issuing dates count from it.
    billing_date: Mapped[date] = mapped_column(Date, nullable=False)
    expected_finalization_date: Mapped[date | None] = mapped_column(Date)
    fees_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    coupons_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    progressive_billing_credit_amount_cents: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0
    )
    sub_total_excluding_taxes_amount_cents: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0
    )
    taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    taxes_rate: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False, default=Decimal(0))
    sub_total_including_taxes_amount_cents: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0
    )
    credit_notes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    prepaid_credit_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total_paid_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    version_number: Mapped[int] = mapped_column(Integer, nullable=False, default=4)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    fees: Mapped[list[Fee]] = relationship(order_by="Fee.position", lazy="selectin", viewonly=True)
    billing_periods: Mapped[list[InvoiceSubscription]] = relationship(
        order_by="InvoiceSubscription.position", lazy="selectin", viewonly=True
    )
    applied_taxes: Mapped[list[InvoiceTax]] = relationship(
        order_by="InvoiceTax.tax_code", lazy="selectin", viewonly=True
    )
    credits: Mapped[list[Credit]] = relationship(
        order_by="Credit.position", lazy="selectin", viewonly=True
    )
    metadata_items: Mapped[list[InvoiceMetadata]] = relationship(
        order_by="InvoiceMetadata.created_at", lazy="selectin", viewonly=True
    )
    error_details: Mapped[list[ErrorDetail]] = relationship(
        order_by="ErrorDetail.created_at", lazy="selectin", viewonly=True
    )


class InvoiceSubscription(Base):
    """One subscription billed on an invoice, with the ranges it was billed for.

    The unique key makes a billing run idempotent: a subscription is billed at most
    once per (reason, boundary), whatever the number of ticks or workers.
    """

    __tablename__ = "invoice_subscriptions"
    __table_args__ = (
        UniqueConstraint(
            "subscription_id", "invoicing_reason", "boundary", name="ux_invoice_subscriptions_run"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True
    )
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id"), nullable=False, index=True
    )
    invoicing_reason: Mapped[str] = mapped_column(String, nullable=False)
    # The billing date (or termination instant) this entry bills: the idempotency key.
    boundary: Mapped[str] = mapped_column(String, nullable=False)
    from_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    to_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    charges_from_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    charges_to_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The plan period whose minimum commitment this entry trues up, when one ends here.
    commitment_from_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    commitment_to_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Fee(Base):
    __tablename__ = "fees"
    __table_args__ = (
        Index("ix_fees_org_created", "organization_id", "created_at"),
        Index("ix_fees_subscription", "subscription_id"),
        # A pay-in-advance event is billed once per charge (and filter).
        Index(
            "ux_fees_event_charge",
            "subscription_id",
            "charge_id",
            "event_transaction_id",
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), nullable=False)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("subscriptions.id"))
    charge_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("charges.id"))
    charge_filter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("charge_filters.id"))
    add_on_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("add_ons.id"))
    true_up_parent_fee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("fees.id"))
    fee_type: Mapped[str] = mapped_column(String, nullable=False)
    # What the item block shows, frozen at billing so later catalog edits keep history.
    item_code: Mapped[str] = mapped_column(String, nullable=False)
    item_name: Mapped[str] = mapped_column(String, nullable=False)
    item_id: Mapped[uuid.UUID | None] = mapped_column()
    item_type: Mapped[str] = mapped_column(String, nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String)
    filter_display_name: Mapped[str | None] = mapped_column(String)
    filter_values: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    grouped_by: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    description: Mapped[str | None] = mapped_column(String)
    pay_in_advance: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    invoiceable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    precise_amount_cents: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    unit_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    precise_unit_amount: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    units: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    total_aggregated_units: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    events_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    precise_coupons_amount_cents: Mapped[Decimal] = mapped_column(
        ExactDecimal, nullable=False, default=Decimal(0)
    )
    taxes_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    taxes_precise_amount_cents: Mapped[Decimal] = mapped_column(
        ExactDecimal, nullable=False, default=Decimal(0)
    )
    taxes_rate: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False, default=Decimal(0))
    amount_details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    from_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    to_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Lago's fee.properties: the ranges and the charges' period length in days.
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    event_transaction_id: Mapped[str | None] = mapped_column(String)
    payment_status: Mapped[str] = mapped_column(String, nullable=False, default="pending")
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    applied_taxes: Mapped[list[FeeTax]] = relationship(
        order_by="FeeTax.tax_code", lazy="selectin", viewonly=True
    )


class FeeTax(AppliedTaxColumns, Base):
    """A tax applied to one fee, its name and rate frozen when applied."""

    __tablename__ = "fee_taxes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    fee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("fees.id", ondelete="CASCADE"), nullable=False, index=True
    )
    precise_amount_cents: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)


class InvoiceTax(AppliedTaxColumns, Base):
    __tablename__ = "invoice_taxes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True
    )
    fees_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Credit(Base):
    """A deduction on an invoice: a coupon (before taxes) or a credit note (after them)."""

    __tablename__ = "credits"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True
    )
    applied_coupon_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("applied_coupons.id"), index=True
    )
    # The credit note whose balance paid this part; a voided invoice gives it back.
    credit_note_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credit_notes.id", name="fk_credits_credit_note_id"), index=True
    )
    item_code: Mapped[str] = mapped_column(String, nullable=False)
    item_name: Mapped[str] = mapped_column(String, nullable=False)
    item_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    item_type: Mapped[str] = mapped_column(String, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    before_taxes: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class InvoiceMetadata(Base):
    __tablename__ = "invoice_metadata"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False, index=True
    )
    key: Mapped[str] = mapped_column(String, nullable=False)
    value: Mapped[str] = mapped_column(String, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ErrorDetail(Base):
    """Why an invoice could not be generated (Lago's error_details, owned by the invoice).

    One per (invoice, error code): a later attempt that fails again updates it, one that
    succeeds removes it.
    """

    __tablename__ = "error_details"
    __table_args__ = (UniqueConstraint("invoice_id", "error_code", name="ux_error_details_code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), nullable=False
    )
    error_code: Mapped[str] = mapped_column(String, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
