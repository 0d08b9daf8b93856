"""customers.search_text: the searched fields lower-cased in one column

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 07:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# As customers.service.search_text computes it (kept here: a migration must not change
# when the code does).
SEPARATOR = "\x1f"
SEARCHED = ("name", "firstname", "lastname", "legal_name", "external_id", "email")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.String(), nullable=True))
    customers = sa.table(
        "customers",
        sa.column("id", sa.Uuid()),
        sa.column("search_text", sa.String()),
        *(sa.column(field, sa.String()) for field in SEARCHED),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(customers.c.id, *(customers.c[f] for f in SEARCHED)))
    updates = [
        {"key": row[0], "text": SEPARATOR.join(value.lower() for value in row[1:] if value)}
        for row in rows
    ]
    if updates:
        connection.execute(
            customers.update()
            .where(customers.c.id == sa.bindparam("key"))
            .values(search_text=sa.bindparam("text")),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("search_text")
