"""Add a plan / Edit a plan over HTTP, on both databases: the editor's buttons post the
form back with a row added (no JavaScript needed), Save goes through the API's parser
and plan service, and what the API then returns is exactly what was typed. Refusals are
the form again with status 422, every row kept, the reason under the row, nothing
written."""

from __future__ import annotations

import httpx

from tests.dashboard_plans.conftest import (
    PlanForm,
    Web,
    api,
    metric,
    open_form,
    text_of,
)


def _plan_settings(form: PlanForm, code: str = "scale") -> None:
    form.set("name", "Scale").set("code", code).set("interval", "monthly")
    form.set("amount_currency", "EUR").set("amount", "49.00")


def _graduated_and_package(form: PlanForm, calls: str, storage: str) -> None:
    """Two charges built with the editor's buttons, as a person without JavaScript."""
    form.set("new_charge_metric", calls).press("add_charge")
    assert form.value("c0.billable_metric_id") == calls
    assert form.value("c0.charge_model") == "standard"
    form.set("c0.charge_model", "graduated").press("refresh")
    # Lago's default for a tier model: one open tier from 0.
    assert [form.value(f"c0.t0.{k}") for k in ("from_value", "to_value", "price")] == [
        "0", "", "0",
    ]  # fmt: skip
    form.set("c0.t0.to_value", "10").set("c0.t0.price", "1.00")
    form.press("add_tier:c0")
    # The new tier starts one after the previous one's end, and what was typed stays.
    assert form.value("c0.t1.from_value") == "11"
    assert form.value("c0.t0.price") == "1.00"
    form.set("c0.t1.price", "0.50")
    form.set("new_charge_metric", storage).press("add_charge")
    form.set("c1.charge_model", "package").press("refresh")
    form.set("c1.amount", "5").set("c1.package_size", "100").set("c1.free_units", "10")


def test_build_a_plan_with_a_graduated_and_a_package_charge(web: Web, http: httpx.Client) -> None:
    calls = metric(http, "calls")
    storage = metric(http, "storage", "sum_agg", field_name="gb")
    form = open_form(web, "/plans/new")
    _plan_settings(form)
    _graduated_and_package(form, calls, storage)
    response = form.press("save", expect=303)
    plan = api(http, "GET", "/plans/scale")["plan"]
    assert response.headers["location"] == f"/plans/{plan['lago_id']}"
    assert {k: plan[k] for k in ("name", "code", "interval", "amount_cents", "amount_currency",
                                 "pay_in_advance", "trial_period", "minimum_commitment",
                                 "taxes", "description")} == {
        "name": "Scale", "code": "scale", "interval": "monthly", "amount_cents": 4_900,
        "amount_currency": "EUR", "pay_in_advance": False, "trial_period": None,
        "minimum_commitment": None, "taxes": [], "description": None,
    }  # fmt: skip
    charges = [
        {k: charge[k] for k in ("billable_metric_code", "charge_model", "properties", "filters",
                                "pay_in_advance", "invoiceable", "prorated", "min_amount_cents",
                                "taxes")}
        for charge in plan["charges"]
    ]  # fmt: skip
    assert charges == [
        {
            "billable_metric_code": "calls", "charge_model": "graduated",
            "properties": {"graduated_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1.00", "flat_amount": "0"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "0.50",
                 "flat_amount": "0"},
            ]},
            "filters": [], "pay_in_advance": False, "invoiceable": True, "prorated": False,
            "min_amount_cents": 0, "taxes": [],
        },
        {
            "billable_metric_code": "storage", "charge_model": "package",
            "properties": {"amount": "5", "package_size": 100, "free_units": 10},
            "filters": [], "pay_in_advance": False, "invoiceable": True, "prorated": False,
            "min_amount_cents": 0, "taxes": [],
        },
    ]  # fmt: skip
    page = web.get(response.headers["location"])
    assert "Plan successfully created" in text_of(page.text)
