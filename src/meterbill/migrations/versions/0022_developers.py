"""developers: API keys' hint and last use; the events page's index

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-05 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from meterbill.core.columns import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_hint", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True))
    # The events page: one subscription's latest received events, newest first
    # (a customer's page merges its subscriptions' heads).
    op.create_index(
        "ix_events_subscription_received",
        "events",
        ["organization_id", "external_subscription_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_events_subscription_received", table_name="events")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("token_hint")
