"""documents of invoices and credit notes; the organization's logo

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from meterbill.core.columns import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

DUE = "status = 'pending'"


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("owner_type", sa.String(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pdf_key", sa.String(), nullable=True),
        sa.Column("xml_key", sa.String(), nullable=True),
        sa.Column("access_key", sa.String(), nullable=False),
        sa.Column("generated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_type", "owner_id", name="ux_documents_owner"),
    )
    op.create_index(
        "ix_documents_due",
        "documents",
        ["next_attempt_at"],
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        # A data URL (data:image/png;base64,...), as Lago's `logo` input carries it.
        batch_op.add_column(sa.Column("logo", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("logo")
    op.drop_index("ix_documents_due", table_name="documents")
    op.drop_table("documents")
