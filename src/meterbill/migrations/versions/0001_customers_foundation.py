"""organizations, api keys, taxes, customers

Revision ID: 0001
Revises:
Create Date: 2026-11-23 23:12:45.906064
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterbill.core.columns

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "organizations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("billing_entity_code", sa.String(), nullable=False),
        sa.Column("document_number_prefix", sa.String(), nullable=False),
        sa.Column("document_numbering", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("default_currency", sa.String(length=3), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("legal_name", sa.String(), nullable=True),
        sa.Column("legal_number", sa.String(), nullable=True),
        sa.Column("tax_identification_number", sa.String(), nullable=True),
        sa.Column("address_line1", sa.String(), nullable=True),
        sa.Column("address_line2", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("zipcode", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("net_payment_term", sa.Integer(), nullable=False),
        sa.Column("invoice_grace_period", sa.Integer(), nullable=False),
        sa.Column("document_locale", sa.String(), nullable=False),
        sa.Column("invoice_footer", sa.String(), nullable=True),
        sa.Column("finalize_zero_amount_invoice", sa.Boolean(), nullable=False),
        sa.Column("email_settings", sa.JSON(), nullable=False),
        sa.Column("webhook_url", sa.String(), nullable=True),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "customers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("sequential_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("account_type", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("firstname", sa.String(), nullable=True),
        sa.Column("lastname", sa.String(), nullable=True),
        sa.Column("customer_type", sa.String(), nullable=True),
        sa.Column("legal_name", sa.String(), nullable=True),
        sa.Column("legal_number", sa.String(), nullable=True),
        sa.Column("tax_identification_number", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("logo_url", sa.String(), nullable=True),
        sa.Column("external_salesforce_id", sa.String(), nullable=True),
        sa.Column("address_line1", sa.String(), nullable=True),
        sa.Column("address_line2", sa.String(), nullable=True),
        sa.Column("city", sa.String(), nullable=True),
        sa.Column("zipcode", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("shipping_address_line1", sa.String(), nullable=True),
        sa.Column("shipping_address_line2", sa.String(), nullable=True),
        sa.Column("shipping_city", sa.String(), nullable=True),
        sa.Column("shipping_zipcode", sa.String(), nullable=True),
        sa.Column("shipping_state", sa.String(), nullable=True),
        sa.Column("shipping_country", sa.String(length=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("timezone", sa.String(), nullable=True),
        sa.Column("net_payment_term", sa.Integer(), nullable=True),
        sa.Column("finalize_zero_amount_invoice", sa.String(), nullable=False),
        sa.Column("skip_invoice_custom_sections", sa.Boolean(), nullable=False),
        sa.Column("invoice_grace_period", sa.Integer(), nullable=True),
        sa.Column("document_locale", sa.String(), nullable=True),
        sa.Column("payment_provider", sa.String(), nullable=True),
        sa.Column("payment_provider_code", sa.String(), nullable=True),
        sa.Column("provider_customer_id", sa.String(), nullable=True),
        sa.Column("sync_with_provider", sa.Boolean(), nullable=True),
        sa.Column("provider_payment_methods", sa.JSON(), nullable=True),
        sa.Column("subscription_invoice_issuing_date_anchor", sa.String(), nullable=True),
        sa.Column("subscription_invoice_issuing_date_adjustment", sa.String(), nullable=True),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "sequential_id"),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customers_org_created", ["organization_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ux_customers_org_external_id_live",
            ["organization_id", "external_id"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "taxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column(
            "rate", meterbill.core.columns.ExactDecimal(precision=38, scale=15), nullable=False
        ),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("applied_to_organization", sa.Boolean(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("taxes", schema=None) as batch_op:
        batch_op.create_index(
            "ux_taxes_org_code_live",
            ["organization_id", "code"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "customer_metadata",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("display_in_invoice", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "key"),
    )
    op.create_table(
        "customer_taxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("tax_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tax_id"], ["taxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "tax_id"),
    )
    with op.batch_alter_table("customer_taxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_taxes_tax_id"), ["tax_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("customer_taxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_taxes_tax_id"))

    op.drop_table("customer_taxes")
    op.drop_table("customer_metadata")
    with op.batch_alter_table("taxes", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_taxes_org_code_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.drop_table("taxes")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_customers_org_external_id_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index("ix_customers_org_created")

    op.drop_table("customers")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_organization_id"))

    op.drop_table("api_keys")
    op.drop_table("organizations")
