"""Usage events: append-only, idempotent per (organization, subscription, transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import ExactDecimal, UTCDateTime
from meterbill.core.db import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY.
EventKey = BigInteger().with_variant(Integer, "sqlite")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint(
            "organization_id",
            "external_subscription_id",
            "transaction_id",
            name="ux_events_idempotency",
        ),
        # Aggregation scans one subscription's events of one code over a time range.
        Index(
            "ix_events_aggregation",
            "organization_id",
            "external_subscription_id",
            "code",
            "timestamp",
        ),
        # The hourly events.errors report reads one organization's events received in
        # an hour; ingestion appends at the index's right edge.
        Index("ix_events_org_created_at", "organization_id", "created_at"),
        # The events page: a subscription's latest received events (events.listing).
        Index(
            "ix_events_subscription_received",
            "organization_id",
            "external_subscription_id",
            "created_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(EventKey, primary_key=True, autoincrement=True)
    lago_id: Mapped[uuid.UUID] = mapped_column(nullable=False, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    transaction_id: Mapped[str] = mapped_column(String, nullable=False)
    external_subscription_id: Mapped[str] = mapped_column(String, nullable=False)
    code: Mapped[str] = mapped_column(String, nullable=False)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # JSONB on PostgreSQL: aggregation reads one property of every event in a period,
    # and binary JSON makes that read cheap.
    properties: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=False
    )
    precise_total_amount_cents: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class EventRollup(Base):
    """Hourly totals of a subscription's events per code, kept up to date at ingestion.

    One row per (hour, property): `property` "" counts every event, any other holds
    the sum of that property's numeric values. Written in the same transaction as
    the events, so it is never stale; usage reads whole hours from here and only the
    ragged edges of a period from the events themselves. A property row whose total
    this column cannot hold has events_count -1 (rollups.UNREADABLE): usage scans
    the events of a range that meets it.
    """

    __tablename__ = "event_rollups"
    __table_args__ = (
        UniqueConstraint(
            "organization_id",
            "external_subscription_id",
            "code",
            "hour",
            "property",
            name="ux_event_rollups_key",
        ),
    )

    id: Mapped[int] = mapped_column(EventKey, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    external_subscription_id: Mapped[str] = mapped_column(String, nullable=False)
    code: Mapped[str] = mapped_column(String, nullable=False)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    property: Mapped[str] = mapped_column(String, nullable=False)
    events_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)


class EventValidationRun(Base):
    """An hour of an organization's events checked for the events.errors report: the row
    is written in the transaction that sends it, so each hour is reported once however
    many clock processes tick."""

    __tablename__ = "event_validation_runs"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


# The ClickHouse store's last event id, on SQLite only (event_store/clickhouse/ids.py);
# on PostgreSQL the sequence clickhouse_event_ids hands them out. One row.
clickhouse_event_ids = Table(
    "clickhouse_event_ids",
    Base.metadata,
    Column("last", BigInteger, nullable=False),
    info={"dialect": "sqlite"},
)
