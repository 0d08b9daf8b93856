"""Plans, their charges and charge filters, minimum commitments, and their taxes."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterbill.core.columns import ExactDecimal, UTCDateTime
from meterbill.core.db import Base, live_index


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        # Codes identify parent plans only: a subscription's overridden copy of a
        # plan (parent_id set) keeps its parent's code.
        live_index(
            "ux_plans_org_code_live",
            "organization_id",
            "code",
            where="deleted_at IS NULL AND parent_id IS NULL",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id"), index=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String)
    code: Mapped[str] = mapped_column(String, nullable=False)
    description: Mapped[str | None] = mapped_column(String)
    interval: Mapped[str] = mapped_column(String, nullable=False)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    trial_period: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    pay_in_advance: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    bill_charges_monthly: Mapped[bool | None] = mapped_column(Boolean)
    bill_fixed_charges_monthly: Mapped[bool | None] = mapped_column(Boolean)
    plan_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON)
    pending_deletion: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    charges: Mapped[list[Charge]] = relationship(
        primaryjoin="and_(Plan.id == Charge.plan_id, Charge.deleted_at.is_(None))",
        order_by="Charge.position",
        viewonly=True,
    )


class Charge(Base):
    __tablename__ = "charges"
    __table_args__ = (live_index("ux_charges_plan_code_live", "plan_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, index=True
    )
    billable_metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billable_metrics.id"), nullable=False, index=True
    )
    # The charge of the parent plan that an overridden plan's charge copies.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("charges.id"))
    code: Mapped[str] = mapped_column(String, nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String)
    charge_model: Mapped[str] = mapped_column(String, nullable=False)
    pay_in_advance: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    invoiceable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    prorated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    regroup_paid_fees: Mapped[str | None] = mapped_column(String)
    min_amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    accepts_target_wallet: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    filters: Mapped[list[ChargeFilter]] = relationship(
        primaryjoin="and_(Charge.id == ChargeFilter.charge_id, ChargeFilter.deleted_at.is_(None))",
        order_by="ChargeFilter.position",
        viewonly=True,
    )


class ChargeFilter(Base):
    __tablename__ = "charge_filters"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    charge_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("charges.id", ondelete="CASCADE"), nullable=False, index=True
    )
    invoice_display_name: Mapped[str | None] = mapped_column(String)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # {metric filter key: [allowed values]}; "__ALL_FILTER_VALUES__" means any value.
    values: Mapped[dict[str, list[str]]] = mapped_column(JSON, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MinimumCommitment(Base):
    __tablename__ = "minimum_commitments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class PlanTax(Base):
    __tablename__ = "plan_taxes"
    __table_args__ = (UniqueConstraint("plan_id", "tax_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plans.id", ondelete="CASCADE"), nullable=False
    )
    tax_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("taxes.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ChargeTax(Base):
    __tablename__ = "charge_taxes"
    __table_args__ = (UniqueConstraint("charge_id", "tax_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    charge_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("charges.id", ondelete="CASCADE"), nullable=False
    )
    tax_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("taxes.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CommitmentTax(Base):
    __tablename__ = "commitment_taxes"
    __table_args__ = (UniqueConstraint("commitment_id", "tax_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    commitment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("minimum_commitments.id", ondelete="CASCADE"), nullable=False
    )
    tax_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("taxes.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
