"""Subscriptions through the official client and raw HTTP."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.subscription import Subscription

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_plan(http: httpx.Client, code: str, amount: int, interval: str = "monthly",
              currency: str = "EUR", **extra: Any) -> None:  # fmt: skip
    response = http.post(
        "/plans",
        json={"plan": {"name": code.title(), "code": code, "interval": interval,
                       "amount_cents": amount, "amount_currency": currency, **extra}},
    )  # fmt: skip
    assert response.status_code == 200, response.text


def subscribe(http: httpx.Client, **fields: Any) -> httpx.Response:
    body = {"external_customer_id": "cus", "plan_code": "basic", "external_id": "sub", **fields}
    return http.post("/subscriptions", json={"subscription": body})


@pytest.fixture
def plans(http: httpx.Client) -> None:
    make_plan(http, "basic", 1_000)
    make_plan(http, "premium", 2_000)
    make_plan(http, "yearly_cheap", 10_000, interval="yearly")


def test_create_through_the_official_client(lago: Client, http: httpx.Client, plans: None) -> None:
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    subscription = lago.subscriptions.create(
        Subscription(
            external_customer_id="cus",
            plan_code="basic",
            external_id="sub",
            name="Repo A",
            subscription_at=iso(started),
        )
    )
    assert (subscription.external_id, subscription.plan_code, subscription.status) == (
        "sub", "basic", "active",
    )  # fmt: skip
    assert subscription.name == "Repo A" and subscription.billing_time == "calendar"
    assert subscription.subscription_at == iso(started) == subscription.started_at
    assert subscription.plan_amount_cents == "1000" and subscription.plan_amount_currency == "EUR"
    # The customer did not exist: it was created, and took the plan's currency.
    customer = http.get("/customers/cus").json()["customer"]
    assert customer["currency"] == "EUR"
    assert subscription.lago_customer_id == customer["lago_id"]

    today = datetime.now(UTC).date()
    last_day = calendar.monthrange(today.year, today.month)[1]
    assert subscription.current_billing_period_started_at == today.strftime("%Y-%m-01T00:00:00Z")
    assert subscription.current_billing_period_ending_at == today.strftime(
        f"%Y-%m-{last_day:02d}T23:59:59Z"
    )
    found = lago.subscriptions.find("sub")
    assert found.lago_id == subscription.lago_id
    body = http.get("/subscriptions/sub").json()["subscription"]
    assert body["plan"]["code"] == "basic"


def test_future_start_is_pending_then_canceled(http: httpx.Client, plans: None) -> None:
    later = datetime.now(UTC) + timedelta(days=10)
    created = subscribe(http, subscription_at=iso(later)).json()["subscription"]
    assert created["status"] == "pending" and created["started_at"] is None
    assert created["current_billing_period_started_at"] is None
    assert http.get("/subscriptions/sub").status_code == 404
    assert http.get("/subscriptions/sub", params={"status": "pending"}).status_code == 200
    # Posting again before it starts just changes its plan.
    replaced = subscribe(http, plan_code="premium", subscription_at=iso(later)).json()
    assert replaced["subscription"]["lago_id"] == created["lago_id"]
    assert replaced["subscription"]["plan_code"] == "premium"
    canceled = http.delete("/subscriptions/sub", params={"status": "pending"}).json()
    assert canceled["subscription"]["status"] == "canceled"
    assert canceled["subscription"]["canceled_at"] is not None


def test_same_plan_again_returns_the_subscription(http: httpx.Client, plans: None) -> None:
    first = subscribe(http).json()["subscription"]
    again = subscribe(http).json()["subscription"]
    assert again["lago_id"] == first["lago_id"]


def test_upgrade_is_immediate(http: httpx.Client, plans: None) -> None:
    old = subscribe(http, subscription_at=iso(datetime.now(UTC) - timedelta(days=3))).json()
    new = subscribe(http, plan_code="premium").json()["subscription"]
    assert new["lago_id"] != old["subscription"]["lago_id"]
    assert (new["status"], new["plan_code"], new["previous_plan_code"]) == (
        "active", "premium", "basic",
    )  # fmt: skip
    # The anchor is inherited from the subscription it replaces.
    assert new["subscription_at"] == old["subscription"]["subscription_at"]
    terminated = http.get("/subscriptions/sub", params={"status": "terminated"}).json()
    assert terminated["subscription"]["lago_id"] == old["subscription"]["lago_id"]
    assert terminated["subscription"]["terminated_at"] is not None


def test_yearly_plan_compares_by_yearly_amount(http: httpx.Client, plans: None) -> None:
    subscribe(http, plan_code="premium")  # 2 000 a month = 24 000 a year
    # 10 000 a year is less: a downgrade, deferred to the end of the period.
    current = subscribe(http, plan_code="yearly_cheap").json()["subscription"]
    assert (current["plan_code"], current["next_plan_code"]) == ("premium", "yearly_cheap")
    today = datetime.now(UTC).date()
    first_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    assert current["downgrade_plan_date"] == first_next.isoformat()
    pending = http.get("/subscriptions/sub", params={"status": "pending"}).json()["subscription"]
    assert (pending["plan_code"], pending["previous_plan_code"]) == ("yearly_cheap", "premium")
    # Terminating the current subscription cancels the scheduled downgrade.
    http.delete("/subscriptions/sub")
    assert (
        http.get("/subscriptions/sub", params={"status": "canceled"}).json()["subscription"][
            "plan_code"
        ]
        == "yearly_cheap"
    )


def test_terminate(lago: Client, plans: None, http: httpx.Client) -> None:
    subscribe(http)
    terminated = lago.subscriptions.destroy("sub")
    assert terminated.status == "terminated" and terminated.terminated_at is not None
    with pytest.raises(LagoApiError) as missing:
        lago.subscriptions.find("sub")
    assert missing.value.status_code == 404
    assert http.delete("/subscriptions/sub").json()["code"] == "subscription_not_found"


def test_update(http: httpx.Client, plans: None) -> None:
    subscribe(http)
    ending = iso(datetime.now(UTC) + timedelta(days=90))
    updated = http.put(
        "/subscriptions/sub", json={"subscription": {"name": "Renamed", "ending_at": ending}}
    ).json()["subscription"]
    assert (updated["name"], updated["ending_at"]) == ("Renamed", ending)


def test_list_filters(http: httpx.Client, plans: None) -> None:
    subscribe(http, external_id="a")
    subscribe(http, external_id="b", plan_code="premium")
    subscribe(http, external_id="c", external_customer_id="other")
    http.delete("/subscriptions/c")

    def ids(**params: Any) -> list[str]:
        body = http.get("/subscriptions", params=params).json()
        return sorted(item["external_id"] for item in body["subscriptions"])

    assert ids() == ["a", "b"]
    assert ids(plan_code="premium") == ["b"]
    assert ids(external_customer_id="other") == []
    assert ids(**{"status[]": ["terminated"]}) == ["c"]
    assert ids(**{"status[]": ["active", "terminated"]}) == ["a", "b", "c"]


def test_currency_lock(http: httpx.Client, plans: None) -> None:
    http.post("/customers", json={"customer": {"external_id": "usd", "currency": "USD"}})
    refused = subscribe(http, external_customer_id="usd")
    assert refused.json() == {
        **UNPROCESSABLE, "error_details": {"currency": ["currencies_does_not_match"]},
    }  # fmt: skip
    assert (
        http.get("/subscriptions", params={"external_customer_id": "usd"}).json()["subscriptions"]
        == []
    )
    # customers.md §13 item 23: once subscribed, the currency is locked, and the
    # refused request saves nothing else either.
    subscribe(http)
    locked = http.post(
        "/customers", json={"customer": {"external_id": "cus", "currency": "USD", "name": "X"}}
    )
    assert locked.json()["error_details"] == {"currency": ["currencies_does_not_match"]}
    assert http.get("/customers/cus").json()["customer"]["name"] is None
    same = http.post("/customers", json={"customer": {"external_id": "cus", "currency": "EUR"}})
    assert same.status_code == 200


def test_deleting_the_customer_ends_its_subscriptions(http: httpx.Client, plans: None) -> None:
    subscribe(http)
    subscribe(http, external_id="later", subscription_at=iso(datetime.now(UTC) + timedelta(days=5)))
    http.delete("/customers/cus")
    statuses = http.get(
        "/subscriptions", params={"status[]": ["active", "pending", "terminated", "canceled"]}
    ).json()["subscriptions"]
    assert sorted((s["external_id"], s["status"]) for s in statuses) == [
        ("later", "canceled"), ("sub", "terminated"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"billing_time": "weekly"}, {"billing_time": ["value_is_invalid"]}),
        ({"subscription_at": "yesterday"}, {"subscription_at": ["invalid_date"]}),
        ({"ending_at": "2001-01-01T00:00:00Z"}, {"ending_at": ["invalid_date"]}),
        (
            {"on_termination_credit_note": "credit"},
            {"on_termination_credit_note": ["invalid_value"]},
        ),
        ({"external_id": None}, {"external_id": ["value_is_mandatory"]}),
        ({"plan_code": ""}, {"plan_code": ["value_is_mandatory"]}),
    ],
)
def test_refusals(http: httpx.Client, plans: None, fields: dict[str, Any], details: Any) -> None:
    response = subscribe(http, **fields)
    assert response.status_code == 422, response.text
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    assert http.get("/subscriptions").json()["subscriptions"] == []


def test_not_found_and_taken(http: httpx.Client, plans: None) -> None:
    assert subscribe(http, plan_code="nope").json() == {
        "status": 404, "error": "Not Found", "code": "plan_not_found",
    }  # fmt: skip
    assert http.get("/customers/cus").status_code == 404
    subscribe(http)
    taken = subscribe(http, external_customer_id="someone-else")
    assert taken.json()["error_details"] == {"external_id": ["value_already_exist"]}
    assert http.get("/subscriptions/unknown").json()["code"] == "subscription_not_found"


def test_deleting_the_plan_ends_its_subscriptions(http: httpx.Client, plans: None) -> None:
    subscribe(http)
    subscribe(http, external_id="later", subscription_at=iso(datetime.now(UTC) + timedelta(days=5)))
    subscribe(http, external_id="other", plan_code="premium")
    http.delete("/plans/basic")
    everything = http.get(
        "/subscriptions", params={"status[]": ["active", "pending", "terminated", "canceled"]}
    ).json()["subscriptions"]
    assert sorted((s["external_id"], s["status"]) for s in everything) == [
        ("later", "canceled"), ("other", "active"), ("sub", "terminated"),
    ]  # fmt: skip


def test_plan_overrides(lago: Client, http: httpx.Client) -> None:
    metric = http.post("/billable_metrics", json={"billable_metric": {
        "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}).json()  # fmt: skip
    make_plan(http, "base", 1_000, charges=[{
        "billable_metric_id": metric["billable_metric"]["lago_id"], "charge_model": "standard",
        "properties": {"amount": "1"}}])  # fmt: skip
    parent = http.get("/plans/base").json()["plan"]
    parent_charge = parent["charges"][0]["lago_id"]
    created = subscribe(
        http, plan_code="base",
        plan_overrides={"amount_cents": 5_000, "name": "Custom",
                        "charges": [{"id": parent_charge, "properties": {"amount": "0.5"}}]},
    ).json()["subscription"]  # fmt: skip
    plan = created["plan"]
    assert (plan["code"], plan["name"], plan["amount_cents"], plan["parent_id"]) == (
        "base", "Custom", 5_000, parent["lago_id"],
    )  # fmt: skip
    [charge] = plan["charges"]
    assert charge["properties"] == {"amount": "0.5"} and charge["lago_parent_id"] == parent_charge
    assert created["plan_code"] == "base" and created["plan_amount_cents"] == 5_000
    # The catalog plan is untouched and the copy is not listed.
    assert http.get("/plans/base").json()["plan"]["amount_cents"] == 1_000
    assert [p["lago_id"] for p in http.get("/plans").json()["plans"]] == [parent["lago_id"]]
    # Posting the same plan again keeps the subscription; updating overrides edits the copy.
    assert subscribe(http, plan_code="base").json()["subscription"]["lago_id"] == created["lago_id"]
    updated = http.put("/subscriptions/sub", json={"subscription": {
        "plan_overrides": {"amount_cents": 4_000}}}).json()["subscription"]  # fmt: skip
    assert (updated["plan"]["lago_id"], updated["plan"]["amount_cents"]) == (plan["lago_id"], 4_000)
    refused = subscribe(http, external_id="other", plan_code="base",
                        plan_overrides={"charges": [{"id": "nope"}]})  # fmt: skip
    assert refused.json()["code"] == "charge_not_found"
