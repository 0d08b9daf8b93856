"""Plans and charges through the official client and raw HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.charge import Charge, Charges
from lago_python_client.models.minimum_commitment import MinimumCommitment
from lago_python_client.models.plan import Plan

from meterbill.core.db import Database
from tests.conftest import Org
from tests.factories import make_metric

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
    ]
}
VOLUME = {
    "volume_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
        {"from_value": 101, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"},
    ]
}
GRADUATED_PERCENTAGE = {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "200"},
        {"from_value": 11, "to_value": None, "rate": "2", "flat_amount": "300"},
    ]
}
PERCENTAGE = {
    "rate": "1.3",
    "fixed_amount": "2.0",
    "free_units_per_events": 3,
    "free_units_per_total_aggregation": "250.0",
}
PACKAGE = {"amount": "100", "package_size": 10, "free_units": 0}


@pytest.fixture
def metrics(database: Database, org: Org) -> dict[str, str]:
    return {
        "api_calls": make_metric(database, org.id, "api_calls", "count_agg"),
        "storage": make_metric(
            database, org.id, "storage", "sum_agg", filters={"region": ["us", "eu"]}
        ),
        "peak": make_metric(database, org.id, "peak", "max_agg"),
        "seats": make_metric(database, org.id, "seats", "unique_count_agg", recurring=True),
        "latest": make_metric(database, org.id, "latest", "latest_agg"),
    }


def charge(metric_id: str, model: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "billable_metric_id": metric_id,
        "charge_model": model,
        "properties": properties,
        **extra,
    }


def plan_body(**overrides: Any) -> dict[str, Any]:
    return {
        "plan": {
            "name": "Startup",
            "code": "startup",
            "interval": "monthly",
            "amount_cents": 10_000,
            "amount_currency": "EUR",
            **overrides,
        }
    }


def test_create_plan_with_every_charge_model(lago: Client, metrics: dict[str, str]) -> None:
    plan = lago.plans.create(
        Plan(
            name="Startup",
            code="startup",
            interval="monthly",
            amount_cents=10_000,
            amount_currency="EUR",
            trial_period=3.5,
            pay_in_advance=True,
            charges=Charges(
                __root__=[
                    Charge(
                        billable_metric_id=metrics["api_calls"],
                        charge_model="standard",
                        properties={"amount": "0.05"},
                    ),
                    Charge(
                        billable_metric_id=metrics["storage"],
                        charge_model="graduated",
                        properties=GRADUATED,
                    ),
                    Charge(
                        billable_metric_id=metrics["storage"],
                        charge_model="volume",
                        properties=VOLUME,
                    ),
                    Charge(
                        billable_metric_id=metrics["storage"],
                        charge_model="package",
                        properties=PACKAGE,
                    ),
                    Charge(
                        billable_metric_id=metrics["storage"],
                        charge_model="percentage",
                        properties=PERCENTAGE,
                    ),
                    Charge(
                        billable_metric_id=metrics["storage"],
                        charge_model="graduated_percentage",
                        properties=GRADUATED_PERCENTAGE,
                    ),
                    Charge(
                        billable_metric_id=metrics["storage"], charge_model="dynamic", properties={}
                    ),
                ]
            ),
        )
    )
    assert (plan.name, plan.code, plan.interval, plan.amount_cents, plan.amount_currency) == (
        "Startup", "startup", "monthly", 10_000, "EUR",
    )  # fmt: skip
    assert plan.trial_period == 3.5 and plan.pay_in_advance is True
    assert plan.bill_charges_monthly is None
    charges = plan.charges.__root__
    assert [c.charge_model for c in charges] == [
        "standard", "graduated", "volume", "package", "percentage", "graduated_percentage",
        "dynamic",
    ]  # fmt: skip
    # Codes default to the metric's code, made unique within the plan.
    assert [c.code for c in charges] == [
        "api_calls", "storage", "storage_2", "storage_3", "storage_4", "storage_5", "storage_6",
    ]  # fmt: skip
    assert [c.billable_metric_code for c in charges] == ["api_calls"] + ["storage"] * 6
    assert [c.properties for c in charges] == [
        {"amount": "0.05"}, GRADUATED, VOLUME, PACKAGE, PERCENTAGE, GRADUATED_PERCENTAGE, {},
    ]  # fmt: skip
    first = charges[0]
    assert (first.pay_in_advance, first.invoiceable, first.prorated, first.min_amount_cents) == (
        False, True, False, 0,
    )  # fmt: skip
    assert first.lago_billable_metric_id == metrics["api_calls"]

    found = lago.plans.find("startup")
    assert found.lago_id == plan.lago_id and len(found.charges.__root__) == 7


def test_plan_output_shape(http: httpx.Client, metrics: dict[str, str]) -> None:
    body = http.post(
        "/plans",
        json=plan_body(
            interval="yearly",
            charges=[charge(metrics["api_calls"], "standard", {"amount": "1", "junk": "x"})],
        ),
    ).json()["plan"]
    assert set(body) == {
        "lago_id",
        "name",
        "invoice_display_name",
        "created_at",
        "code",
        "interval",
        "description",
        "amount_cents",
        "amount_currency",
        "trial_period",
        "pay_in_advance",
        "bill_charges_monthly",
        "bill_fixed_charges_monthly",
        "customers_count",
        "active_subscriptions_count",
        "draft_invoices_count",
        "parent_id",
        "pending_deletion",
        "charges",
        "fixed_charges",
        "usage_thresholds",
        "applicable_usage_thresholds",
        "taxes",
        "minimum_commitment",
        "entitlements",
    }  # fmt: skip  (no metadata: Lago leaves the key out)
    # Yearly plans may bill charges monthly: false unless asked.
    assert body["bill_charges_monthly"] is False
    [item] = body["charges"]
    assert set(item) == {
        "lago_id", "lago_billable_metric_id", "code", "invoice_display_name",
        "billable_metric_code", "created_at", "charge_model", "invoiceable", "regroup_paid_fees",
        "pay_in_advance", "prorated", "min_amount_cents", "accepts_target_wallet", "properties",
        "applied_pricing_unit", "lago_parent_id", "filters", "taxes",
    }  # fmt: skip
    # Keys that do not belong to the model are dropped.
    assert item["properties"] == {"amount": "1"}


def test_grouping_keys_show_with_their_alias(http: httpx.Client, metrics: dict[str, str]) -> None:
    body = http.post(
        "/plans",
        json=plan_body(
            charges=[
                charge(metrics["storage"], "standard", {"amount": "1", "grouped_by": ["user"]})
            ]
        ),
    ).json()["plan"]
    assert body["charges"][0]["properties"] == {
        "amount": "1",
        "pricing_group_keys": ["user"],
        "grouped_by": ["user"],
    }


def test_default_properties_when_none_are_sent(http: httpx.Client, metrics: dict[str, str]) -> None:
    body = http.post(
        "/plans",
        json=plan_body(
            charges=[
                {"billable_metric_id": metrics["api_calls"], "charge_model": "standard"},
                {"billable_metric_id": metrics["api_calls"], "charge_model": "package"},
                {"billable_metric_id": metrics["api_calls"], "charge_model": "percentage"},
            ]
        ),
    ).json()["plan"]
    assert [c["properties"] for c in body["charges"]] == [
        {"amount": "0"},
        {"package_size": 1, "amount": "0", "free_units": 0},
        {"rate": "0"},
    ]


def test_update_replaces_charges_by_id(http: httpx.Client, metrics: dict[str, str]) -> None:
    created = http.post(
        "/plans",
        json=plan_body(
            charges=[
                charge(metrics["api_calls"], "standard", {"amount": "1"}),
                charge(metrics["storage"], "standard", {"amount": "2"}),
            ]
        ),
    ).json()["plan"]
    kept_id = created["charges"][0]["lago_id"]
    updated = http.put(
        "/plans/startup",
        json={
            "plan": {
                "name": "Startup v2",
                "amount_cents": 12_000,
                "charges": [
                    {"id": kept_id, "properties": {"amount": "1.5"}},
                    charge(metrics["peak"], "standard", {"amount": "3"}),
                ],
            }
        },
    ).json()["plan"]
    assert (updated["name"], updated["amount_cents"], updated["code"]) == (
        "Startup v2", 12_000, "startup",
    )  # fmt: skip
    assert [(c["lago_id"] == kept_id, c["code"], c["properties"]) for c in updated["charges"]] == [
        (True, "api_calls", {"amount": "1.5"}),
        (False, "peak", {"amount": "3"}),
    ]
    # Without `charges` the charges are left alone.
    again = http.put("/plans/startup", json={"plan": {"description": "d"}}).json()["plan"]
    assert [c["code"] for c in again["charges"]] == ["api_calls", "peak"]


def test_charge_filters(http: httpx.Client, metrics: dict[str, str]) -> None:
    created = http.post(
        "/plans",
        json=plan_body(
            charges=[
                charge(
                    metrics["storage"],
                    "standard",
                    {"amount": "1"},
                    filters=[
                        {"values": {"region": ["us"]}, "properties": {"amount": "2"},
                         "invoice_display_name": "US"},
                        {"values": {"region": ["__ALL_FILTER_VALUES__"]},
                         "properties": {"amount": "3"}},
                    ],
                )
            ]
        ),
    ).json()["plan"]  # fmt: skip
    assert created["charges"][0]["filters"] == [
        {"invoice_display_name": "US", "properties": {"amount": "2"}, "values": {"region": ["us"]}},
        {"invoice_display_name": None, "properties": {"amount": "3"},
         "values": {"region": ["__ALL_FILTER_VALUES__"]}},
    ]  # fmt: skip
    charge_id = created["charges"][0]["lago_id"]
    listed = http.get("/plans/startup/charges/storage/filters").json()
    us_filter_id = listed["filters"][0]["lago_id"]
    assert listed["meta"]["total_count"] == 2

    updated = http.put(
        "/plans/startup",
        json={
            "plan": {
                "charges": [
                    {"id": charge_id, "filters": [
                        {"values": {"region": ["us"]}, "properties": {"amount": "9"}},
                        {"values": {"region": ["eu"]}, "properties": {"amount": "4"}},
                    ]}
                ]
            }
        },
    ).json()["plan"]  # fmt: skip
    assert [(f["values"], f["properties"]) for f in updated["charges"][0]["filters"]] == [
        ({"region": ["us"]}, {"amount": "9"}),
        ({"region": ["eu"]}, {"amount": "4"}),
    ]
    # Filters are matched by their values: the US filter kept its id.
    after = http.get("/plans/startup/charges/storage/filters").json()["filters"]
    assert after[0]["lago_id"] == us_filter_id


def test_filter_endpoints(http: httpx.Client, metrics: dict[str, str]) -> None:
    http.post(
        "/plans", json=plan_body(charges=[charge(metrics["storage"], "standard", {"amount": "1"})])
    )
    base = "/plans/startup/charges/storage/filters"
    created = http.post(
        base, json={"filter": {"values": {"region": ["eu"]}, "properties": {"amount": "5"}}}
    ).json()["filter"]
    assert created["values"] == {"region": ["eu"]} and created["properties"] == {"amount": "5"}
    filter_id = created["lago_id"]
    assert http.get(f"{base}/{filter_id}").json()["filter"]["lago_id"] == filter_id
    updated = http.put(f"{base}/{filter_id}", json={"filter": {"invoice_display_name": "EU"}})
    assert updated.json()["filter"]["invoice_display_name"] == "EU"
    assert updated.json()["filter"]["properties"] == {"amount": "5"}
    assert http.delete(f"{base}/{filter_id}").status_code == 200
    assert http.get(f"{base}/{filter_id}").json()["code"] == "charge_filter_not_found"
    assert http.get(base).json()["filters"] == []


def test_nested_charge_endpoints(lago: Client, http: httpx.Client, metrics: dict[str, str]) -> None:
    http.post("/plans", json=plan_body())
    created = lago.plan_charges.create(
        "startup",
        Charge(billable_metric_id=metrics["api_calls"], charge_model="package",
               properties=PACKAGE, code="calls"),
    )  # fmt: skip
    assert (created.code, created.charge_model, created.properties) == ("calls", "package", PACKAGE)
    assert lago.plan_charges.find("startup", "calls").lago_id == created.lago_id
    updated = lago.plan_charges.update(
        "startup",
        "calls",
        Charge(
            invoice_display_name="API calls",
            properties={"amount": "50", "package_size": 5, "free_units": 0},
        ),
    )
    assert updated.invoice_display_name == "API calls"
    assert updated.properties == {"amount": "50", "package_size": 5, "free_units": 0}
    # The official client's find_all for child resources sends no Authorization header
    # (lago-python-client 1.55), so the list is read over raw HTTP.
    listed = http.get("/plans/startup/charges").json()
    assert [c["code"] for c in listed["charges"]] == ["calls"]
    assert listed["meta"]["total_count"] == 1
    deleted = lago.plan_charges.destroy("startup", "calls")
    assert deleted.code == "calls"
    with pytest.raises(LagoApiError) as missing:
        lago.plan_charges.find("startup", "calls")
    assert missing.value.status_code == 404


def test_taxes_and_minimum_commitment(
    lago: Client, http: httpx.Client, metrics: dict[str, str]
) -> None:
    for code, rate in (("vat", 20), ("bank", 10)):
        http.post("/taxes", json={"tax": {"name": code.upper(), "code": code, "rate": rate}})
    plan = lago.plans.create(
        Plan(
            name="Pro", code="pro", interval="monthly", amount_cents=5000, amount_currency="USD",
            tax_codes=["bank"],
            minimum_commitment=MinimumCommitment(amount_cents=20_000, invoice_display_name="Min",
                                                 tax_codes=["vat"]),
            charges=Charges(__root__=[
                Charge(billable_metric_id=metrics["api_calls"], charge_model="standard",
                       properties={"amount": "1"}, tax_codes=["vat", "bank"]),
            ]),
        )
    )  # fmt: skip
    assert [t.code for t in plan.taxes.__root__] == ["bank"]
    assert [t.code for t in plan.charges.__root__[0].taxes.__root__] == ["bank", "vat"]
    commitment = plan.minimum_commitment
    assert commitment is not None
    assert (commitment.amount_cents, commitment.invoice_display_name) == (20_000, "Min")
    body = http.get("/plans/pro").json()["plan"]["minimum_commitment"]
    assert [t["code"] for t in body["taxes"]] == ["vat"]
    assert body["interval"] == "monthly" and body["plan_code"] == "pro"
    removed = http.put("/plans/pro", json={"plan": {"minimum_commitment": {}, "tax_codes": []}})
    assert removed.json()["plan"]["minimum_commitment"] is None
    assert removed.json()["plan"]["taxes"] == []


def test_list_and_delete(lago: Client, http: httpx.Client, metrics: dict[str, str]) -> None:
    for index in range(3):
        http.post("/plans", json=plan_body(code=f"p{index}", charges=[
            charge(metrics["api_calls"], "standard", {"amount": "1"})]))  # fmt: skip
    page = lago.plans.find_all({"per_page": 2, "page": 2})
    assert page["meta"]["total_count"] == 3 and len(page["plans"]) == 1

    deleted = lago.plans.destroy("p1")
    assert deleted.code == "p1"
    assert http.get("/plans/p1").json() == {
        "status": 404, "error": "Not Found", "code": "plan_not_found",
    }  # fmt: skip
    assert lago.plans.find_all()["meta"]["total_count"] == 2
    again = http.post("/plans", json=plan_body(code="p1"))
    assert again.status_code == 200 and again.json()["plan"]["lago_id"] != deleted.lago_id


def test_plan_metadata_endpoints(lago: Client, http: httpx.Client) -> None:
    http.post("/plans", json=plan_body(metadata={"tier": "a"}))
    assert http.get("/plans/startup").json()["plan"]["metadata"] == {"tier": "a"}
    assert lago.plans.replace_metadata("startup", {"x": "1", "y": None}) == {"x": "1", "y": None}
    assert lago.plans.merge_metadata("startup", {"z": "2"}) == {"x": "1", "y": None, "z": "2"}
    assert lago.plans.delete_metadata_key("startup", "x") == {"y": None, "z": "2"}
    assert lago.plans.delete_all_metadata("startup") is None
    assert "metadata" not in http.get("/plans/startup").json()["plan"]
    missing = http.delete("/plans/startup/metadata/y")
    assert (missing.status_code, missing.json()["code"]) == (404, "metadata_not_found")
