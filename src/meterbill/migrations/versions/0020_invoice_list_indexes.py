"""the Invoices list's indexes: newest first with what its search reads, its counts by
status and filters, one customer's invoices newest first

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

INDEXES = {
    # A page of 20 read in order, stopping after 20; the search (number, customer)
    # and the status test read from the index alone.
    "ix_invoices_org_listing": [
        "organization_id", "created_at", "id", "status", "customer_id", "number",
    ],
    # The page's total_count: ranges per visible status, every filter in the index.
    "ix_invoices_org_filters": [
        "organization_id", "status", "payment_status", "payment_overdue", "currency",
        "invoice_type", "issuing_date", "total_amount_cents",
    ],
    # One customer's invoices (the customer filter, the customer's Invoices tab).
    "ix_invoices_customer_listing": [
        "customer_id", "created_at", "id", "organization_id", "status",
    ],
}  # fmt: skip


# PostgreSQL: the searches' "contains" (an invoice's number, a customer's names, external
# id and e-mail) through trigrams, instead of a test of every row. pg_trgm ships with
# PostgreSQL and is a trusted extension: the database's owner may create it.
TRIGRAMS = {
    "ix_invoices_number_trgm": ("invoices", "number"),
    "ix_customers_search_trgm": ("customers", "search_text"),
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "invoices", columns, unique=False)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # The extension lives in one schema of the database (the first that created it):
        # its operator class is named with that schema, whatever this one's search_path.
        schema = bind.execute(
            sa.text(
                "SELECT n.nspname FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            )
        ).scalar_one()
        opclass = f"{bind.dialect.identifier_preparer.quote_schema(schema)}.gin_trgm_ops"
        for name, (table, column) in TRIGRAMS.items():
            op.create_index(
                name, table, [column], unique=False,
                postgresql_using="gin", postgresql_ops={column: opclass},
            )  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, _column) in TRIGRAMS.items():
            op.drop_index(name, table_name=table)
    for name in INDEXES:
        op.drop_index(name, table_name="invoices")
