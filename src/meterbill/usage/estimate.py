"""POST /events/estimate_fees: the pay-in-advance fees an event would create, unsaved."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill import pricing
from meterbill.core.db import Database
from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.money import decimal_string, round_half_up
from meterbill.core.rehearsal import rehearse
from meterbill.core.times import iso_seconds
from meterbill.core.validation import Reader
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.event_store import store_for
from meterbill.events.models import Event
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events
from meterbill.invoices.in_advance import event_increment
from meterbill.metrics.models import BillableMetric
from meterbill.organizations.service import get_organization
from meterbill.plans.models import Charge, Plan
from meterbill.subscriptions.models import Subscription
from meterbill.usage.service import PERCENT, group_keys_of, tax_rates
from meterbill.usage.sql import NUMBER_PATTERN

NUMERIC_AGGREGATIONS = ("sum_agg", "max_agg", "latest_agg", "weighted_sum_agg")


@dataclass(frozen=True)
class EstimateInput:
    code: str
    external_subscription_id: str
    properties: dict[str, Any]
    precise_total_amount_cents: Decimal | None = None


def parse_estimate(data: dict[str, Any]) -> EstimateInput:
    """The event of an estimate request: code, subscription, properties (and the amount
    a dynamic charge reads)."""
    reader = Reader(data)
    code = reader.string("code", required=True)
    subscription = reader.string("external_subscription_id", required=True)
    properties = data.get("properties") or {}
    if not isinstance(properties, dict):
        reader.add("properties", "value_is_invalid")
    amount = reader.decimal("precise_total_amount_cents")
    reader.raise_if_any()
    assert isinstance(code, str) and isinstance(subscription, str)
    return EstimateInput(
        code=code,
        external_subscription_id=subscription,
        properties=properties,
        precise_total_amount_cents=amount if isinstance(amount, Decimal) else None,
    )


def _check_units(metric: BillableMetric, properties: dict[str, Any]) -> None:
    if metric.aggregation_type in ("count_agg", "unique_count_agg"):
        return
    raw = properties.get(metric.field_name or "")
    if raw is None or not re.match(NUMBER_PATTERN, str(raw)):
        raise ValidationFailed.single("properties", "value_is_not_valid_number")


def estimate_fees(
    db: Database, organization_id: uuid.UUID, data: EstimateInput, now: datetime
) -> list[dict[str, Any]]:
    """The fees the event would get, priced by the code that prices stored events.

    A rehearsal (rolled back): the event counts as if sent now (the event store's
    `rehearsed_event`, kept by no store), each pay-in-advance charge of its metric
    prices it against the period's usage before it (a unique value already counted adds
    nothing, a prorated charge counts the days left), and nothing stays.
    """
    return rehearse(db, lambda rehearsal: _estimate(rehearsal.session, organization_id, data, now))


def _estimate(
    session: Session, organization_id: uuid.UUID, data: EstimateInput, now: datetime
) -> list[dict[str, Any]]:
    subscription = session.scalar(
        select(Subscription).where(
            Subscription.organization_id == organization_id,
            Subscription.external_id == data.external_subscription_id,
            Subscription.status == "active",
        )
    )
    if subscription is None:
        raise NotFound("subscription")
    metric = session.scalar(
        select(BillableMetric).where(
            BillableMetric.organization_id == organization_id,
            BillableMetric.code == data.code,
            BillableMetric.deleted_at.is_(None),
        )
    )
    if metric is None:
        raise NotFound("billable_metric")
    plan = session.get(Plan, subscription.plan_id)
    customer = session.get(Customer, subscription.customer_id)
    assert plan is not None and customer is not None
    charges = [
        charge
        for charge in plan.charges
        if charge.billable_metric_id == metric.id and charge.pay_in_advance
    ]
    if not charges:
        raise ValidationFailed.single("code", "does_not_match_an_instant_charge")
    _check_units(metric, data.properties)
    timezone = applicable_timezone(customer, get_organization(session, organization_id))
    event = _rehearsed_event(session, organization_id, subscription, data, now)
    rates = tax_rates(session, customer, plan, charges)
    fees = []
    for charge in charges:
        period, bucket = event_increment(
            session, event, subscription, plan, charge, metric, timezone
        )
        filter_id = bucket.filter_id if bucket else None
        charge_filter = next((f for f in charge.filters if str(f.id) == filter_id), None)
        group_keys = list(bucket.keys) if bucket else group_keys_of(charge)
        group = bucket.group if bucket else tuple(
            str(data.properties[key]) if key in data.properties else None for key in group_keys
        )  # fmt: skip
        amount = bucket.amount.amount if bucket and bucket.amount else Decimal(0)
        units = bucket.units if bucket else Decimal(0)
        rate = rates.get(charge.id, Decimal(0))
        fees.append(
            _fee_object(
                subscription,
                customer,
                plan,
                charge,
                metric,
                charge_filter,
                group_keys,
                group,
                units,
                amount,
                rate,
                period,
            )
        )
    return fees


def _rehearsed_event(
    session: Session,
    organization_id: uuid.UUID,
    subscription: Subscription,
    data: EstimateInput,
    now: datetime,
) -> Event:
    """The event as if sent now, under a transaction id no client sends: the session's
    event store counts it in this session's aggregations only, and never keeps it."""
    event = EventInput(
        transaction_id=f"meterbill-estimate-{uuid.uuid4()}",
        external_subscription_id=subscription.external_id,
        code=data.code,
        timestamp=now,
        properties=data.properties,
        precise_total_amount_cents=data.precise_total_amount_cents,
    )
    return store_for(session).rehearsed_event(session, organization_id, event, now)


def sql_rehearsed_event(
    session: Session, organization_id: uuid.UUID, event: EventInput, now: datetime
) -> Event:
    """Stored in the rehearsal's transaction (rolled back with it) and read back."""
    insert_events(session, organization_id, [event], now)
    stored = session.scalar(
        select(Event).where(
            Event.organization_id == organization_id,
            Event.external_subscription_id == event.external_subscription_id,
            Event.transaction_id == event.transaction_id,
        )
    )
    assert stored is not None
    return stored


def _fee_object(
    subscription: Subscription, customer: Customer, plan: Plan, charge: Charge,
    metric: BillableMetric, charge_filter: Any, group_keys: list[str],
    group: tuple[str | None, ...], units: Decimal, amount: Decimal, tax_rate: Decimal,
    period: Any,
) -> dict[str, Any]:  # fmt: skip
    currency = plan.amount_currency
    amount_cents = pricing.ChargeAmount(amount, amount).cents(currency)
    precise_cents = pricing.ChargeAmount(amount, amount).precise_cents(currency)
    taxes_precise = Decimal(amount_cents) * tax_rate / PERCENT
    taxes_cents = int(round_half_up(taxes_precise))
    return {
        "lago_id": None,
        "lago_charge_id": str(charge.id),
        "lago_charge_filter_id": str(charge_filter.id) if charge_filter else None,
        "lago_invoice_id": None,
        "lago_true_up_fee_id": None,
        "lago_true_up_parent_fee_id": None,
        "lago_subscription_id": str(subscription.id),
        "external_subscription_id": subscription.external_id,
        "lago_customer_id": str(customer.id),
        "external_customer_id": customer.external_id,
        "item": {
            "type": "charge",
            "code": metric.code,
            "name": metric.name,
            "description": metric.description,
            "invoice_display_name": charge.invoice_display_name or metric.name,
            "filters": charge_filter.values if charge_filter else None,
            "filter_invoice_display_name": (
                charge_filter.invoice_display_name if charge_filter else None
            ),
            "lago_item_id": str(metric.id),
            "item_type": "BillableMetric",
            "grouped_by": dict(zip(group_keys, group, strict=True)),
        },
        "pay_in_advance": True,
        "invoiceable": charge.invoiceable,
        "amount_cents": amount_cents,
        "amount_currency": currency,
        "precise_amount": decimal_string(amount),
        "precise_total_amount": decimal_string(amount + taxes_precise / 100),
        "taxes_amount_cents": taxes_cents,
        "taxes_precise_amount": decimal_string(taxes_precise / 100),
        "taxes_rate": float(tax_rate),
        "total_aggregated_units": decimal_string(units),
        "total_amount_cents": amount_cents + taxes_cents,
        "total_amount_currency": currency,
        "units": decimal_string(units),
        "description": None,
        "precise_unit_amount": decimal_string(amount / units if units else Decimal(0)),
        "precise_coupons_amount_cents": "0.0",
        "sub_total_excluding_taxes_amount_cents": amount_cents,
        "sub_total_excluding_taxes_precise_amount_cents": decimal_string(precise_cents),
        "events_count": 1,
        "payment_status": "pending",
        "created_at": None,
        "succeeded_at": None,
        "failed_at": None,
        "refunded_at": None,
        "amount_details": {},
        "self_billed": False,
        "pricing_unit_details": None,
        "presentation_breakdowns": [],
        "from_date": iso_seconds(period.start),
        "to_date": iso_seconds(period.end),
        "applied_taxes": [],
    }
