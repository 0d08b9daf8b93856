"""subscription alerts: once-a-day termination alerts, hourly events.errors reports

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterbill.core.columns

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: SQLite adds it in place, PostgreSQL without a rewrite.
    op.add_column("subscriptions", sa.Column("termination_alert_sent_on", sa.Date(), nullable=True))
    op.create_table(
        "event_validation_runs",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("hour", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id", "hour"),
    )
    op.create_index("ix_events_org_created_at", "events", ["organization_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_events_org_created_at", table_name="events")
    op.drop_table("event_validation_runs")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("termination_alert_sent_on")
