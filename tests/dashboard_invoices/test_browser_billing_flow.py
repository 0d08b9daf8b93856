"""Billing without the API, in Chromium (JavaScript on and off): build a plan with a
graduated and a package charge in the editor, subscribe a customer to it from the
customer's Actions, send usage, let the period end, and finalize the draft invoice from
its page; every figure is checked against the API's invoice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import chromium, open_page  # noqa: F401  (fixture)
from tests.dashboard.conftest import make_user
from tests.dashboard_actions.conftest import api
from tests.dashboard_actions.test_browser_actions import action, flash, log_in, shot
from tests.dashboard_invoices.conftest import run_clock
from tests.dashboard_plans.test_browser_plans import choose_model, press


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


def test_plan_from_the_editor_to_a_finalized_invoice(
    page: Any, database: Database, org: Org, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    for code in ("calls", "uploads"):
        body = {"name": code.title(), "code": code, "aggregation_type": "count_agg"}
        api(http, "POST", "/billable_metrics", {"billable_metric": body})
    customer = {"external_id": "hooli", "name": "Hooli", "currency": "EUR",
                "timezone": "UTC", "invoice_grace_period": 3}  # fmt: skip
    hooli = api(http, "POST", "/customers", {"customer": customer})["customer"]
    log_in(page, make_user(database, org, f"flow-{org.id.hex[:10]}@example.test"), "/plans/new")

    # The plan: €49 a month; calls graduated (first 10 at €1.00, then €0.50), uploads by
    # packages of 10 at €5.00 after 5 free units.
    page.locator('[name="name"]').fill("Scale")
    page.locator('[name="code"]').fill("scale")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_label("Base amount", exact=False).first.fill("49.00")
    page.get_by_label("Add a charge for").select_option(label="Calls (calls)")
    press(page, "Add charge")
    choose_model(page, 0, "graduated")
    page.locator('[name="c0.t0.to_value"]').fill("10")
    page.locator('[name="c0.t0.price"]').fill("1.00")
    press(page, "Add tier")
    page.locator('[name="c0.t1.price"]').fill("0.50")
    page.get_by_label("Add a charge for").select_option(label="Uploads (uploads)")
    press(page, "Add charge")
    choose_model(page, 1, "package")
    page.locator('[name="c1.amount"]').fill("5")
    page.locator('[name="c1.package_size"]').fill("10")
    page.locator('[name="c1.free_units"]').fill("5")
    page.get_by_role("button", name="Add plan", exact=True).click()
    page.get_by_text("Plan successfully created").wait_for()

    # Subscribe the customer from its Actions, billed on the anniversary of today.
    page.goto(f"/customers/{hooli['lago_id']}")
    action(page, "Assign a plan")
    page.locator("#f-plan_code").select_option("scale")
    page.locator("#f-external_id").fill("hooli-sub")
    page.get_by_text("Anniversary", exact=True).click()
    page.get_by_role("button", name="Assign plan").click()
    page.get_by_text("Subscription successfully created").wait_for()
    subscription = api(http, "GET", "/subscriptions/hooli-sub")["subscription"]
    assert (subscription["plan_code"], subscription["billing_time"]) == ("scale", "anniversary")

    # Usage in the period, then the period ends: a draft for 3 days of grace.
    started = datetime.fromisoformat(subscription["started_at"].replace("Z", "+00:00"))
    moments = [started + timedelta(minutes=1 + n) for n in range(40)]
    codes = ["calls"] * 15 + ["uploads"] * 25
    events = [
        {"transaction_id": f"e{n}", "code": code, "external_subscription_id": "hooli-sub",
         "timestamp": moments[n].timestamp()}
        for n, code in enumerate(codes)
    ]  # fmt: skip
    api(http, "POST", "/events/batch", {"events": events})
    period_end = datetime.fromisoformat(
        subscription["current_billing_period_ending_at"].replace("Z", "+00:00")
    )
    run_clock(database, org, "hooli", period_end + timedelta(hours=1))
    [draft] = api(http, "GET", "/invoices?status=draft&external_customer_id=hooli")["invoices"]

    page.goto("/invoices?status=draft")
    page.get_by_role("link", name=draft["number"]).click()
    page.wait_for_url(f"**/invoices/{draft['lago_id']}")
    details = page.locator("section.invoice-details").inner_text()
    # Calls: 10 × €1.00 + 5 × €0.50 = €12.50; uploads: 25 − 5 free = 20 = 2 packages, €10.00.
    for line in ("Fee per unit for the first 10", "Fee per package", "€12.50", "€10.00"):
        assert line in details, line
    shot(page, request, "draft")
    page.locator("#invoice-actions summary").click()
    page.locator("#invoice-actions").get_by_role("link", name="Finalize invoice").click()
    page.get_by_role("button", name="Finalize invoice").click()
    page.wait_for_url(f"**/invoices/{draft['lago_id']}")
    assert flash(page) == "Invoice successfully finalized"
    invoice = api(http, "GET", f"/invoices/{draft['lago_id']}")["invoice"]
    # €49.00 + €12.50 + €10.00, no tax.
    assert (invoice["status"], invoice["total_amount_cents"]) == ("finalized", 7_150)
    assert "€71.50" in page.locator("#invoice-totals").inner_text()
    shot(page, request, "finalized")
    assert [e for e in page.console_errors if "status of 422" not in e] == []
