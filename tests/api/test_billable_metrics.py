"""Billable metrics through the official client and raw HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.billable_metric import (
    BillableMetric,
    BillableMetricFilter,
    BillableMetricFilters,
)

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def metric(**fields: Any) -> dict[str, Any]:
    base = {"name": "Storage", "code": "storage", "aggregation_type": "sum_agg", "field_name": "gb"}
    return {"billable_metric": {**base, **fields}}


def test_lifecycle_through_the_official_client(lago: Client, http: httpx.Client) -> None:
    created = lago.billable_metrics.create(
        BillableMetric(
            name="Storage",
            code="storage",
            aggregation_type="sum_agg",
            field_name="gb",
            recurring=True,
            rounding_function="round",
            rounding_precision=2,
            filters=BillableMetricFilters(
                __root__=[BillableMetricFilter(key="region", values=["us", "eu"])]
            ),
        )
    )
    assert (created.code, created.aggregation_type, created.field_name, created.recurring) == (
        "storage", "sum_agg", "gb", True,
    )  # fmt: skip
    assert (created.rounding_function, created.rounding_precision) == ("round", 2)
    assert [(f.key, f.values) for f in created.filters.__root__] == [("region", ["us", "eu"])]
    body = http.get("/billable_metrics/storage").json()["billable_metric"]
    assert set(body) == {
        "lago_id", "name", "code", "description", "aggregation_type", "weighted_interval",
        "recurring", "rounding_function", "rounding_precision", "created_at", "field_name",
        "expression", "filters", "active_subscriptions_count", "draft_invoices_count",
        "plans_count",
    }  # fmt: skip

    updated = lago.billable_metrics.update(
        BillableMetric(
            name="Disk",
            filters=BillableMetricFilters(
                __root__=[BillableMetricFilter(key="cloud", values=["aws"])]
            ),
        ),
        "storage",
    )
    assert updated.name == "Disk" and updated.field_name == "gb"
    assert [(f.key, f.values) for f in updated.filters.__root__] == [("cloud", ["aws"])]

    lago.billable_metrics.create(
        BillableMetric(name="Calls", code="calls", aggregation_type="count_agg")
    )
    page = lago.billable_metrics.find_all({"per_page": 1, "page": 2})
    assert page["meta"]["total_count"] == 2 and len(page["billable_metrics"]) == 1

    deleted = lago.billable_metrics.destroy("storage")
    assert deleted.code == "storage"
    with pytest.raises(LagoApiError) as missing:
        lago.billable_metrics.find("storage")
    assert missing.value.status_code == 404
    again = lago.billable_metrics.create(
        BillableMetric(name="S", code="storage", aggregation_type="max_agg", field_name="gb")
    )
    assert again.lago_id != created.lago_id


def test_count_has_no_field_and_weighted_sum_is_in_seconds(http: httpx.Client) -> None:
    count = http.post("/billable_metrics", json=metric(code="c", aggregation_type="count_agg"))
    assert count.json()["billable_metric"]["field_name"] is None
    weighted = http.post(
        "/billable_metrics", json=metric(code="w", aggregation_type="weighted_sum_agg")
    )
    assert weighted.json()["billable_metric"]["weighted_interval"] == "seconds"


def test_charged_metric_keeps_its_aggregation(http: httpx.Client) -> None:
    metric_id = http.post("/billable_metrics", json=metric()).json()["billable_metric"]["lago_id"]
    http.post("/plans", json={"plan": {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "EUR", "charges": [{"billable_metric_id": metric_id,
                                                "charge_model": "standard",
                                                "properties": {"amount": "1"}}]}})  # fmt: skip
    body = http.put(
        "/billable_metrics/storage",
        json={
            "billable_metric": {"name": "Renamed", "aggregation_type": "max_agg", "field_name": "x"}
        },
    ).json()["billable_metric"]
    assert (body["name"], body["aggregation_type"], body["field_name"]) == (
        "Renamed", "sum_agg", "gb",
    )  # fmt: skip
    assert body["plans_count"] == 1
    # Deleting the metric removes the charges priced on it.
    http.delete("/billable_metrics/storage")
    assert http.get("/plans/p").json()["plan"]["charges"] == []


def test_evaluate_expression(http: httpx.Client) -> None:
    response = http.post(
        "/billable_metrics/evaluate_expression",
        json={"expression": "round(event.properties.a * event.properties.b, 1)",
              "event": {"code": "x", "timestamp": 1704067200, "properties": {"a": "2.5", "b": 3}}},
    )  # fmt: skip
    assert response.json() == {"expression_result": {"value": "7.5"}}
    missing = http.post(
        "/billable_metrics/evaluate_expression",
        json={"expression": "event.properties.nope + 1", "event": {"properties": {}}},
    )
    assert missing.status_code == 422


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"name": None}, {"name": ["value_is_mandatory"]}),
        ({"code": ""}, {"code": ["value_is_mandatory"]}),
        ({"aggregation_type": "custom_agg"}, {"aggregation_type": ["value_is_invalid"]}),
        ({"aggregation_type": "median"}, {"aggregation_type": ["value_is_invalid"]}),
        ({"field_name": None}, {"field_name": ["value_is_mandatory"]}),
        ({"aggregation_type": "max_agg", "recurring": True},
         {"recurring": ["not_compatible_with_aggregation_type"]}),
        ({"aggregation_type": "count_agg", "recurring": True},
         {"recurring": ["not_compatible_with_aggregation_type"]}),
        ({"rounding_function": "truncate"}, {"rounding_function": ["value_is_invalid"]}),
        ({"expression": "event.properties.a +"}, {"expression": ["invalid_expression"]}),
        ({"expression": "system('x')"}, {"expression": ["invalid_expression"]}),
        ({"filters": [{"key": "r", "values": []}]}, {"values": ["value_is_mandatory"]}),
        ({"filters": [{"key": "r", "values": ["a"]}, {"key": "r", "values": ["b"]}]},
         {"key": ["value_already_exist"]}),
    ],
)  # fmt: skip
def test_refusals(http: httpx.Client, fields: dict[str, Any], details: Any) -> None:
    response = http.post("/billable_metrics", json=metric(**fields))
    assert response.status_code == 422, response.text
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    assert http.get("/billable_metrics").json()["meta"]["total_count"] == 0


def test_duplicate_unknown_and_missing_root(http: httpx.Client) -> None:
    http.post("/billable_metrics", json=metric())
    assert http.post("/billable_metrics", json=metric()).json()["error_details"] == {
        "code": ["value_already_exist"]
    }
    for method in ("GET", "PUT", "DELETE"):
        response = http.request(method, "/billable_metrics/nope", json=metric())
        assert response.json() == {
            "status": 404, "error": "Not Found", "code": "billable_metric_not_found",
        }  # fmt: skip
    assert http.post("/billable_metrics", json={"name": "x"}).status_code == 400
