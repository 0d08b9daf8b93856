"""wallet transactions name the credit note that refunded them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 07:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wallet_transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_note_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            "fk_wallet_transactions_credit_note_id_credit_notes",
            "credit_notes",
            ["credit_note_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("wallet_transactions", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_wallet_transactions_credit_note_id_credit_notes", type_="foreignkey"
        )
        batch_op.drop_column("credit_note_id")
