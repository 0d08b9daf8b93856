"""webhook claim index: each endpoint's oldest due deliveries

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

DUE = "status IN ('pending', 'retrying')"


def upgrade() -> None:
    op.create_index(
        "ix_webhooks_endpoint_due",
        "webhooks",
        ["webhook_endpoint_id", "ordinal"],
        postgresql_where=sa.text(DUE),
        sqlite_where=sa.text(DUE),
    )


def downgrade() -> None:
    op.drop_index("ix_webhooks_endpoint_due", table_name="webhooks")
