"""Billable metric rules: unique codes, the lock once charged, cascading deletion."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.records import find_live, flush_unique
from meterbill.core.text_search import name_or_code_contains
from meterbill.events.schemas import parse_timestamp
from meterbill.metrics.expression import EventView, ExpressionError, evaluate
from meterbill.metrics.models import BillableMetric, BillableMetricFilter
from meterbill.metrics.schemas import MetricInput, check_metric
from meterbill.plans.models import Charge, ChargeFilter, Plan
from meterbill.subscriptions.models import Subscription

# Once a live charge uses the metric, only these may change (Lago's update rule).
EDITABLE_WHEN_CHARGED = ("name", "description")
# Aggregations that read their field as a number.
NUMERIC_AGGREGATIONS = ("sum_agg", "max_agg", "weighted_sum_agg", "latest_agg")


def find_metric(session: Session, organization_id: uuid.UUID, code: str) -> BillableMetric:
    return find_live(session, BillableMetric, organization_id, "billable_metric", code=code)


def create_metric(
    session: Session, organization_id: uuid.UUID, data: MetricInput, now: datetime
) -> BillableMetric:
    metric = BillableMetric(
        id=uuid.uuid4(),
        organization_id=organization_id,
        created_at=now,
        updated_at=now,
        **{"recurring": False, **data.columns},
    )
    check_metric(metric)
    session.add(metric)
    flush_unique(session, "code")
    _replace_filters(session, metric, data.filters or {}, now)
    return metric


def _is_charged(session: Session, metric: BillableMetric) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Charge)
            .join(Plan, Plan.id == Charge.plan_id)
            .where(
                Charge.billable_metric_id == metric.id,
                Charge.deleted_at.is_(None),
                Plan.deleted_at.is_(None),
            )
        )
    )


def update_metric(
    session: Session, organization_id: uuid.UUID, code: str, data: MetricInput, now: datetime
) -> BillableMetric:
    metric = find_metric(session, organization_id, code)
    charged = _is_charged(session, metric)
    for key, value in data.columns.items():
        if not charged or key in EDITABLE_WHEN_CHARGED:
            setattr(metric, key, value)
    check_metric(metric)
    metric.updated_at = now
    flush_unique(session, "code")
    if data.filters is not None:
        _replace_filters(session, metric, data.filters, now)
    return metric


def _replace_filters(
    session: Session, metric: BillableMetric, wanted: dict[str, list[str]], now: datetime
) -> None:
    existing = {item.key: item for item in metric.filters}
    # What each key loses: its values no longer declared, or all of it (None).
    removed: dict[str, set[str] | None] = {}
    for key, item in existing.items():
        if key not in wanted:
            item.deleted_at = now
            removed[key] = None
        elif item.values != wanted[key]:
            removed[key] = set(item.values) - set(wanted[key])
            item.values = wanted[key]
            item.updated_at = now
    _trim_charge_filters(session, metric, removed, now)
    for key, values in wanted.items():
        if key not in existing:
            session.add(
                BillableMetricFilter(
                    billable_metric_id=metric.id,
                    key=key,
                    values=values,
                    created_at=now,
                    updated_at=now,
                )
            )
    session.flush()
    session.expire(metric, ["filters"])


def _trim_charge_filters(
    session: Session, metric: BillableMetric, removed: dict[str, set[str] | None], now: datetime
) -> None:
    """Charge filters keep only values the metric still declares, as in Lago: a key left
    without values goes, and a filter left without keys is deleted ("any value" stays)."""
    if not any(gone is None or gone for gone in removed.values()):
        return
    charge_filters = session.scalars(
        select(ChargeFilter)
        .join(Charge, Charge.id == ChargeFilter.charge_id)
        .where(
            Charge.billable_metric_id == metric.id,
            Charge.deleted_at.is_(None),
            ChargeFilter.deleted_at.is_(None),
        )
    ).all()
    for charge_filter in charge_filters:
        values = dict(charge_filter.values)
        for key, gone in removed.items():
            if key not in values:
                continue
            kept = [] if gone is None else [value for value in values[key] if value not in gone]
            if kept:
                values[key] = kept
            else:
                del values[key]
        if values == charge_filter.values:
            continue
        if values:
            charge_filter.values = values
        else:
            charge_filter.deleted_at = now
        charge_filter.updated_at = now


def delete_metric(
    session: Session, organization_id: uuid.UUID, code: str, now: datetime
) -> BillableMetric:
    """Soft delete; the charges priced on the metric go with it, as in Lago."""
    metric = find_metric(session, organization_id, code)
    metric.deleted_at = now
    charge_ids = select(Charge.id).where(
        Charge.billable_metric_id == metric.id, Charge.deleted_at.is_(None)
    )
    session.execute(
        update(ChargeFilter)
        .where(ChargeFilter.charge_id.in_(charge_ids), ChargeFilter.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    session.execute(
        update(Charge)
        .where(Charge.billable_metric_id == metric.id, Charge.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    session.execute(
        update(BillableMetricFilter)
        .where(
            BillableMetricFilter.billable_metric_id == metric.id,
            BillableMetricFilter.deleted_at.is_(None),
        )
        .values(deleted_at=now)
    )
    session.flush()
    return metric


def numeric_fields(
    session: Session, organization_id: uuid.UUID, codes: Collection[str]
) -> dict[str, str]:
    """The property each live metric among `codes` reads as a number, by code."""
    rows = session.execute(
        select(BillableMetric.code, BillableMetric.field_name).where(
            BillableMetric.organization_id == organization_id,
            BillableMetric.code.in_(codes),
            BillableMetric.deleted_at.is_(None),
            BillableMetric.aggregation_type.in_(NUMERIC_AGGREGATIONS),
            BillableMetric.field_name.is_not(None),
        )
    ).all()
    return {code: field_name for code, field_name in rows}


def list_metrics(
    session: Session,
    organization_id: uuid.UUID,
    page: PageRequest,
    *,
    search_term: str | None = None,
) -> Page[BillableMetric]:
    """Newest first; `search_term` narrows to metrics whose name or code contains it."""
    query = (
        select(BillableMetric)
        .where(
            BillableMetric.organization_id == organization_id,
            BillableMetric.deleted_at.is_(None),
        )
        .order_by(BillableMetric.created_at.desc(), BillableMetric.id)
    )
    if search_term:
        query = query.where(name_or_code_contains(BillableMetric, search_term))
    return paginate(session, query, page)


def plans_counts(session: Session, metric_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Live plans charging each metric, in one query for a whole page."""
    if not metric_ids:
        return {}
    rows = session.execute(
        select(Charge.billable_metric_id, func.count(func.distinct(Charge.plan_id)))
        .join(Plan, Plan.id == Charge.plan_id)
        .where(
            Charge.billable_metric_id.in_(metric_ids),
            Charge.deleted_at.is_(None),
            Plan.deleted_at.is_(None),
            Plan.parent_id.is_(None),
        )
        .group_by(Charge.billable_metric_id)
    ).all()
    return {metric_id: count for metric_id, count in rows}


def metric_counts(session: Session, metric: BillableMetric) -> dict[str, int]:
    plans = (
        select(Charge.plan_id)
        .distinct()
        .join(Plan, Plan.id == Charge.plan_id)
        .where(
            Charge.billable_metric_id == metric.id,
            Charge.deleted_at.is_(None),
            Plan.deleted_at.is_(None),
            Plan.parent_id.is_(None),
        )
    )
    plan_ids = list(session.scalars(plans))
    active = (
        session.scalar(
            select(func.count())
            .select_from(Subscription)
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(
                Subscription.status == "active",
                (Plan.id.in_(plan_ids)) | (Plan.parent_id.in_(plan_ids)),
            )
        )
        if plan_ids
        else 0
    )
    return {"plans_count": len(plan_ids), "active_subscriptions_count": int(active or 0)}


def evaluate_expression(expression: str, event: dict[str, Any], now: datetime) -> str:
    """Lago's expression tester: the value an expression gives for one event."""
    timestamp = parse_timestamp(event.get("timestamp"), now) or now
    properties = event.get("properties")
    view = EventView(
        code=str(event.get("code") or ""),
        timestamp=Decimal(str(timestamp.timestamp())),
        properties=properties if isinstance(properties, dict) else {},
    )
    try:
        return str(evaluate(expression, view))
    except ExpressionError as exc:
        raise ValidationFailed.single("expression", "invalid_expression") from exc
