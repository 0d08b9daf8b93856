"""Billable metric requests and Lago's billable metric object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meterbill.core.limits import LONG_TEXT_MAX, ROUNDING_MAX
from meterbill.core.times import iso_seconds
from meterbill.core.validation import INVALID, MANDATORY, MISSING, Reader
from meterbill.metrics.expression import ExpressionError, compile_expression
from meterbill.metrics.models import BillableMetric

AGGREGATION_TYPES = (
    "count_agg",
    "sum_agg",
    "max_agg",
    "unique_count_agg",
    "weighted_sum_agg",
    "latest_agg",
)
NOT_RECURRING = ("count_agg", "max_agg", "latest_agg")
ROUNDING_FUNCTIONS = ("round", "ceil", "floor")


@dataclass
class MetricInput:
    columns: dict[str, Any] = field(default_factory=dict)
    # None: filters untouched; else the full set, by key.
    filters: dict[str, list[str]] | None = None


def parse_metric(data: dict[str, Any], *, creating: bool) -> MetricInput:
    reader = Reader(data)
    columns: dict[str, Any] = {
        "name": reader.string("name", required=creating),
        "code": reader.string("code", required=creating),
        "description": reader.string("description", max_length=LONG_TEXT_MAX),
        # custom_agg runs customer Ruby code in Lago's sandbox; meterbill has no
        # such sandbox, so it is refused like any unknown aggregation.
        "aggregation_type": reader.choice("aggregation_type", AGGREGATION_TYPES),
        "field_name": reader.string("field_name"),
        "weighted_interval": reader.choice("weighted_interval", ("seconds",)),
        "recurring": reader.boolean("recurring"),
        "rounding_function": reader.choice("rounding_function", ROUNDING_FUNCTIONS),
        "rounding_precision": reader.integer(
            "rounding_precision", minimum=-ROUNDING_MAX, maximum=ROUNDING_MAX
        ),
        "expression": reader.string("expression", max_length=LONG_TEXT_MAX),
    }
    for key in ("aggregation_type", "recurring"):
        if reader.has(key) and data[key] is None:
            reader.add(key, INVALID)
    if creating and not reader.has("aggregation_type"):
        reader.add("aggregation_type", INVALID)
    expression = columns["expression"]
    if isinstance(expression, str) and expression.strip():
        try:
            compile_expression(expression)
        except ExpressionError:
            reader.add("expression", "invalid_expression")
    elif expression == "":
        columns["expression"] = None
    filters = _filters(reader)
    reader.raise_if_any()
    return MetricInput(
        columns={key: value for key, value in columns.items() if value is not MISSING},
        filters=filters,
    )


def _filters(reader: Reader) -> dict[str, list[str]] | None:
    raw = reader.data.get("filters")
    if raw is None:
        return None
    result: dict[str, list[str]] = {}
    if not isinstance(raw, list):
        reader.add("filters", INVALID)
        return None
    for item in raw:
        if not isinstance(item, dict):
            reader.add("filters", INVALID)
            continue
        key, values = item.get("key"), item.get("values")
        if not isinstance(key, str) or not key:
            reader.add("key", MANDATORY)
        elif (
            not isinstance(values, list)
            or not values
            or not all(isinstance(value, str) for value in values)
        ):
            reader.add("values", MANDATORY)
        elif key in result:
            reader.add("key", "value_already_exist")
        else:
            result[key] = list(dict.fromkeys(values))
    return result


def check_metric(metric: BillableMetric) -> None:
    """Rules that depend on several fields, checked on the final state of the metric."""
    reader = Reader({})
    if metric.aggregation_type in ("count_agg",):
        metric.field_name = None
    elif not metric.field_name:
        reader.add("field_name", MANDATORY)
    if metric.recurring and metric.aggregation_type in NOT_RECURRING:
        reader.add("recurring", "not_compatible_with_aggregation_type")
    if metric.aggregation_type == "weighted_sum_agg":
        metric.weighted_interval = "seconds"
    else:
        metric.weighted_interval = None
    if metric.rounding_function is None:
        metric.rounding_precision = None
    reader.raise_if_any()


def metric_object(metric: BillableMetric, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "lago_id": str(metric.id),
        "name": metric.name,
        "code": metric.code,
        "description": metric.description,
        "aggregation_type": metric.aggregation_type,
        "weighted_interval": metric.weighted_interval,
        "recurring": metric.recurring,
        "rounding_function": metric.rounding_function,
        "rounding_precision": metric.rounding_precision,
        "created_at": iso_seconds(metric.created_at),
        "field_name": metric.field_name,
        "expression": metric.expression,
        "filters": [{"key": item.key, "values": item.values} for item in metric.filters],
        "active_subscriptions_count": counts.get("active_subscriptions_count", 0),
        "draft_invoices_count": counts.get("draft_invoices_count", 0),
        "plans_count": counts.get("plans_count", 0),
    }
