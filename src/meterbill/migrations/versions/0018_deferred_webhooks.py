"""webhooks rendered after their transaction: a payload may be empty until then

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 17:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UNRENDERED = "payload IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=True)
    op.create_index(
        "ix_webhooks_unrendered",
        "webhooks",
        ["object_id"],
        postgresql_where=sa.text(UNRENDERED),
        sqlite_where=sa.text(UNRENDERED),
    )


def downgrade() -> None:
    op.drop_index("ix_webhooks_unrendered", table_name="webhooks")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=False)
