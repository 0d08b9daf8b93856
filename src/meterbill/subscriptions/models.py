"""Subscriptions: a customer on a plan, with its lifecycle dates."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base, live_index


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        # One active subscription per external id; a pending downgrade shares it.
        live_index(
            "ux_subscriptions_org_external_id_active",
            "organization_id",
            "external_id",
            where="status = 'active'",
        ),
        Index("ix_subscriptions_org_external_id", "organization_id", "external_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id"), nullable=False, index=True
    )
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), nullable=False, index=True)
    previous_subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subscriptions.id")
    )
    external_id: Mapped[str] = mapped_column(String, nullable=False)
    name: Mapped[str | None] = mapped_column(String)
    status: Mapped[str] = mapped_column(String, nullable=False)
    billing_time: Mapped[str] = mapped_column(String, nullable=False, default="calendar")
    subscription_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trial_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_termination_credit_note: Mapped[str | None] = mapped_column(String)
    on_termination_invoice: Mapped[str] = mapped_column(String, nullable=False, default="generate")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The UTC date of the last subscription.termination_alert: the clock ticks every
    # minute, and the alert goes out once a day at most (not shown by the API).
    termination_alert_sent_on: Mapped[date | None] = mapped_column(Date)
