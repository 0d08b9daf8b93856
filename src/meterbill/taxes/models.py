"""Taxes and their attachment to customers."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import ExactDecimal, UTCDateTime
from meterbill.core.db import Base, live_index


class Tax(Base):
    __tablename__ = "taxes"
    __table_args__ = (live_index("ux_taxes_org_code_live", "organization_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String, nullable=False)
    name: Mapped[str] = mapped_column(String, nullable=False)
    rate: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    description: Mapped[str | None] = mapped_column(String)
    applied_to_organization: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerTax(Base):
    __tablename__ = "customer_taxes"
    __table_args__ = (UniqueConstraint("customer_id", "tax_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )
    tax_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("taxes.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AppliedTaxColumns:
    """A tax as it was applied to a document: name, code and rate copied, so later edits
    of the tax do not rewrite issued invoices or credit notes."""

    tax_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("taxes.id"), nullable=False)
    tax_name: Mapped[str] = mapped_column(String, nullable=False)
    tax_code: Mapped[str] = mapped_column(String, nullable=False)
    tax_rate: Mapped[Decimal] = mapped_column(ExactDecimal, nullable=False)
    tax_description: Mapped[str | None] = mapped_column(String)
    amount_cents: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
