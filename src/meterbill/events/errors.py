"""event.error webhooks for events that will never be billed: an unknown metric code,
an unknown subscription, or a value a numeric metric cannot add up.

Checked as the events are stored, in their transaction; only for organizations with an
endpoint subscribed to event.error, so ingestion without one pays a single cached read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.events.schemas import EventInput, event_object
from meterbill.metrics.models import BillableMetric
from meterbill.subscriptions.models import Subscription
from meterbill.webhooks.outbox import enqueue, subscribed

NUMERIC = ("sum_agg", "max_agg", "weighted_sum_agg", "latest_agg")


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            return Decimal(value.strip()).is_finite()
        except InvalidOperation:
            return False
    return False


def _error(
    event: EventInput,
    metrics: dict[str, tuple[str, str | None]],
    subscriptions: set[str],
) -> dict[str, list[str]] | None:
    metric = metrics.get(event.code)
    if metric is None:
        return {"code": ["billable_metric_not_found"]}
    if event.external_subscription_id not in subscriptions:
        return {"external_subscription_id": ["subscription_not_found"]}
    aggregation, field_name = metric
    if aggregation in NUMERIC and field_name:
        value = (event.properties or {}).get(field_name)
        if value is not None and not _numeric(value):
            return {field_name: ["value_is_not_a_number"]}
    return None


def report_unbillable(
    session: Session,
    organization_id: uuid.UUID,
    stored: Sequence[tuple[str, EventInput, Any]],
) -> None:
    """Enqueue event.error for each of these stored events (lago_id, event, created_at)
    that no charge will ever bill."""
    if not stored or not subscribed(session, organization_id, "event.error"):
        return
    codes = {event.code for _id, event, _at in stored}
    metrics = {
        row.code: (row.aggregation_type, row.field_name)
        for row in session.execute(
            select(
                BillableMetric.code, BillableMetric.aggregation_type, BillableMetric.field_name
            ).where(
                BillableMetric.organization_id == organization_id,
                BillableMetric.code.in_(codes),
                BillableMetric.deleted_at.is_(None),
            )
        )
    }
    external_ids = {event.external_subscription_id for _id, event, _at in stored}
    subscriptions = set(
        session.scalars(
            select(Subscription.external_id).where(
                Subscription.organization_id == organization_id,
                Subscription.external_id.in_(external_ids),
                Subscription.status.in_(("active", "pending")),
            )
        )
    )
    for lago_id, event, created_at in stored:
        error = _error(event, metrics, subscriptions)
        if error is None:
            continue
        body = {
            "status": 422,
            "error": "Unprocessable entity",
            "message": orjson.dumps(error).decode(),
            "event": event_object(lago_id, event, created_at),
        }
        enqueue(session, organization_id, "event.error", "event_error", body, created_at)
