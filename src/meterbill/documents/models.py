"""The documents of finalized invoices and credit notes: one row each, written in the
transaction that finalizes its owner, and made into files in the background."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base

STATUSES = ("pending", "generated", "failed")
OWNER_TYPES = ("invoice", "credit_note")
DUE_PREDICATE = "status = 'pending'"


class Document(Base):
    """An invoice's or credit note's PDF (and, for e-invoicing issuers, its XML)."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("owner_type", "owner_id", name="ux_documents_owner"),
        # The generator's scan: what is due, whatever the history.
        Index(
            "ix_documents_due",
            "next_attempt_at",
            postgresql_where=text(DUE_PREDICATE),
            sqlite_where=text(DUE_PREDICATE),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    owner_type: Mapped[str] = mapped_column(String, nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    # pending (to be made, or being made under a lease), generated, failed (attempts spent;
    # a download asks for it again).
    status: Mapped[str] = mapped_column(String, nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    # Storage keys of the files, once made.
    pdf_key: Mapped[str | None] = mapped_column(String)
    xml_key: Mapped[str | None] = mapped_column(String)
    # The secret that signs this document's links (documents.links): a link never
    # carries an API key, and one document's link says nothing of another's.
    access_key: Mapped[str] = mapped_column(String, nullable=False)
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
