"""Every refusal of the plan endpoints: Lago's status and body, and nothing written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.factories import make_metric

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


@pytest.fixture
def metric_ids(database: Database, org: Org) -> dict[str, str]:
    return {
        "count": make_metric(database, org.id, "calls", "count_agg"),
        "sum": make_metric(database, org.id, "gb", "sum_agg", filters={"region": ["us", "eu"]}),
        "max": make_metric(database, org.id, "peak", "max_agg"),
        "latest": make_metric(database, org.id, "last", "latest_agg"),
        "recurring": make_metric(database, org.id, "seats", "unique_count_agg", recurring=True),
        "weighted": make_metric(database, org.id, "level", "weighted_sum_agg", recurring=True),
    }


def plan(**overrides: Any) -> dict[str, Any]:
    base = {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 100,
            "amount_currency": "EUR"}  # fmt: skip
    return {"plan": {**base, **overrides}}


def nothing_written(http: httpx.Client) -> None:
    assert http.get("/plans").json()["meta"]["total_count"] == 0


@pytest.mark.parametrize(
    ("overrides", "details"),
    [
        ({"name": None}, {"name": ["value_is_mandatory"]}),
        ({"code": ""}, {"code": ["value_is_mandatory"]}),
        ({"interval": "daily"}, {"interval": ["value_is_invalid"]}),
        ({"interval": None}, {"interval": ["value_is_invalid"]}),
        ({"amount_cents": -1}, {"amount_cents": ["value_is_out_of_range"]}),
        ({"amount_cents": None}, {"amount_cents": ["value_is_mandatory"]}),
        ({"amount_cents": "ten"}, {"amount_cents": ["value_is_invalid"]}),
        ({"amount_currency": "eur"}, {"amount_currency": ["value_is_invalid"]}),
        ({"trial_period": -1}, {"trial_period": ["value_is_out_of_range"]}),
        ({"pay_in_advance": "yes"}, {"pay_in_advance": ["value_is_invalid"]}),
        ({"charges": {"a": 1}}, {"charges": ["value_is_invalid"]}),
        ({"minimum_commitment": {"amount_cents": -5}}, {"amount_cents": ["value_is_out_of_range"]}),
        ({"metadata": {"a": 1}}, {"metadata": ["value_is_invalid"]}),
    ],
)
def test_invalid_plan_fields(
    http: httpx.Client, overrides: dict[str, Any], details: dict[str, Any]
) -> None:
    response = http.post("/plans", json=plan(**overrides))
    assert response.status_code == 422, response.text
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    nothing_written(http)


def test_missing_required_fields_are_all_reported(http: httpx.Client) -> None:
    response = http.post("/plans", json={"plan": {"description": "only"}})
    assert response.json()["error_details"] == {
        "name": ["value_is_mandatory"],
        "code": ["value_is_mandatory"],
        "interval": ["value_is_invalid"],
        "amount_currency": ["value_is_invalid"],
        "amount_cents": ["value_is_mandatory"],
    }


@pytest.mark.parametrize(
    ("metric", "charge", "details"),
    [
        ("count", {"charge_model": "flat"}, {"charge_model": ["value_is_invalid"]}),
        ("count", {"charge_model": "standard", "properties": {"amount": 5}},
         {"properties": ["invalid_amount"]}),
        ("count", {"charge_model": "standard", "properties": {"amount": "-1"}},
         {"properties": ["invalid_amount"]}),
        ("count", {"charge_model": "graduated", "properties": {"graduated_ranges": []}},
         {"properties": ["missing_graduated_ranges"]}),
        ("count", {"charge_model": "volume", "properties": {"volume_ranges": [
            {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
            {"from_value": 50, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}},
         {"properties": ["invalid_volume_ranges"]}),
        ("max", {"charge_model": "standard", "pay_in_advance": True},
         {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}),
        ("count", {"charge_model": "volume", "pay_in_advance": True},
         {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}),
        ("count", {"charge_model": "standard", "invoiceable": False},
         {"invoiceable": ["must_be_true_unless_pay_in_advance"]}),
        ("count", {"charge_model": "standard", "regroup_paid_fees": "invoice"},
         {"regroup_paid_fees": ["only_compatible_with_pay_in_advance_and_non_invoiceable"]}),
        ("count", {"charge_model": "standard", "pay_in_advance": True, "min_amount_cents": 10},
         {"min_amount_cents": ["not_compatible_with_pay_in_advance"]}),
        ("count", {"charge_model": "standard", "min_amount_cents": -1},
         {"min_amount_cents": ["value_is_out_of_range"]}),
        ("count", {"charge_model": "standard", "prorated": True},
         {"prorated": ["invalid_billable_metric_or_charge_model"]}),
        ("recurring", {"charge_model": "package", "prorated": True},
         {"prorated": ["invalid_billable_metric_or_charge_model"]}),
        ("weighted", {"charge_model": "standard", "prorated": True},
         {"prorated": ["invalid_billable_metric_or_charge_model"]}),
        ("count", {"charge_model": "dynamic"},
         {"charge_model": ["invalid_aggregation_type_or_charge_model"]}),
        ("latest", {"charge_model": "percentage", "properties": {"rate": "1"}},
         {"billable_metric": ["invalid_value"]}),
        ("sum", {"charge_model": "standard", "filters": [
            {"values": {"region": ["mars"]}, "properties": {"amount": "1"}}]},
         {"values": ["value_is_invalid"]}),
        ("sum", {"charge_model": "standard", "filters": [
            {"values": {"planet": ["earth"]}, "properties": {"amount": "1"}}]},
         {"values": ["value_is_invalid"]}),
        ("sum", {"charge_model": "standard", "filters": [{"values": {}}]},
         {"values": ["value_is_invalid"]}),
    ],
)  # fmt: skip
def test_invalid_charges(
    http: httpx.Client,
    metric_ids: dict[str, str],
    metric: str,
    charge: dict[str, Any],
    details: dict[str, Any],
) -> None:
    response = http.post(
        "/plans", json=plan(charges=[{"billable_metric_id": metric_ids[metric], **charge}])
    )
    assert response.status_code == 422, response.text
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    nothing_written(http)


def test_allowed_combinations(http: httpx.Client, metric_ids: dict[str, str]) -> None:
    charges = [
        {"billable_metric_id": metric_ids["recurring"], "charge_model": "standard",
         "pay_in_advance": True, "invoiceable": False, "prorated": True,
         "regroup_paid_fees": "invoice", "properties": {"amount": "30"}},
        {"billable_metric_id": metric_ids["recurring"], "charge_model": "graduated",
         "prorated": True},
        {"billable_metric_id": metric_ids["sum"], "charge_model": "dynamic"},
    ]  # fmt: skip
    response = http.post("/plans", json=plan(charges=charges))
    assert response.status_code == 200, response.text


def test_unknown_references_are_404(http: httpx.Client, metric_ids: dict[str, str]) -> None:
    for charges, code in (
        ([{"billable_metric_id": "00000000-0000-0000-0000-000000000000",
           "charge_model": "standard"}], "billable_metric_not_found"),
        ([{"billable_metric_id": "not-a-uuid", "charge_model": "standard"}],
         "billable_metric_not_found"),
        ([{"billable_metric_id": metric_ids["count"], "charge_model": "standard",
           "tax_codes": ["nope"]}], "tax_not_found"),
    ):  # fmt: skip
        response = http.post("/plans", json=plan(charges=charges))
        assert response.status_code == 404
        assert response.json() == {"status": 404, "error": "Not Found", "code": code}
    response = http.post("/plans", json=plan(tax_codes=["nope"]))
    assert response.json()["code"] == "tax_not_found"
    nothing_written(http)


def test_duplicate_codes(http: httpx.Client, metric_ids: dict[str, str]) -> None:
    http.post("/plans", json=plan())
    duplicate = http.post("/plans", json=plan(name="Other"))
    assert duplicate.json() == {**UNPROCESSABLE, "error_details": {"code": ["value_already_exist"]}}
    same_charge_code = http.post(
        "/plans",
        json=plan(code="q", charges=[
            {"billable_metric_id": metric_ids["count"], "charge_model": "standard", "code": "c"},
            {"billable_metric_id": metric_ids["sum"], "charge_model": "standard", "code": "c"},
        ]),
    )  # fmt: skip
    assert same_charge_code.json()["error_details"] == {"code": ["value_already_exist"]}
    assert http.get("/plans/q").status_code == 404


def test_failed_update_changes_nothing(http: httpx.Client, metric_ids: dict[str, str]) -> None:
    http.post("/plans", json=plan(charges=[
        {"billable_metric_id": metric_ids["count"], "charge_model": "standard",
         "properties": {"amount": "1"}}]))  # fmt: skip
    response = http.put(
        "/plans/p",
        json={"plan": {"name": "Renamed", "charges": [
            {"billable_metric_id": metric_ids["max"], "charge_model": "standard",
             "pay_in_advance": True}]}},
    )  # fmt: skip
    assert response.status_code == 422
    after = http.get("/plans/p").json()["plan"]
    assert after["name"] == "P"
    assert [c["billable_metric_code"] for c in after["charges"]] == ["calls"]


def test_unknown_plan_charge_and_roots(http: httpx.Client) -> None:
    for method, path in (("GET", "/plans/nope"), ("PUT", "/plans/nope"),
                         ("DELETE", "/plans/nope"), ("GET", "/plans/nope/charges")):  # fmt: skip
        response = http.request(method, path, json={"plan": {"name": "x"}})
        assert response.json() == {"status": 404, "error": "Not Found", "code": "plan_not_found"}
    http.post("/plans", json=plan())
    assert http.get("/plans/p/charges/nope").json()["code"] == "charge_not_found"
    assert http.post("/plans", json={"name": "x"}).json() == {
        "status": 400,
        "error": "BadRequest: param is missing or the value is empty or invalid: plan",
    }
