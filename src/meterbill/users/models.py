"""Dashboard users (people who log in to an organization) and their sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from meterbill.core.columns import UTCDateTime
from meterbill.core.db import Base


class User(Base):
    __tablename__ = "users"
    # One account per e-mail address: the login form names no organization.
    __table_args__ = (UniqueConstraint("email", name="ux_users_email"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Stored lower-cased and trimmed, so that the unique constraint sees one address once.
    email: Mapped[str] = mapped_column(String, nullable=False)
    password_hash: Mapped[str] = mapped_column(String, nullable=False)
    # admin, finance or manager (users.roles holds what each may do).
    role: Mapped[str] = mapped_column(String, nullable=False, default="admin")
    # Wrong passwords in a row; the fifth locks the account until locked_until.
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class UserSession(Base):
    """A logged-in browser. Only a SHA-256 of the cookie's token is kept, so a copy of
    the database cannot be replayed as a cookie; logging out deletes the row."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # The synchronizer token every form and htmx request of this session must carry.
    csrf_token: Mapped[str] = mapped_column(String, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


# An invitation still waiting for its invitee (expired ones are revoked when the address
# is invited again, so the unique index below names at most one per address).
OPEN_INVITATION = text("accepted_at IS NULL AND revoked_at IS NULL")


class Invitation(Base):
    """A link that lets someone join the organization with a role. Only a SHA-256 of the
    link's token is kept (as for sessions); it expires, and it is used once."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index(
            "ux_invitations_open_email",
            "organization_id",
            "email",
            unique=True,
            sqlite_where=OPEN_INVITATION,
            postgresql_where=OPEN_INVITATION,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    email: Mapped[str] = mapped_column(String, nullable=False)
    role: Mapped[str] = mapped_column(String, nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
