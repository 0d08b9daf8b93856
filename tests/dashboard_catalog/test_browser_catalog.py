"""The catalogue in Chromium, JavaScript on and off: add a billable metric with a filter
after checking its expression, then an add-on; screenshots of the form and the list land
under test-output/dashboard/ (LOOK at them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import OUTPUT, chromium, open_page, sign_in  # noqa: F401  (fixture)
from tests.dashboard.conftest import PASSWORD, make_user
from tests.dashboard_catalog.conftest import api


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


def test_add_a_metric_with_a_filter_after_checking_its_expression(
    page: Any, database: Database, org: Org, http: httpx.Client
) -> None:
    mode = "js" if page.javascript else "nojs"
    email = make_user(database, org, f"catalog-{org.id.hex[:10]}@example.test")
    sign_in(page, email, PASSWORD, "/billable-metrics")
    assert page.get_by_text("Add your first billable metric").is_visible()
    page.get_by_role("link", name="Add a billable metric").first.click()
    page.wait_for_url("**/billable-metrics/new")

    page.get_by_label("Name").fill("Call minutes")
    page.get_by_label("Code").fill("minutes")
    page.get_by_label("Aggregation type").select_option("sum_agg")
    page.get_by_label("Property to aggregate").fill("duration")
    page.get_by_label("Expression", exact=True).fill("round(event.properties.duration / 60)")
    page.get_by_label("Properties to test it on (JSON)").fill('{"duration": 125}')
    page.get_by_role("button", name="Check expression").click()
    page.get_by_text("Result:").wait_for()
    assert page.locator(".check-result").inner_text() == "Result: 2"
    page.get_by_label("Key 1").fill("region")
    page.get_by_label("Values 1 (separated by commas)").fill("eu, us")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"catalog_metric_form_{mode}.png"), full_page=True)
    page.get_by_role("button", name="Add billable metric").click()
    page.wait_for_url("**/billable-metrics")
    assert page.get_by_role("status").first.inner_text() == "Billable metric “Call minutes” added"
    metric = api(http, "GET", "/billable_metrics/minutes")["billable_metric"]
    assert (metric["expression"], metric["filters"]) == (
        "round(event.properties.duration / 60)",
        [{"key": "region", "values": ["eu", "us"]}],
    )

    page.goto("/add-ons/new")
    page.locator('[name="name"]').fill("Onboarding workshop")
    page.get_by_label("Code").fill("workshop")
    page.get_by_label("Amount").fill("abc")
    page.get_by_role("button", name="Add add-on").click()
    assert page.get_by_text("This value is not valid.").is_visible()
    page.get_by_label("Amount").fill("750")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_role("button", name="Add add-on").click()
    page.wait_for_url("**/add-ons")
    assert "One-time charge of €750.00" in page.locator("table").inner_text()
    page.screenshot(path=str(OUTPUT / f"catalog_add_ons_{mode}.png"), full_page=True)
    assert [e for e in page.console_errors if "status of 422" not in e] == []
