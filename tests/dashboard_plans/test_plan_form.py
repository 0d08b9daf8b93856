"""Add a plan / Edit a plan over HTTP, on both databases: the editor's buttons post the
form back with a row added (no JavaScript needed), Save goes through the API's parser
and plan service, and what the API then returns is exactly what was typed. Refusals are
the form again with status 422, every row kept, the reason under the row, nothing
written."""

from __future__ import annotations

import html

import httpx

from tests.dashboard_plans.conftest import (
    Json,
    PlanForm,
    Web,
    api,
    error_under,
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


def _api_plan(http: httpx.Client, code: str) -> Json:
    plan = api(http, "GET", f"/plans/{code}")["plan"]
    for charge in plan["charges"]:
        charge.pop("created_at")
    if plan["minimum_commitment"]:
        # Saving the form rewrites the commitment (same amount, a new updated_at).
        plan["minimum_commitment"].pop("updated_at")
    return plan


EVERY_MODEL: list[tuple[str, Json]] = [
    ("standard", {"amount": "0.05"}),
    ("package", {"amount": "100", "package_size": 10, "free_units": 2}),
    ("graduated", {"graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
        {"from_value": 10, "to_value": None, "per_unit_amount": "5.5", "flat_amount": "0"}]}),
    ("volume", {"volume_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
        {"from_value": 101, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}),
    ("graduated_percentage", {"graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "200"},
        {"from_value": 11, "to_value": None, "rate": "0.5", "flat_amount": "0"}]}),
    ("percentage", {"rate": "1.3", "fixed_amount": "2.0", "free_units_per_events": 3,
                    "free_units_per_total_aggregation": "250.0",
                    "per_transaction_min_amount": "1.75", "per_transaction_max_amount": "12"}),
    ("dynamic", {}),
]  # fmt: skip


def test_every_charge_model_comes_back_on_the_edit_page(web: Web, http: httpx.Client) -> None:
    """A plan made through the API, opened in the editor and saved untouched, is the same
    plan: every property, filter, grouping, flag and tax went through the form and back."""
    amount = metric(http, "amount", "sum_agg", field_name="total",
                    filters=[{"key": "region", "values": ["eu", "us"]},
                             {"key": "tier", "values": ["gold", "free"]}])  # fmt: skip
    api(http, "POST", "/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    charges = [
        {"billable_metric_id": amount, "charge_model": model, "properties": properties}
        for model, properties in EVERY_MODEL
    ]
    charges[0]["properties"] = {"amount": "0.05", "pricing_group_keys": ["cloud", "zone"]}
    charges[0].update(min_amount_cents=1_500, tax_codes=["vat"], invoice_display_name="Calls")
    charges[1]["filters"] = [
        {"values": {"region": ["eu"], "tier": ["__ALL_FILTER_VALUES__"]},
         "invoice_display_name": "Europe",
         "properties": {"amount": "80", "package_size": 10, "free_units": 0}},
    ]  # fmt: skip
    charges[2]["filters"] = [
        {
            "values": {"region": ["us"]},
            "properties": {
                "graduated_ranges": [
                    {"from_value": 0, "to_value": None, "per_unit_amount": "3", "flat_amount": "1"}
                ]
            },
        }
    ]
    charges[6]["pay_in_advance"] = True
    charges[6]["invoiceable"] = False
    api(http, "POST", "/plans", {"plan": {
        "name": "Everything", "code": "everything", "interval": "yearly", "amount_cents": 120_000,
        "amount_currency": "USD", "pay_in_advance": True, "trial_period": 14.5,
        "description": "All models", "invoice_display_name": "Every model", "tax_codes": ["vat"],
        "bill_charges_monthly": True, "minimum_commitment": {"amount_cents": 500_000},
        "charges": charges}})  # fmt: skip
    before = _api_plan(http, "everything")
    form = open_form(web, f"/plans/{before['lago_id']}/edit")
    # What the editor shows: a few of the values, in the inputs a person reads.
    assert form.value("amount") == "1200.00"
    assert form.value("trial_period") == "14.5"
    assert form.value("commitment_amount") == "5000.00"
    assert form.value("bill_charges_monthly") == "on"
    assert form.value("c0.grouped_by") == "cloud, zone"
    assert form.value("c0.min_amount") == "15.00"
    assert form.value("c1.package_size") == "10"
    assert form.value("c1.f0.amount") == "80"
    assert form.value("c1.f0.invoice_display_name") == "Europe"
    assert form.value("c1.f0.key.tier") == "__ALL_FILTER_VALUES__"
    assert [form.value(f"c2.t1.{k}") for k in ("from_value", "to_value", "price")] == [
        "10", "", "5.5"
    ]  # fmt: skip
    assert form.value("c2.f0.t0.flat_amount") == "1"
    assert form.value("c4.t0.price") == "1"
    assert form.value("c5.per_transaction_max_amount") == "12"
    assert form.value("c6.pay_in_advance") == "on" and form.value("c6.invoiceable") is None
    form.press("save", expect=303)
    after = _api_plan(http, "everything")
    assert after == before


def test_tiers_with_a_gap_or_an_overlap_are_refused_under_the_tiers(
    web: Web, http: httpx.Client
) -> None:
    calls = metric(http, "calls")
    form = open_form(web, "/plans/new")
    _plan_settings(form)
    form.set("new_charge_metric", calls).press("add_charge")
    form.set("c0.charge_model", "graduated").press("refresh")
    form.set("c0.t0.to_value", "10").set("c0.t0.price", "1").press("add_tier:c0")
    words = (
        "Tiers must follow each other: the first starts at 0, each next one starts at the "
        "previous tier's end (or one after it), every tier ends after it starts, and only "
        "the last one is left open (no end)."
    )
    for start in ("15", "5"):  # a gap, then an overlap
        form.set("c0.t1.from_value", start).set("c0.t1.price", "0.5")
        response = form.press("save", expect=422)
        assert words in html.unescape(text_of(response.text))
        # Every typed value is kept.
        assert form.value("c0.t1.from_value") == start
        assert form.value("c0.t0.price") == "1"
        assert form.value("name") == "Scale"
    assert api(http, "GET", "/plans")["plans"] == []


def test_a_charge_without_a_metric_and_a_taken_code_are_refused(
    web: Web, http: httpx.Client
) -> None:
    calls = metric(http, "calls")
    form = open_form(web, "/plans/new")
    _plan_settings(form)
    form.set("new_charge_metric", "").press("add_charge")
    form.set("c0.amount", "2")
    response = form.press("save", expect=422)
    assert error_under(response.text, "c0.billable_metric_id") == "Choose a billable metric."
    assert form.value("c0.amount") == "2"
    assert api(http, "GET", "/plans")["plans"] == []

    taken = {"name": "Taken", "code": "scale", "interval": "monthly", "amount_cents": 0,
             "amount_currency": "EUR"}  # fmt: skip
    api(http, "POST", "/plans", {"plan": taken})
    form.set("c0.billable_metric_id", calls)
    response = form.press("save", expect=422)
    assert error_under(response.text, "code") == "A plan with this code already exists."
    plans = api(http, "GET", "/plans")["plans"]
    assert [(plan["name"], plan["charges"]) for plan in plans] == [("Taken", [])]


def test_amounts_and_flags_the_api_refuses_are_explained_under_their_inputs(
    web: Web, http: httpx.Client
) -> None:
    calls = metric(http, "calls")
    form = open_form(web, "/plans/new")
    _plan_settings(form)
    form.set("amount", "12.345")
    response = form.press("save", expect=422)
    assert error_under(response.text, "amount") == (
        "This amount has more decimals than the currency allows."
    )
    form.set("amount", "12.34").set("new_charge_metric", calls).press("add_charge")
    form.set("c0.charge_model", "package").press("refresh")
    form.set("c0.package_size", "0").set("c0.amount", "-1")
    response = form.press("save", expect=422)
    assert error_under(response.text, "c0.package_size") == (
        "Enter a whole number of units of 1 or more."
    )
    assert error_under(response.text, "c0.amount") == "Enter an amount of 0 or more, such as 0.50."
    form.set("c0.package_size", "10").set("c0.amount", "1").set("c0.invoiceable", [])
    response = form.press("save", expect=422)
    assert error_under(response.text, "c0.invoiceable") == (
        "Only a charge paid in advance can be left off the invoice."
    )
    assert api(http, "GET", "/plans")["plans"] == []


def test_changing_the_model_without_applying_it_is_not_saved(web: Web, http: httpx.Client) -> None:
    calls = metric(http, "calls")
    form = open_form(web, "/plans/new")
    _plan_settings(form)
    form.set("new_charge_metric", calls).press("add_charge")
    form.set("c0.charge_model", "volume")
    response = form.press("save", expect=422)
    assert error_under(response.text, "c0.charge_model") == (
        "The model changed: fill in its prices, then save."
    )
    # The volume editor is now shown, with Lago's default open tier.
    assert form.value("c0.t0.from_value") == "0"
    form.set("c0.t0.price", "2")
    form.press("save", expect=303)
    charge = api(http, "GET", "/plans/scale")["plan"]["charges"][0]
    assert charge["charge_model"] == "volume"
    tier = {"from_value": 0, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"}
    assert charge["properties"] == {"volume_ranges": [tier]}


def test_editing_removes_a_charge_and_adds_a_filter(web: Web, http: httpx.Client) -> None:
    calls = metric(http, "calls")
    region = metric(http, "storage", "sum_agg", field_name="gb",
                    filters=[{"key": "region", "values": ["eu", "us"]}])  # fmt: skip
    form = open_form(web, "/plans/new")
    _plan_settings(form)
    form.set("new_charge_metric", calls).press("add_charge")
    form.set("new_charge_metric", region).press("add_charge")
    form.set("c1.amount", "2")
    response = form.press("save", expect=303)
    edit = open_form(web, response.headers["location"] + "/edit")
    edit.press("remove_charge:0")
    edit.press("add_filter:0")
    edit.set("c0.f0.key.region", ["eu"]).set("c0.f0.amount", "3")
    edit.press("save", expect=303)
    charges = api(http, "GET", "/plans/scale")["plan"]["charges"]
    assert [(c["billable_metric_code"], c["properties"], c["filters"]) for c in charges] == [
        ("storage", {"amount": "2"}, [{"invoice_display_name": None,
                                       "properties": {"amount": "3"},
                                       "values": {"region": ["eu"]}}]),
    ]  # fmt: skip


def test_charge_rules_are_explained_under_the_row_that_broke_them(
    web: Web, http: httpx.Client
) -> None:
    calls = metric(http, "calls")
    form = open_form(web, "/plans/new")
    _plan_settings(form)
    form.set("new_charge_metric", calls).press("add_charge")
    form.set("new_charge_metric", calls).press("add_charge")
    form.set("c1.charge_model", "dynamic").press("refresh")
    response = form.press("save", expect=422)
    # The first charge is fine: the second one's row carries the reason.
    assert error_under(response.text, "c1.charge_model") == "The dynamic model needs a sum metric."
    assert "f-c0-charge_model-error" not in response.text
    form.set("c1.charge_model", "standard").press("refresh")
    form.set("c1.prorated", "on")
    response = form.press("save", expect=422)
    assert error_under(response.text, "c1.prorated") == (
        "Only a recurring metric can be prorated, with the standard, volume or graduated "
        "model (standard only when paid in advance)."
    )
    form.set("c1.prorated", []).set("c1.pay_in_advance", "on").set("c1.min_amount", "5")
    response = form.press("save", expect=422)
    assert error_under(response.text, "c1.min_amount") == (
        "A charge paid in advance cannot have a minimum amount."
    )
    assert api(http, "GET", "/plans")["plans"] == []
    form.set("c1.min_amount", "")
    form.press("save", expect=303)
    charges = api(http, "GET", "/plans/scale")["plan"]["charges"]
    assert [(c["code"], c["pay_in_advance"]) for c in charges] == [
        ("calls", False), ("calls_2", True),
    ]  # fmt: skip
