"""Rows a test needs from features it is not about, written straight to the database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from meterbill.core.db import Database
from meterbill.metrics.models import BillableMetric, BillableMetricFilter

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def make_metric(
    database: Database,
    organization_id: uuid.UUID,
    code: str,
    aggregation_type: str = "sum_agg",
    *,
    field_name: str | None = "value",
    recurring: bool = False,
    filters: dict[str, list[str]] | None = None,
) -> str:
    """A billable metric; returns its lago_id."""
    metric_id = uuid.uuid4()
    with database.transaction() as session:
        session.add(
            BillableMetric(
                id=metric_id,
                organization_id=organization_id,
                name=code.replace("_", " ").title(),
                code=code,
                aggregation_type=aggregation_type,
                field_name=None if aggregation_type == "count_agg" else field_name,
                recurring=recurring,
                created_at=CREATED,
                updated_at=CREATED,
            )
        )
        session.flush()
        for key, values in (filters or {}).items():
            session.add(
                BillableMetricFilter(
                    billable_metric_id=metric_id,
                    key=key,
                    values=values,
                    created_at=CREATED,
                    updated_at=CREATED,
                )
            )
    return str(metric_id)
