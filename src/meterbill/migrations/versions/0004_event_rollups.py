"""event rollups

Hourly totals kept at ingestion. 0003 and 0004 ship together in the first release,
so there are no earlier events to backfill; a later migration that adds a rolled-up
quantity must backfill it from the events table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 00:37:02.383713
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterbill.core.columns

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "event_rollups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("external_subscription_id", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("hour", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("property", sa.String(), nullable=False),
        sa.Column("events_count", sa.BigInteger(), nullable=False),
        sa.Column(
            "total", meterbill.core.columns.ExactDecimal(precision=38, scale=15), nullable=False
        ),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "organization_id",
            "external_subscription_id",
            "code",
            "hour",
            "property",
            name="ux_event_rollups_key",
        ),
    )


def downgrade() -> None:

    op.drop_table("event_rollups")
