"""Subscription requests and Lago's subscription object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meterbill.core.errors import ValidationFailed
from meterbill.core.times import iso_seconds
from meterbill.core.validation import MISSING, Reader
from meterbill.plans.schemas import PlanInput, parse_plan
from meterbill.subscriptions.models import Subscription

BILLING_TIMES = ("calendar", "anniversary")
TERMINATION_CREDIT_NOTES = ("credit", "refund", "offset", "skip")
TERMINATION_INVOICES = ("generate", "skip")
STATUSES = ("pending", "active", "terminated", "canceled")


@dataclass
class SubscriptionInput:
    external_customer_id: str | None = None
    plan_code: str | None = None
    external_id: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    plan_overrides: PlanInput | None = None


def parse_subscription(data: dict[str, Any], *, creating: bool) -> SubscriptionInput:
    reader = Reader(data)
    customer = reader.string("external_customer_id", required=creating)
    plan_code = reader.string("plan_code", required=creating)
    external_id = reader.string("external_id", required=creating)
    columns = {
        "name": reader.string("name"),
        "billing_time": reader.choice("billing_time", BILLING_TIMES),
        "subscription_at": reader.instant("subscription_at"),
        "ending_at": reader.instant("ending_at"),
        "on_termination_credit_note": reader.choice(
            "on_termination_credit_note", TERMINATION_CREDIT_NOTES
        ),
        "on_termination_invoice": reader.choice("on_termination_invoice", TERMINATION_INVOICES),
    }
    overrides = reader.obj("plan_overrides")
    plan_overrides = None
    if isinstance(overrides, dict):
        try:
            plan_overrides = parse_plan(overrides, creating=False)
        except ValidationFailed as exc:
            reader.errors.update(exc.details)
    for key in ("billing_time", "subscription_at", "on_termination_invoice"):
        if reader.has(key) and data[key] is None:
            reader.add(key, "value_is_invalid" if key != "subscription_at" else "invalid_date")
    reader.raise_if_any()
    return SubscriptionInput(
        external_customer_id=customer if isinstance(customer, str) else None,
        plan_code=plan_code if isinstance(plan_code, str) else None,
        external_id=external_id if isinstance(external_id, str) else None,
        columns={key: value for key, value in columns.items() if value is not MISSING},
        plan_overrides=plan_overrides,
    )


@dataclass(frozen=True)
class SubscriptionView:
    """What the subscription object shows beyond its own row."""

    external_customer_id: str
    plan: Any
    previous_plan_code: str | None
    next_plan_code: str | None
    downgrade_plan_date: str | None
    current_period: tuple[datetime, datetime] | None
    billing_entity_code: str


def subscription_object(subscription: Subscription, view: SubscriptionView) -> dict[str, Any]:
    period = view.current_period
    return {
        "lago_id": str(subscription.id),
        "external_id": subscription.external_id,
        "lago_customer_id": str(subscription.customer_id),
        "external_customer_id": view.external_customer_id,
        "billing_entity_code": view.billing_entity_code,
        "name": subscription.name,
        "plan_code": view.plan.code,
        "plan_amount_cents": view.plan.amount_cents,
        "plan_amount_currency": view.plan.amount_currency,
        "status": subscription.status,
        "billing_time": subscription.billing_time,
        "subscription_at": iso_seconds(subscription.subscription_at),
        "started_at": iso_seconds(subscription.started_at),
        "trial_ended_at": iso_seconds(subscription.trial_ended_at),
        "ending_at": iso_seconds(subscription.ending_at),
        "terminated_at": iso_seconds(subscription.terminated_at),
        "canceled_at": iso_seconds(subscription.canceled_at),
        "created_at": iso_seconds(subscription.created_at),
        "previous_plan_code": view.previous_plan_code,
        "next_plan_code": view.next_plan_code,
        "downgrade_plan_date": view.downgrade_plan_date,
        "current_billing_period_started_at": iso_seconds(period[0]) if period else None,
        "current_billing_period_ending_at": iso_seconds(period[1]) if period else None,
        "on_termination_credit_note": subscription.on_termination_credit_note,
        "on_termination_invoice": subscription.on_termination_invoice,
        "progressive_billing_disabled": False,
        "consolidate_invoice": True,
        "purchase_order_number": None,
        "cancellation_reason": None,
        "activated_at": iso_seconds(subscription.started_at),
        "activation_rules": [],
        "applied_invoice_custom_sections": [],
        "payment_method": None,
    }
