"""The billable metrics part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    BOOL,
    INT,
    INT_,
    PAGE,
    STR,
    STR_,
    TIME,
    UUID,
    Reference,
    arr,
    body,
    enum,
    obj,
    op,
    page,
    ref,
    root,
)
from meterbill.metrics.schemas import AGGREGATION_TYPES, ROUNDING_FUNCTIONS

FILTER = obj(key=STR, values=arr(STR))
METRIC = obj(
    "What to measure in the events of one code, and how to aggregate it over a period.",
    lago_id=UUID,
    name=STR,
    code=STR,
    description=STR_,
    aggregation_type=enum(*AGGREGATION_TYPES),
    weighted_interval=enum("seconds", null=True),
    recurring=BOOL,
    rounding_function=enum(*ROUNDING_FUNCTIONS, null=True),
    rounding_precision=INT_,
    created_at=TIME,
    field_name={**STR_, "description": "The event property aggregated (none for count_agg)."},
    expression=STR_,
    filters=arr(FILTER),
    active_subscriptions_count=INT,
    draft_invoices_count=INT,
    plans_count=INT,
)
METRIC_INPUT = body(
    name=STR,
    code={**STR, "description": "The `code` events carry."},
    description=STR_,
    aggregation_type=enum(*AGGREGATION_TYPES),
    field_name=STR_,
    weighted_interval=enum("seconds", null=True),
    recurring=BOOL,
    rounding_function=enum(*ROUNDING_FUNCTIONS, null=True),
    rounding_precision=INT_,
    expression={**STR_, "description": "Computes the aggregated value from the event."},
    filters={
        **arr(body(["key", "values"], key=STR, values=arr(STR))),
        "description": "The property values charges can be priced by; replaces the set.",
    },
)
CODE = {"code": "The billable metric's code."}

REFERENCE = Reference(
    tag="Billable metrics",
    schemas={"BillableMetric": METRIC},
    operations={
        ("POST", "/api/v1/billable_metrics"): op(
            "Create a billable metric",
            "`name`, `code` and `aggregation_type` are required; `field_name` too unless "
            "the aggregation is count_agg.",
            root("billable_metric", ref("BillableMetric")),
            request=root(
                "billable_metric",
                {**METRIC_INPUT, "required": ["name", "code", "aggregation_type"]},
            ),
            example={
                "billable_metric": {
                    "name": "Storage",
                    "code": "storage_gb",
                    "aggregation_type": "max_agg",
                    "field_name": "gb",
                }
            },
        ),
        ("POST", "/api/v1/billable_metrics/evaluate_expression"): op(
            "Evaluate an expression",
            "The value an expression gives for one event, to try it before saving it.",
            root("expression_result", obj(value=STR)),
            request=body(
                ["expression"],
                expression=STR,
                event=body(code=STR, timestamp={"type": ["string", "integer"]}, properties={}),
            ),
        ),
        ("GET", "/api/v1/billable_metrics"): op(
            "List billable metrics",
            "The organization's billable metrics.",
            page("billable_metrics", ref("BillableMetric")),
            query=PAGE,
        ),
        ("GET", "/api/v1/billable_metrics/{code}"): op(
            "Retrieve a billable metric",
            "One billable metric, by code.",
            root("billable_metric", ref("BillableMetric")),
            path=CODE,
        ),
        ("PUT", "/api/v1/billable_metrics/{code}"): op(
            "Update a billable metric",
            "Changes the fields sent; the others keep their value.",
            root("billable_metric", ref("BillableMetric")),
            request=root("billable_metric", METRIC_INPUT),
            path=CODE,
        ),
        ("DELETE", "/api/v1/billable_metrics/{code}"): op(
            "Delete a billable metric",
            "Deletes the metric and the charges that price it; returns it as it was.",
            root("billable_metric", ref("BillableMetric")),
            path=CODE,
        ),
    },
)
