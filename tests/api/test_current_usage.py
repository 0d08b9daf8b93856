"""GET /customers/{id}/current_usage over HTTP: shape, freshness, refusals."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from lago_python_client.client import Client

from meterbill.core.db import Database
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events
from tests.conftest import Org

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True
CLICKHOUSE_HTTP = True

NO_ACTIVE = {"status": 405, "error": "Method Not Allowed", "code": "no_active_subscription"}


@pytest.fixture
def subscribed(http: httpx.Client) -> httpx.Client:
    metric = http.post("/billable_metrics", json={"billable_metric": {
        "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}).json()  # fmt: skip
    http.post("/plans", json={"plan": {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "USD", "charges": [{
            "billable_metric_id": metric["billable_metric"]["lago_id"],
            "charge_model": "standard", "properties": {"amount": "0.5"}}]}})  # fmt: skip
    started = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    http.post("/subscriptions", json={"subscription": {
        "external_customer_id": "cus", "plan_code": "p", "external_id": "sub",
        "subscription_at": started}})  # fmt: skip
    return http


def test_every_accepted_event_is_counted_by_the_next_call(
    lago: Client, subscribed: httpx.Client
) -> None:
    for expected in range(1, 6):
        subscribed.post("/events", json={"event": {
            "transaction_id": f"t{expected}", "external_subscription_id": "sub",
            "code": "calls", "timestamp": time.time()}})  # fmt: skip
        usage = lago.customers.current_usage("cus", "sub")
        [charge] = usage.charges_usage
        assert charge.units == f"{expected}.0"
        assert usage.amount_cents == 50 * expected
    assert usage.currency == "USD" and usage.total_amount_cents == 250


def test_refusals(subscribed: httpx.Client) -> None:
    def get(customer: str, **params: str) -> httpx.Response:
        return subscribed.get(f"/customers/{customer}/current_usage", params=params)

    assert get("cus").json() == NO_ACTIVE
    assert get("cus", external_subscription_id="unknown").json() == NO_ACTIVE
    assert get("nobody", external_subscription_id="sub").json() == {
        "status": 404, "error": "Not Found", "code": "customer_not_found",
    }  # fmt: skip
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    subscribed.post("/subscriptions", json={"subscription": {
        "external_customer_id": "cus", "plan_code": "p", "external_id": "future",
        "subscription_at": later}})  # fmt: skip
    assert get("cus", external_subscription_id="future").json() == NO_ACTIVE
    subscribed.delete("/subscriptions/sub")
    assert get("cus", external_subscription_id="sub").json() == NO_ACTIVE


def test_events_for_unknown_codes_or_subscriptions_are_stored_not_billed(
    subscribed: httpx.Client,
) -> None:
    for transaction, code, subscription in (
        ("known", "calls", "sub"),
        ("unknown-code", "nope", "sub"),
        ("unknown-sub", "calls", "ghost"),
    ):
        response = subscribed.post("/events", json={"event": {
            "transaction_id": transaction, "external_subscription_id": subscription,
            "code": code, "timestamp": time.time()}})  # fmt: skip
        assert response.status_code == 200
    assert subscribed.get("/events").json()["meta"]["total_count"] == 3
    usage = subscribed.get(
        "/customers/cus/current_usage", params={"external_subscription_id": "sub"}
    ).json()["customer_usage"]
    assert [c["units"] for c in usage["charges_usage"]] == ["1.0"]
    assert usage["amount_cents"] == 50


def test_usage_no_integer_can_hold_is_refused_with_an_envelope(
    database: Database, org: Org, http: httpx.Client
) -> None:
    metric = http.post("/billable_metrics", json={"billable_metric": {
        "name": "Units", "code": "units", "aggregation_type": "sum_agg",
        "field_name": "units"}}).json()  # fmt: skip
    http.post("/plans", json={"plan": {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "EUR", "charges": [{
            "billable_metric_id": metric["billable_metric"]["lago_id"],
            "charge_model": "standard", "properties": {"amount": "0.01"}}]}})  # fmt: skip
    now = datetime.now(UTC)
    started = (now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    http.post("/subscriptions", json={"subscription": {
        "external_customer_id": "cus", "plan_code": "p", "external_id": "sub",
        "subscription_at": started}})  # fmt: skip
    # 10^20 units at 0.01 EUR: 10^20 cents. Stored below the API's door, as data
    # accepted before the API bounded event values.
    event = EventInput("huge", "sub", "units", now - timedelta(minutes=1),
                       {"units": "100000000000000000000"}, None)  # fmt: skip
    with database.transaction() as session:
        insert_events(session, org.id, [event], now)
    response = http.get("/customers/cus/current_usage", params={"external_subscription_id": "sub"})
    assert (response.status_code, response.json()) == (422, {
        "status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
        "error_details": {"amount_cents": ["value_is_out_of_range"]}})  # fmt: skip
