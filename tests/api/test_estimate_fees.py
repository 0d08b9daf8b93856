"""POST /events/estimate_fees: what a pay-in-advance event would cost, nothing saved."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True
CLICKHOUSE_HTTP = True

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


@pytest.fixture
def advance(http: httpx.Client) -> httpx.Client:
    def metric(code: str, aggregation: str, **fields: Any) -> str:
        body = {"name": code.title(), "code": code, "aggregation_type": aggregation, **fields}
        return http.post("/billable_metrics", json={"billable_metric": body}).json()[
            "billable_metric"
        ]["lago_id"]

    calls = metric("calls", "count_agg")
    gb = metric("gb", "sum_agg", field_name="gb")
    metric("other", "count_agg")
    http.post("/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": 20,
                                      "applied_to_organization": True}})  # fmt: skip
    tiers = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 10, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
    ]
    http.post("/plans", json={"plan": {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "EUR", "charges": [
            {"billable_metric_id": calls, "charge_model": "standard", "pay_in_advance": True,
             "properties": {"amount": "2"}},
            {"billable_metric_id": gb, "charge_model": "graduated", "pay_in_advance": True,
             "properties": {"graduated_ranges": tiers}},
        ]}})  # fmt: skip
    started = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    http.post("/subscriptions", json={"subscription": {
        "external_customer_id": "cus", "plan_code": "p", "external_id": "sub",
        "subscription_at": started}})  # fmt: skip
    return http


def estimate(http: httpx.Client, **event: Any) -> httpx.Response:
    body = {"code": "calls", "external_subscription_id": "sub", "properties": {}, **event}
    return http.post("/events/estimate_fees", json={"event": body})


def test_standard_charge(advance: httpx.Client) -> None:
    [fee] = estimate(advance).json()["fees"]
    assert (fee["amount_cents"], fee["taxes_amount_cents"], fee["total_amount_cents"]) == (
        200, 40, 240,
    )  # fmt: skip
    assert (fee["units"], fee["events_count"], fee["lago_id"], fee["lago_invoice_id"]) == (
        "1.0", 1, None, None,
    )  # fmt: skip
    assert fee["item"]["code"] == "calls" and fee["pay_in_advance"] is True
    assert advance.get("/events").json()["meta"]["total_count"] == 0


def test_graduated_charge_prices_the_increment(advance: httpx.Client) -> None:
    event = {"transaction_id": "t1", "code": "gb", "external_subscription_id": "sub",
             "timestamp": time.time(), "properties": {"gb": 8}}  # fmt: skip
    advance.post("/events", json={"event": event})
    # 8 units already used: 4 more cost 2 × 1 (to 10) + 2 × 0.5 = 3.
    [fee] = estimate(advance, code="gb", properties={"gb": 4}).json()["fees"]
    assert (fee["units"], fee["amount_cents"]) == ("4.0", 300)


def test_refusals(advance: httpx.Client) -> None:
    assert estimate(advance, external_subscription_id="nope").json()["code"] == (
        "subscription_not_found"
    )
    assert estimate(advance, code="nope").json()["code"] == "billable_metric_not_found"
    assert estimate(advance, code="other").json() == {
        **UNPROCESSABLE, "error_details": {"code": ["does_not_match_an_instant_charge"]},
    }  # fmt: skip
    assert estimate(advance, code="gb", properties={"gb": "lots"}).json() == {
        **UNPROCESSABLE, "error_details": {"properties": ["value_is_not_valid_number"]},
    }  # fmt: skip


def test_customer_subscriptions(advance: httpx.Client) -> None:
    body = advance.get("/customers/cus/subscriptions").json()
    assert [item["external_id"] for item in body["subscriptions"]] == ["sub"]
    assert advance.get("/customers/nobody/subscriptions").json()["code"] == "customer_not_found"
