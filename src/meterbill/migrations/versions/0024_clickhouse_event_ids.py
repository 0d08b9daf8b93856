"""clickhouse event ids: a sequence on PostgreSQL, a one-row counter on SQLite

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # From where the clock-based ids used before stand now: ids keep growing.
    start = time.time_ns() // 1000 * 1024
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE clickhouse_event_ids INCREMENT BY 1024 START WITH {start}")
        return
    table = op.create_table(
        "clickhouse_event_ids", sa.Column("last", sa.BigInteger(), nullable=False)
    )
    op.bulk_insert(table, [{"last": start}])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE clickhouse_event_ids")
    else:
        op.drop_table("clickhouse_event_ids")
