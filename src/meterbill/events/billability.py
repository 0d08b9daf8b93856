"""Whether stored events are billed and, when not, why: the question the events page
answers for each row.

An event is billed when a billable metric has its code, a subscription with its
external id was running at its timestamp (started, and not yet terminated) and has a
charge for that metric, and the value the metric aggregates reads as the charge reads
it. Worked out for a page of events at once: one query for the metrics of the page's
codes, one for the subscriptions of its external ids (with their customers) and one
for the charges of those subscriptions' plans, whatever the page's size.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.customers.models import Customer
from meterbill.event_store import store_for
from meterbill.events.errors import NUMERIC
from meterbill.events.models import Event
from meterbill.metrics.models import BillableMetric
from meterbill.plans.models import Charge
from meterbill.subscriptions.models import Subscription

# Why an event is not billed, most fundamental first (an event gets the first that holds).
UNKNOWN_METRIC = "unknown_metric"
UNKNOWN_SUBSCRIPTION = "unknown_subscription"
NO_CHARGE = "no_charge"
INVALID_VALUE = "invalid_value"
REASONS = (UNKNOWN_METRIC, UNKNOWN_SUBSCRIPTION, NO_CHARGE, INVALID_VALUE)
# Statuses of subscriptions whose events are billed (a terminated one up to its end).
RUNNING = ("active", "terminated")


@dataclass(frozen=True)
class Billability:
    """`reason` is None for a billed event; `detail` says it in words either way."""

    reason: str | None
    detail: str
    # The customer of the subscription the event belongs to, when there is one.
    external_customer_id: str | None = None

    @property
    def billed(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class _Metric:
    id: uuid.UUID
    aggregation_type: str
    field_name: str | None
    expression: str | None


@dataclass(frozen=True)
class _Run:
    started_at: datetime | None
    terminated_at: datetime | None
    status: str
    plan_id: uuid.UUID
    external_customer_id: str

    def covers(self, moment: datetime) -> bool:
        if self.status not in RUNNING or self.started_at is None or moment < self.started_at:
            return False
        return self.terminated_at is None or moment <= self.terminated_at


def billability(
    session: Session, organization_id: uuid.UUID, events: Sequence[Event]
) -> dict[int, Billability]:
    """Each event's billability, by event id (three queries for the whole list)."""
    if not events:
        return {}
    number = store_for(session).property_reader(session)
    metrics = _metrics(session, organization_id, {event.code for event in events})
    runs = _runs(session, organization_id, {event.external_subscription_id for event in events})
    charged = _charged(session, {run.plan_id for items in runs.values() for run in items})
    return {event.id: _judge(number, event, metrics, runs, charged) for event in events}


def _metrics(session: Session, organization_id: uuid.UUID, codes: set[str]) -> dict[str, _Metric]:
    rows = session.execute(
        select(
            BillableMetric.code,
            BillableMetric.id,
            BillableMetric.aggregation_type,
            BillableMetric.field_name,
            BillableMetric.expression,
        ).where(
            BillableMetric.organization_id == organization_id,
            BillableMetric.code.in_(codes),
            BillableMetric.deleted_at.is_(None),
        )
    )
    return {
        row.code: _Metric(row.id, row.aggregation_type, row.field_name, row.expression)
        for row in rows
    }


def _runs(
    session: Session, organization_id: uuid.UUID, external_ids: set[str]
) -> dict[str, list[_Run]]:
    """Every subscription that ever had one of these external ids (an upgrade keeps the
    external id and starts a new subscription), with its customer's external id."""
    rows = session.execute(
        select(
            Subscription.external_id,
            Subscription.started_at,
            Subscription.terminated_at,
            Subscription.status,
            Subscription.plan_id,
            Customer.external_id.label("customer"),
        )
        .join(Customer, Customer.id == Subscription.customer_id)
        .where(
            Subscription.organization_id == organization_id,
            Subscription.external_id.in_(external_ids),
        )
        .order_by(Subscription.started_at.desc(), Subscription.created_at.desc())
    )
    runs: dict[str, list[_Run]] = defaultdict(list)
    for row in rows:
        runs[row.external_id].append(
            _Run(row.started_at, row.terminated_at, row.status, row.plan_id, row.customer)
        )
    return runs


def _charged(session: Session, plan_ids: set[uuid.UUID]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    if not plan_ids:
        return set()
    rows = session.execute(
        select(Charge.plan_id, Charge.billable_metric_id).where(
            Charge.plan_id.in_(plan_ids), Charge.deleted_at.is_(None)
        )
    )
    return {(row.plan_id, row.billable_metric_id) for row in rows}


def _judge(
    number: Callable[[Any], Decimal | None],
    event: Event,
    metrics: dict[str, _Metric],
    runs: dict[str, list[_Run]],
    charged: set[tuple[uuid.UUID, uuid.UUID]],
) -> Billability:
    known = runs.get(event.external_subscription_id, [])
    customer = known[0].external_customer_id if known else None
    metric = metrics.get(event.code)
    if metric is None:
        return Billability(
            UNKNOWN_METRIC, f"No billable metric has the code “{event.code}”.", customer
        )
    run = next((item for item in known if item.covers(event.timestamp)), None)
    if run is None:
        detail = (
            f"No subscription has the external ID “{event.external_subscription_id}”."
            if not known
            else f"Subscription “{event.external_subscription_id}” was not active at the "
            "event's timestamp."
        )
        return Billability(UNKNOWN_SUBSCRIPTION, detail, customer)
    customer = run.external_customer_id
    if (run.plan_id, metric.id) not in charged:
        return Billability(
            NO_CHARGE, f"The subscription's plan has no charge for “{event.code}”.", customer
        )
    problem = _value_problem(number, metric, event.properties or {})
    if problem is not None:
        return Billability(INVALID_VALUE, problem, customer)
    return Billability(None, "Billed by the subscription's charge.", customer)


def _value_problem(
    number: Callable[[Any], Decimal | None], metric: _Metric, properties: dict[str, Any]
) -> str | None:
    """What is wrong with the value the metric aggregates, read as the store's usage
    reads it."""
    if metric.aggregation_type == "count_agg" or not metric.field_name or metric.expression:
        return None  # counted whatever it holds (an expression computes its value)
    field = metric.field_name
    if field not in properties or properties[field] is None:
        return f"The property “{field}” is missing."
    value = properties[field]
    if metric.aggregation_type in NUMERIC and number(value) is None:
        return f"The property “{field}” is not a number."
    return None
