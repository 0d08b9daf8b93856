"""subscriptions events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 23:38:19.294603
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import meterbill.core.columns

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("lago_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.String(), nullable=False),
        sa.Column("external_subscription_id", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("timestamp", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "precise_total_amount_cents",
            meterbill.core.columns.ExactDecimal(precision=38, scale=15),
            nullable=True,
        ),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "organization_id",
            "external_subscription_id",
            "transaction_id",
            name="ux_events_idempotency",
        ),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_aggregation",
            ["organization_id", "external_subscription_id", "code", "timestamp"],
            unique=False,
        )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("previous_subscription_id", sa.Uuid(), nullable=True),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("billing_time", sa.String(), nullable=False),
        sa.Column(
            "subscription_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("started_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ending_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "terminated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("canceled_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "trial_ended_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("on_termination_credit_note", sa.String(), nullable=True),
        sa.Column("on_termination_invoice", sa.String(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
        ),
        sa.ForeignKeyConstraint(
            ["previous_subscription_id"],
            ["subscriptions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriptions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_subscriptions_org_external_id", ["organization_id", "external_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subscriptions_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            "ux_subscriptions_org_external_id_active",
            ["organization_id", "external_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_subscriptions_org_external_id_active",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_subscriptions_plan_id"))
        batch_op.drop_index("ix_subscriptions_org_external_id")
        batch_op.drop_index(batch_op.f("ix_subscriptions_customer_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_aggregation")

    op.drop_table("events")
