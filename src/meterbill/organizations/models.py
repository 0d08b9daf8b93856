"""Organizations (tenants) and their API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String, nullable=False)
    # Lago's default billing entity, folded into the organization: its code and the
    # prefix of every document number and customer slug.
    billing_entity_code: Mapped[str] = mapped_column(String, nullable=False)
    document_number_prefix: Mapped[str] = mapped_column(String, nullable=False)
    document_numbering: Mapped[str] = mapped_column(String, nullable=False, default="per_customer")
    timezone: Mapped[str] = mapped_column(String, nullable=False, default="UTC")
    default_currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD")
    email: Mapped[str | None] = mapped_column(String)
    legal_name: Mapped[str | None] = mapped_column(String)
    legal_number: Mapped[str | None] = mapped_column(String)
    tax_identification_number: Mapped[str | None] = mapped_column(String)
    address_line1: Mapped[str | None] = mapped_column(String)
    address_line2: Mapped[str | None] = mapped_column(String)
    city: Mapped[str | None] = mapped_column(String)
    zipcode: Mapped[str | None] = mapped_column(String)
    state: Mapped[str | None] = mapped_column(String)
    country: Mapped[str | None] = mapped_column(String(2))
    net_payment_term: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    invoice_grace_period: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    document_locale: Mapped[str] = mapped_column(String, nullable=False, default="en")
    invoice_footer: Mapped[str | None] = mapped_column(String)
    # The issuer's logo on documents: a data URL (Lago's `logo` input, base64).
    logo: Mapped[str | None] = mapped_column(Text)
    finalize_zero_amount_invoice: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True
    )
    email_settings: Mapped[list[Any]] = mapped_column(JSON, nullable=False, default=list)
    webhook_url: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Only a SHA-256 of the key is kept: keys are long random strings, so a fast
    # hash is enough and lets the lookup use an index.
    key_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str | None] = mapped_column(String)
    # The key's last four characters, to tell keys apart in a list (the key itself is
    # shown once, at creation). None for keys made before it was kept.
    token_hint: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a request last authenticated with it, to the minute (core.auth.KEY_USE_PRECISION):
    # written at most once a minute per key, never on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
