"""payment providers: Stripe connections, provider customers, provider payments, refunds

Revision ID: 0023_stripe
Revises: 0022
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from meterbill.core.columns import UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

LIVE = "deleted_at IS NULL"


def _times() -> list[sa.Column]:
    return [
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "payment_providers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("provider_type", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("secret_key", sa.String(), nullable=False),
        sa.Column("secret_key_last4", sa.String(), nullable=False),
        sa.Column("webhook_secret", sa.String(), nullable=True),
        sa.Column("webhook_endpoint_id", sa.String(), nullable=True),
        sa.Column("success_redirect_url", sa.String(), nullable=True),
        *_times(),
        sa.Column("deleted_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_payment_providers_organization_id", "payment_providers", ["organization_id"]
    )
    op.create_index(
        "ux_payment_providers_org_code_live",
        "payment_providers",
        ["organization_id", "code"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )
    op.create_table(
        "provider_customers",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("sync_status", sa.String(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("payment_method_id", sa.String(), nullable=True),
        *_times(),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "provider_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("payment_provider_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("event_type", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["payment_provider_id"], ["payment_providers.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payment_provider_id", "event_id", name="ux_provider_events_event"),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_provider_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("provider_customer_id", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("error_code", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("error_message", sa.String(), nullable=True))
        batch_op.create_foreign_key(
            "fk_payments_payment_provider", "payment_providers", ["payment_provider_id"], ["id"]
        )
        batch_op.create_index("ux_payments_idempotency_key", ["idempotency_key"], unique=True)
        batch_op.create_index("ix_payments_provider_payment", ["provider_payment_id"])
        batch_op.create_index(
            "ix_payments_provider_due", ["payment_type", "status", "next_attempt_at"]
        )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("credit_note_id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("payment_provider_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("provider_refund_id", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        *_times(),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["credit_note_id"], ["credit_notes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["payment_provider_id"], ["payment_providers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credit_note_id", name="ux_refunds_credit_note"),
    )
    op.create_index("ix_refunds_provider_refund", "refunds", ["provider_refund_id"])
    op.create_index("ix_refunds_due", "refunds", ["status", "next_attempt_at"])
    # The clock looks for customers to create at Stripe on every tick.
    op.create_index(
        "ix_customers_provider_sync",
        "customers",
        ["payment_provider", "provider_customer_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_customers_provider_sync", table_name="customers")
    op.drop_index("ix_refunds_due", table_name="refunds")
    op.drop_index("ix_refunds_provider_refund", table_name="refunds")
    op.drop_table("refunds")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_provider_due")
        batch_op.drop_index("ix_payments_provider_payment")
        batch_op.drop_index("ux_payments_idempotency_key")
        batch_op.drop_constraint("fk_payments_payment_provider", type_="foreignkey")
        for column in (
            "error_message", "error_code", "next_attempt_at", "attempts",
            "idempotency_key", "provider_customer_id", "payment_provider_id",
        ):  # fmt: skip
            batch_op.drop_column(column)
    op.drop_table("provider_events")
    op.drop_table("provider_customers")
    op.drop_index("ux_payment_providers_org_code_live", table_name="payment_providers")
    op.drop_index("ix_payment_providers_organization_id", table_name="payment_providers")
    op.drop_table("payment_providers")
