"""Add-ons: priced items for one-off invoices."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base, live_index


class AddOn(Base):
    __tablename__ = "add_ons"
    __table_args__ = (live_index("ux_add_ons_org_code_live", "organization_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String, nullable=False)
    invoice_display_name: Mapped[str | None] = mapped_column(String)
    code: Mapped[str] = mapped_column(String, nullable=False)
    description: Mapped[str | None] = mapped_column(String)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AddOnTax(Base):
    __tablename__ = "add_on_taxes"
    __table_args__ = (UniqueConstraint("add_on_id", "tax_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    add_on_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("add_ons.id", ondelete="CASCADE"), nullable=False
    )
    tax_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("taxes.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
