"""Charges and filters managed one by one, as Lago's scenario spec
plans/independent_charge_management_spec.rb has them: a sum metric on `value` with
filters region (us, eu, asia) and tier (basic, pro, enterprise). A plan built through
the charge and filter endpoints equals one sent whole; a charge and its filters are
updated, added and deleted one at a time. A subscription's plan override changes the
charge and its filters on its own copy, the plan untouched.

(The spec's subscription-level charge and filter endpoints,
/subscriptions/{id}/charges/..., are not in meterbill: overrides go through
`plan_overrides`.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing

US_BASIC = {"invoice_display_name": "US Basic", "properties": {"amount": "5"},
            "values": {"region": ["us"], "tier": ["basic"]}}  # fmt: skip
EU_PRO = {"invoice_display_name": "EU Pro", "properties": {"amount": "15"},
          "values": {"region": ["eu"], "tier": ["pro"]}}  # fmt: skip


@pytest.fixture
def metric_id(database: Database, org: Org) -> str:
    return Billing(database, org).metric("m", "sum_agg", field_name="value", filters=[
        {"key": "region", "values": ["us", "eu", "asia"]},
        {"key": "tier", "values": ["basic", "pro", "enterprise"]}])  # fmt: skip


def create_plan(http: httpx.Client, code: str, charges: list[dict[str, Any]]) -> None:
    plan = {"name": code, "code": code, "interval": "monthly", "amount_cents": 10_000,
            "amount_currency": "EUR", "pay_in_advance": False, "charges": charges}  # fmt: skip
    assert http.post("/plans", json={"plan": plan}).status_code == 200


def charge_of(http: httpx.Client, plan: str) -> dict[str, Any]:
    [charge] = http.get(f"/plans/{plan}").json()["plan"]["charges"]
    return charge


def shape(charge: dict[str, Any]) -> tuple[Any, ...]:
    filters = sorted((f["invoice_display_name"], f["properties"], f["values"])
                     for f in charge["filters"])  # fmt: skip
    return charge["charge_model"], charge["properties"], filters


def test_one_by_one_equals_all_at_once(http: httpx.Client, metric_id: str) -> None:
    charge = {"billable_metric_id": metric_id, "charge_model": "standard",
              "pay_in_advance": False, "properties": {"amount": "10"}}  # fmt: skip
    create_plan(http, "whole", [{**charge, "code": "whole_charge",
                                 "filters": [US_BASIC, EU_PRO]}])  # fmt: skip
    create_plan(http, "parts", [])
    made = http.post("/plans/parts/charges", json={"charge": {**charge, "code": "part_charge"}})
    assert made.status_code == 200
    for item in (US_BASIC, EU_PRO):
        added = http.post("/plans/parts/charges/part_charge/filters", json={"filter": item})
        assert added.status_code == 200
    whole, parts = charge_of(http, "whole"), charge_of(http, "parts")
    assert shape(whole) == shape(parts)
    assert len(whole["filters"]) == 2


def test_a_charge_and_its_filters_edited_one_at_a_time(http: httpx.Client, metric_id: str) -> None:
    original = {"invoice_display_name": "Original Filter", "properties": {"amount": "5"},
                "values": {"region": ["us"]}}  # fmt: skip
    create_plan(http, "p", [{"billable_metric_id": metric_id, "charge_model": "standard",
                             "code": "c", "properties": {"amount": "10"},
                             "filters": [original]}])  # fmt: skip
    base = "/plans/p/charges/c"
    updated = http.put(base, json={"charge": {"charge_model": "standard",
                                              "properties": {"amount": "20"},
                                              "min_amount_cents": 100}})  # fmt: skip
    assert updated.status_code == 200
    charge = charge_of(http, "p")
    assert (charge["properties"]["amount"], charge["min_amount_cents"]) == ("20", 100)
    [first] = http.get(f"{base}/filters").json()["filters"]
    changed = http.put(f"{base}/filters/{first['lago_id']}", json={"filter": {
        "invoice_display_name": "Updated Filter", "properties": {"amount": "25"}}})  # fmt: skip
    assert changed.status_code == 200
    edited = changed.json()["filter"]
    assert (edited["invoice_display_name"], edited["properties"]["amount"]) == (
        "Updated Filter", "25")  # fmt: skip
    added = http.post(f"{base}/filters", json={"filter": {
        "invoice_display_name": "New Filter", "properties": {"amount": "30"},
        "values": {"region": ["eu"]}}})  # fmt: skip
    assert added.status_code == 200
    names = sorted(f["invoice_display_name"] for f in http.get(f"{base}/filters").json()["filters"])
    assert names == ["New Filter", "Updated Filter"]
    gone = http.delete(f"{base}/filters/{added.json()['filter']['lago_id']}")
    assert gone.status_code == 200
    [left] = http.get(f"{base}/filters").json()["filters"]
    assert left["invoice_display_name"] == "Updated Filter"


def test_a_subscription_override_changes_its_own_copy(http: httpx.Client, metric_id: str) -> None:
    base_filter = {"invoice_display_name": "Base Filter", "properties": {"amount": "5"},
                   "values": {"region": ["us"]}}  # fmt: skip
    create_plan(http, "base", [{"billable_metric_id": metric_id, "charge_model": "standard",
                                "code": "base_charge", "properties": {"amount": "10"},
                                "filters": [base_filter]}])  # fmt: skip
    charge_id = charge_of(http, "base")["lago_id"]
    assert http.post("/customers", json={"customer": {"external_id": "cus"}}).status_code == 200
    body = {"external_customer_id": "cus", "plan_code": "base", "external_id": "sub"}
    assert http.post("/subscriptions", json={"subscription": body}).status_code == 200
    override = {"plan_overrides": {"charges": [{
        "id": charge_id, "invoice_display_name": "Overridden Charge",
        "properties": {"amount": "50"},
        "filters": [
            {"invoice_display_name": "Overridden Filter", "properties": {"amount": "25"},
             "values": {"region": ["us"]}},
            {"invoice_display_name": "New Sub Filter", "properties": {"amount": "35"},
             "values": {"region": ["eu"]}},
        ]}]}}  # fmt: skip
    response = http.put("/subscriptions/sub", json={"subscription": override})
    assert response.status_code == 200
    [copy] = response.json()["subscription"]["plan"]["charges"]
    assert (copy["invoice_display_name"], copy["properties"]["amount"]) == (
        "Overridden Charge", "50")  # fmt: skip
    assert sorted((f["invoice_display_name"], f["properties"]["amount"])
                  for f in copy["filters"]) == [("New Sub Filter", "35"),
                                                ("Overridden Filter", "25")]  # fmt: skip
    # The plan itself keeps its charge and filter.
    charge = charge_of(http, "base")
    assert charge["properties"]["amount"] == "10"
    assert [(f["invoice_display_name"], f["properties"]["amount"]) for f in charge["filters"]] == [
        ("Base Filter", "5")]  # fmt: skip
