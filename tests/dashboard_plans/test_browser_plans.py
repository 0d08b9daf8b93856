"""Build a plan with a graduated and a package charge in the editor, in Chromium, with
JavaScript on (htmx swaps the form) and off (every button posts the page), then read
its price preview. Screenshots of the filled editor and of the plan's page land under
test-output/dashboard/ (LOOK at them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import OUTPUT, chromium, open_page, sign_in  # noqa: F401  (fixture)
from tests.dashboard.conftest import PASSWORD, make_user
from tests.dashboard_plans.conftest import api, metric


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


def fresh_form(page: Any, act: Any) -> None:
    """Do `act` and wait for the form to be a new one (htmx swapped it in, or the page
    was posted and reloaded without JavaScript)."""
    page.evaluate("document.getElementById('plan-form').dataset.stale = '1'")
    act()
    page.wait_for_selector("#plan-form:not([data-stale])")


def press(page: Any, name: str) -> None:
    """Click an editor button and wait for the form to come back."""
    fresh_form(page, lambda: page.get_by_role("button", name=name, exact=True).first.click())


def choose_model(page: Any, charge: int, model: str) -> None:
    """With JavaScript the change itself re-renders the editor; without, Change model."""
    select = page.locator(f'[name="c{charge}.charge_model"]')
    if page.javascript:
        fresh_form(page, lambda: select.select_option(model))
    else:
        select.select_option(model)
        press(page, "Change model")


def real_errors(page: Any) -> list[str]:
    """Console errors, but for the browser's own note of a refused form's 422."""
    return [e for e in page.console_errors if "status of 422" not in e]


def test_build_a_plan_in_the_editor(
    page: Any, database: Database, org: Org, http: httpx.Client
) -> None:
    calls = metric(http, "calls")
    metric(http, "storage", "sum_agg", field_name="gb")
    email = make_user(database, org, f"plans-{org.id.hex[:10]}@example.test")
    sign_in(page, email, PASSWORD, "/plans")
    assert page.get_by_text("Add your first plan").is_visible()
    page.get_by_role("link", name="Add a plan").first.click()
    page.wait_for_url("**/plans/new")

    page.locator('[name="name"]').fill("Scale")
    page.locator('[name="code"]').fill("scale")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_label(re.compile("^Base amount")).fill("49.00")

    page.get_by_label("Add a charge for").select_option(label="Calls (calls)")
    press(page, "Add charge")
    choose_model(page, 0, "graduated")
    page.locator('[name="c0.t0.to_value"]').fill("10")
    page.locator('[name="c0.t0.price"]').fill("1.00")
    press(page, "Add tier")
    assert page.locator('[name="c0.t1.from_value"]').input_value() == "11"
    page.locator('[name="c0.t1.price"]').fill("0.50")

    page.get_by_label("Add a charge for").select_option(label="Storage (storage)")
    press(page, "Add charge")
    choose_model(page, 1, "package")
    page.locator('[name="c1.amount"]').fill("5")
    page.locator('[name="c1.package_size"]').fill("100")
    page.locator('[name="c1.free_units"]').fill("10")
    # What was typed before the last swaps is still there.
    assert page.locator('[name="c0.t0.price"]').input_value() == "1.00"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    mode = "js" if page.javascript else "nojs"
    page.screenshot(path=str(OUTPUT / f"plan_editor_{mode}.png"), full_page=True)

    page.get_by_role("button", name="Add plan", exact=True).click()
    page.wait_for_url(re.compile(r".*/plans/[0-9a-f-]{36}$"))
    assert page.get_by_text("Plan successfully created").is_visible()
    plan = api(http, "GET", "/plans/scale")["plan"]
    assert [c["charge_model"] for c in plan["charges"]] == ["graduated", "package"]
    assert plan["charges"][0]["billable_metric_code"] == "calls"
    assert plan["charges"][0]["lago_billable_metric_id"] == calls

    page.get_by_label("Units", exact=True).fill("250")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*\?units=250$"))
    chosen = page.locator("table.preview tr.chosen")
    # 49.00 + graduated 10 + 240 × 0.50 + package 3 × 5.00.
    assert chosen.inner_text().split() == ["250", "€130.00", "€15.00", "€49.00", "€194.00"]

    page.get_by_role("link", name="Plans", exact=True).first.click()
    page.wait_for_url("**/plans")
    row = page.locator("#plans-results tbody tr").first
    assert row.inner_text().split()[:5] == ["Scale", "scale", "Monthly", "0", "2"]
    page.screenshot(path=str(OUTPUT / f"plans_list_{mode}.png"), full_page=True)
    page.get_by_text("Actions", exact=True).first.click()
    page.get_by_role("link", name="Delete", exact=True).click()
    page.wait_for_url(re.compile(r".*/delete$"))
    assert page.get_by_text("No subscription uses this plan").is_visible()
    page.screenshot(path=str(OUTPUT / f"plan_delete_{mode}.png"), full_page=True)
    page.get_by_role("button", name="Delete plan").click()
    page.wait_for_url("**/plans")
    assert page.get_by_text("Plan successfully deleted").is_visible()
    assert page.get_by_text("Add your first plan").is_visible()
    assert real_errors(page) == []


@pytest.fixture
def js_page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=True)


def test_a_filter_and_a_refusal_in_the_editor(
    js_page: Any, database: Database, org: Org, http: httpx.Client
) -> None:
    page = js_page
    storage = metric(http, "storage", "sum_agg", field_name="gb",
                     filters=[{"key": "region", "values": ["eu", "us"]}])  # fmt: skip
    open_tier = {"from_value": 0, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}
    charge = {"billable_metric_id": storage, "charge_model": "graduated",
              "properties": {"graduated_ranges": [open_tier]}}  # fmt: skip
    plan = api(http, "POST", "/plans", {"plan": {
        "name": "Storage", "code": "storage", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "EUR", "charges": [charge]}})  # fmt: skip
    email = make_user(database, org, f"plans-{org.id.hex[:10]}@example.test")
    target = f"/plans/{plan['plan']['lago_id']}/edit"
    sign_in(page, email, PASSWORD, target)
    press(page, "Add filter")
    page.locator('[name="c0.f0.key.region"][value="eu"]').check()
    page.locator('[name="c0.f0.t0.price"]').fill("0.80")
    # A second tier of the default prices that starts after a gap.
    page.locator('[name="c0.t0.to_value"]').fill("100")
    press(page, "Add tier")
    page.locator('[name="c0.t1.from_value"]').fill("150")
    page.locator('[name="c0.t1.price"]').fill("0.5")
    press(page, "Save plan")
    assert page.get_by_text("Tiers must follow each other").is_visible()
    assert page.get_by_text("The plan was not saved").is_visible()
    assert page.locator('[name="c0.f0.key.region"][value="eu"]').is_checked()
    page.screenshot(path=str(OUTPUT / "plan_editor_refused.png"), full_page=True)
    page.locator('[name="c0.t1.from_value"]').fill("101")
    page.get_by_role("button", name="Save plan", exact=True).click()
    page.wait_for_url(re.compile(r".*/plans/[0-9a-f-]{36}$"))
    charge = api(http, "GET", "/plans/storage")["plan"]["charges"][0]
    filter_tier = {**open_tier, "per_unit_amount": "0.80"}
    assert charge["filters"] == [{"invoice_display_name": None, "values": {"region": ["eu"]},
                                  "properties": {"graduated_ranges": [filter_tier]}}]  # fmt: skip
    assert [r["from_value"] for r in charge["properties"]["graduated_ranges"]] == [0, 101]
    assert real_errors(page) == []


def test_every_charge_model_in_the_editor_and_on_the_plan_page(
    js_page: Any, database: Database, org: Org, http: httpx.Client
) -> None:
    from tests.dashboard_plans.test_plan_form import EVERY_MODEL

    page = js_page
    amount = metric(http, "amount", "sum_agg", field_name="total",
                    filters=[{"key": "region", "values": ["eu", "us"]}])  # fmt: skip
    api(http, "POST", "/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    charges: list[dict[str, Any]] = [
        {"billable_metric_id": amount, "charge_model": model, "properties": properties}
        for model, properties in EVERY_MODEL
    ]
    charges[0].update(min_amount_cents=1_500, tax_codes=["vat"],
                      properties={"amount": "0.05", "pricing_group_keys": ["cloud"]})  # fmt: skip
    charges[1]["filters"] = [{"values": {"region": ["eu"]}, "invoice_display_name": "Europe",
                              "properties": {"amount": "80", "package_size": 10,
                                             "free_units": 0}}]  # fmt: skip
    plan = api(http, "POST", "/plans", {"plan": {
        "name": "Everything", "code": "everything", "interval": "yearly", "amount_cents": 120_000,
        "amount_currency": "USD", "trial_period": 14, "tax_codes": ["vat"],
        "minimum_commitment": {"amount_cents": 500_000}, "charges": charges}})["plan"]  # fmt: skip
    email = make_user(database, org, f"plans-{org.id.hex[:10]}@example.test")
    target = f"/plans/{plan['lago_id']}"
    sign_in(page, email, PASSWORD, target)
    text = page.locator("main").inner_text()
    assert "1.3% of the value, plus $2.00 per transaction" in text
    assert "Europe: region = eu" in text
    assert "Minimum spend $15.00 per period · priced per group of cloud · taxes VAT" in text
    page.screenshot(path=str(OUTPUT / "plan_page_every_model.png"), full_page=True)
    page.goto(target + "/edit")
    assert page.locator('[name="c5.rate"]').input_value() == "1.3"
    assert page.locator('[name="c0.grouped_by"]').is_visible()
    assert page.locator('[name="c0.tax_codes"][value="vat"]').is_checked()
    page.screenshot(path=str(OUTPUT / "plan_editor_every_model.png"), full_page=True)
    assert real_errors(page) == []
