"""catalog

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:21:00.730796
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterbill.core.columns

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "add_ons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("invoice_display_name", sa.String(), nullable=True),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("add_ons", schema=None) as batch_op:
        batch_op.create_index(
            "ux_add_ons_org_code_live",
            ["organization_id", "code"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "billable_metrics",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("aggregation_type", sa.String(), nullable=False),
        sa.Column("field_name", sa.String(), nullable=True),
        sa.Column("weighted_interval", sa.String(), nullable=True),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("rounding_function", sa.String(), nullable=True),
        sa.Column("rounding_precision", sa.Integer(), nullable=True),
        sa.Column("expression", sa.String(), nullable=True),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("billable_metrics", schema=None) as batch_op:
        batch_op.create_index(
            "ux_billable_metrics_org_code_live",
            ["organization_id", "code"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "coupons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("coupon_type", sa.String(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("amount_currency", sa.String(length=3), nullable=True),
        sa.Column(
            "percentage_rate",
            meterbill.core.columns.ExactDecimal(precision=38, scale=15),
            nullable=True,
        ),
        sa.Column("frequency", sa.String(), nullable=False),
        sa.Column("frequency_duration", sa.Integer(), nullable=True),
        sa.Column("expiration", sa.String(), nullable=False),
        sa.Column(
            "expiration_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("reusable", sa.Boolean(), nullable=False),
        sa.Column("limited_plans", sa.Boolean(), nullable=False),
        sa.Column("limited_billable_metrics", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column(
            "terminated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.create_index(
            "ux_coupons_org_code_live",
            ["organization_id", "code"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("invoice_display_name", sa.String(), nullable=True),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("interval", sa.String(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_currency", sa.String(length=3), nullable=False),
        sa.Column(
            "trial_period",
            meterbill.core.columns.ExactDecimal(precision=38, scale=15),
            nullable=True,
        ),
        sa.Column("pay_in_advance", sa.Boolean(), nullable=False),
        sa.Column("bill_charges_monthly", sa.Boolean(), nullable=True),
        sa.Column("bill_fixed_charges_monthly", sa.Boolean(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("pending_deletion", sa.Boolean(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["plans.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plans_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(
            "ux_plans_org_code_live",
            ["organization_id", "code"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL AND parent_id IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL AND parent_id IS NULL"),
        )

    op.create_table(
        "add_on_taxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("add_on_id", sa.Uuid(), nullable=False),
        sa.Column("tax_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["add_on_id"], ["add_ons.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tax_id"], ["taxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("add_on_id", "tax_id"),
    )
    with op.batch_alter_table("add_on_taxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_add_on_taxes_tax_id"), ["tax_id"], unique=False)

    op.create_table(
        "applied_coupons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("amount_currency", sa.String(length=3), nullable=True),
        sa.Column(
            "percentage_rate",
            meterbill.core.columns.ExactDecimal(precision=38, scale=15),
            nullable=True,
        ),
        sa.Column("frequency", sa.String(), nullable=False),
        sa.Column("frequency_duration", sa.Integer(), nullable=True),
        sa.Column("frequency_duration_remaining", sa.Integer(), nullable=True),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "terminated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["coupons.id"],
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("applied_coupons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_applied_coupons_coupon_id"), ["coupon_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_applied_coupons_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "billable_metric_filters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("billable_metric_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["billable_metric_id"], ["billable_metrics.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("billable_metric_filters", schema=None) as batch_op:
        batch_op.create_index(
            "ux_billable_metric_filters_key_live",
            ["billable_metric_id", "key"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "charges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("billable_metric_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("invoice_display_name", sa.String(), nullable=True),
        sa.Column("charge_model", sa.String(), nullable=False),
        sa.Column("pay_in_advance", sa.Boolean(), nullable=False),
        sa.Column("invoiceable", sa.Boolean(), nullable=False),
        sa.Column("prorated", sa.Boolean(), nullable=False),
        sa.Column("regroup_paid_fees", sa.String(), nullable=True),
        sa.Column("min_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("accepts_target_wallet", sa.Boolean(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["billable_metric_id"],
            ["billable_metrics.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["charges.id"],
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charges_billable_metric_id"), ["billable_metric_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_charges_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            "ux_charges_plan_code_live",
            ["plan_id", "code"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "coupon_targets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("billable_metric_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["billable_metric_id"],
            ["billable_metrics.id"],
        ),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("coupon_targets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_coupon_targets_coupon_id"), ["coupon_id"], unique=False
        )

    op.create_table(
        "minimum_commitments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("invoice_display_name", sa.String(), nullable=True),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id"),
    )
    op.create_table(
        "plan_taxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("tax_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tax_id"], ["taxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "tax_id"),
    )
    with op.batch_alter_table("plan_taxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_taxes_tax_id"), ["tax_id"], unique=False)

    op.create_table(
        "charge_filters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("charge_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_display_name", sa.String(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["charge_id"], ["charges.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("charge_filters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_charge_filters_charge_id"), ["charge_id"], unique=False
        )

    op.create_table(
        "charge_taxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("charge_id", sa.Uuid(), nullable=False),
        sa.Column("tax_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["charge_id"], ["charges.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tax_id"], ["taxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("charge_id", "tax_id"),
    )
    with op.batch_alter_table("charge_taxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_taxes_tax_id"), ["tax_id"], unique=False)

    op.create_table(
        "commitment_taxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("commitment_id", sa.Uuid(), nullable=False),
        sa.Column("tax_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", meterbill.core.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["commitment_id"], ["minimum_commitments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tax_id"], ["taxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("commitment_id", "tax_id"),
    )
    with op.batch_alter_table("commitment_taxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commitment_taxes_tax_id"), ["tax_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("commitment_taxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_taxes_tax_id"))

    op.drop_table("commitment_taxes")
    with op.batch_alter_table("charge_taxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_taxes_tax_id"))

    op.drop_table("charge_taxes")
    with op.batch_alter_table("charge_filters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_filters_charge_id"))

    op.drop_table("charge_filters")
    with op.batch_alter_table("plan_taxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_taxes_tax_id"))

    op.drop_table("plan_taxes")
    op.drop_table("minimum_commitments")
    with op.batch_alter_table("coupon_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coupon_targets_coupon_id"))

    op.drop_table("coupon_targets")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_charges_plan_code_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_charges_plan_id"))
        batch_op.drop_index(batch_op.f("ix_charges_billable_metric_id"))

    op.drop_table("charges")
    with op.batch_alter_table("billable_metric_filters", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_billable_metric_filters_key_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.drop_table("billable_metric_filters")
    with op.batch_alter_table("applied_coupons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applied_coupons_customer_id"))
        batch_op.drop_index(batch_op.f("ix_applied_coupons_coupon_id"))

    op.drop_table("applied_coupons")
    with op.batch_alter_table("add_on_taxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_add_on_taxes_tax_id"))

    op.drop_table("add_on_taxes")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_plans_org_code_live",
            sqlite_where=sa.text("deleted_at IS NULL AND parent_id IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL AND parent_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_plans_parent_id"))

    op.drop_table("plans")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_coupons_org_code_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.drop_table("coupons")
    with op.batch_alter_table("billable_metrics", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_billable_metrics_org_code_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.drop_table("billable_metrics")
    with op.batch_alter_table("add_ons", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_add_ons_org_code_live",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.drop_table("add_ons")
