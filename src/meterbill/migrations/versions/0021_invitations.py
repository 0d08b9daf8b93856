"""invitations: a link lets someone join the organization with a role

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterbill.core.columns

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

OPEN_INVITATION = "accepted_at IS NULL AND revoked_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        "ux_invitations_open_email",
        "invitations",
        ["organization_id", "email"],
        unique=True,
        postgresql_where=sa.text(OPEN_INVITATION),
        sqlite_where=sa.text(OPEN_INVITATION),
    )


def downgrade() -> None:
    op.drop_index("ux_invitations_open_email", table_name="invitations")
    op.drop_table("invitations")
