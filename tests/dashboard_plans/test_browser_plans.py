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
from tests.dashboard.browser import OUTPUT, chromium, open_page  # noqa: F401  (fixture)
from tests.dashboard.conftest import PASSWORD, make_user
from tests.dashboard_plans.conftest import api, metric


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


def press(page: Any, name: str) -> None:
    """Click an editor button and wait for the form to come back."""
    page.get_by_role("button", name=name, exact=True).first.click()
    page.wait_for_load_state("networkidle")


def test_build_a_plan_in_the_editor(
    page: Any, database: Database, org: Org, http: httpx.Client
) -> None:
    calls = metric(http, "calls")
    metric(http, "storage", "sum_agg", field_name="gb")
    email = make_user(database, org, f"plans-{org.id.hex[:10]}@example.test")
    page.goto("/plans")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/plans")
    assert page.get_by_text("Add your first plan").is_visible()
    page.get_by_role("link", name="Add a plan").first.click()
    page.wait_for_url("**/plans/new")

    page.locator('[name="name"]').fill("Scale")
    page.locator('[name="code"]').fill("scale")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_label(re.compile("^Base amount")).fill("49.00")

    page.get_by_label("Add a charge for").select_option(label="Calls (calls)")
    press(page, "Add charge")
    model = page.locator('[name="c0.charge_model"]')
    model.select_option("graduated")
    if not page.javascript:  # with JavaScript the change itself re-renders the editor
        press(page, "Change model")
    page.locator('[name="c0.t0.to_value"]').fill("10")
    page.locator('[name="c0.t0.price"]').fill("1.00")
    press(page, "Add tier")
    assert page.locator('[name="c0.t1.from_value"]').input_value() == "11"
    page.locator('[name="c0.t1.price"]').fill("0.50")

    page.get_by_label("Add a charge for").select_option(label="Storage (storage)")
    press(page, "Add charge")
    page.locator('[name="c1.charge_model"]').select_option("package")
    if not page.javascript:
        press(page, "Change model")
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
    assert page.console_errors == []
