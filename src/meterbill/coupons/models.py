"""Coupons, the plans or metrics they are limited to, and coupons applied to customers."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import ExactDecimal, UTCDateTime
from meterbill.core.db import Base, live_index


class Coupon(Base):
    __tablename__ = "coupons"
    __table_args__ = (live_index("ux_coupons_org_code_live", "organization_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String, nullable=False)
    code: Mapped[str] = mapped_column(String, nullable=False)
    description: Mapped[str | None] = mapped_column(String)
    coupon_type: Mapped[str] = mapped_column(String, nullable=False)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_currency: Mapped[str | None] = mapped_column(String(3))
    percentage_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    frequency: Mapped[str] = mapped_column(String, nullable=False)
    frequency_duration: Mapped[int | None] = mapped_column(Integer)
    expiration: Mapped[str] = mapped_column(String, nullable=False)
    expiration_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reusable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    limited_plans: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    limited_billable_metrics: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String, nullable=False, default="active")
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CouponTarget(Base):
    """One plan or one billable metric a limited coupon applies to."""

    __tablename__ = "coupon_targets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coupons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    plan_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id"))
    billable_metric_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("billable_metrics.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppliedCoupon(Base):
    __tablename__ = "applied_coupons"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coupons.id"), nullable=False, index=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String, nullable=False, default="active")
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_currency: Mapped[str | None] = mapped_column(String(3))
    percentage_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    frequency: Mapped[str] = mapped_column(String, nullable=False)
    frequency_duration: Mapped[int | None] = mapped_column(Integer)
    frequency_duration_remaining: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
