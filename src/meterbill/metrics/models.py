"""Billable metrics and the dimensions (filters) charges may price separately."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base, live_index


class BillableMetric(Base):
    __tablename__ = "billable_metrics"
    __table_args__ = (live_index("ux_billable_metrics_org_code_live", "organization_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String, nullable=False)
    code: Mapped[str] = mapped_column(String, nullable=False)
    description: Mapped[str | None] = mapped_column(String)
    aggregation_type: Mapped[str] = mapped_column(String, nullable=False)
    field_name: Mapped[str | None] = mapped_column(String)
    weighted_interval: Mapped[str | None] = mapped_column(String)
    recurring: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    rounding_function: Mapped[str | None] = mapped_column(String)
    rounding_precision: Mapped[int | None] = mapped_column(Integer)
    expression: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    filters: Mapped[list[BillableMetricFilter]] = relationship(
        primaryjoin="and_(BillableMetric.id == BillableMetricFilter.billable_metric_id, "
        "BillableMetricFilter.deleted_at.is_(None))",
        order_by="BillableMetricFilter.key",
        viewonly=True,
    )


class BillableMetricFilter(Base):
    __tablename__ = "billable_metric_filters"
    __table_args__ = (
        live_index("ux_billable_metric_filters_key_live", "billable_metric_id", "key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    billable_metric_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billable_metrics.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(String, nullable=False)
    values: Mapped[list[Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
