"""The guide's "Assign objects to a customer" and "Monitor the customer's current usage"
walked in Chromium, with JavaScript on and off: assign a plan, apply a coupon, create a
one-off invoice (its total computed by the server), add a wallet and top it up, send events through
the API, then read the Current usage report and the Billing overview and find the API's
figures there. A screenshot of each form and of the final pages lands under
test-output/dashboard/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.dashboard.formats import money, number
from tests.conftest import Org
from tests.dashboard.browser import OUTPUT, chromium, open_page, sign_in  # noqa: F401  (fixture)
from tests.dashboard.conftest import PASSWORD, make_user


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


@pytest.fixture
def api(server: str, org: Org) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {org.api_key}"}
    ) as client:
        yield client


def post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def seed_catalog(api: httpx.Client) -> str:
    """A customer, a plan of two usage charges, a coupon and an add-on (through the API)."""
    customer = {"external_id": "hooli", "name": "Hooli", "timezone": "Europe/Paris"}
    lago_id = post(api, "/customers", {"customer": customer})["customer"]["lago_id"]
    calls = post(api, "/billable_metrics", {"billable_metric": {
        "name": "API calls", "code": "calls", "aggregation_type": "count_agg"}})  # fmt: skip
    storage = post(api, "/billable_metrics", {"billable_metric": {
        "name": "Storage", "code": "storage", "aggregation_type": "sum_agg", "field_name": "gb",
        "filters": [{"key": "region", "values": ["eu", "us"]}]}})  # fmt: skip
    post(api, "/plans", {"plan": {
        "name": "Scale", "code": "scale", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "EUR", "charges": [
            {"billable_metric_id": calls["billable_metric"]["lago_id"],
             "charge_model": "standard", "properties": {"amount": "0.10"}},
            {"billable_metric_id": storage["billable_metric"]["lago_id"],
             "charge_model": "standard", "properties": {"amount": "2"},
             "filters": [{"values": {"region": ["eu"]}, "properties": {"amount": "5"}}]},
        ]}})  # fmt: skip
    post(api, "/coupons", {"coupon": {
        "name": "Welcome", "code": "welcome", "coupon_type": "fixed_amount", "amount_cents": 2_000,
        "amount_currency": "EUR", "frequency": "once", "expiration": "no_expiration"}})  # fmt: skip
    post(api, "/add_ons", {"add_on": {
        "name": "Onboarding", "code": "onboarding", "amount_cents": 15_000,
        "amount_currency": "EUR"}})  # fmt: skip
    return str(lago_id)


def log_in(page: Any, email: str, target: str) -> None:
    sign_in(page, email, PASSWORD, target)


def action(page: Any, name: str) -> None:
    """Actions (upper right of the customer view), then one of its items."""
    page.locator("#customer-actions summary").click()
    page.locator("#customer-actions").get_by_role("link", name=name).click()


def shot(page: Any, request: pytest.FixtureRequest, step: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    page.screenshot(path=str(OUTPUT / f"{name}-{step}.png"), full_page=True)


def flash(page: Any) -> str:
    return str(page.locator(".toast").first.inner_text())


def test_assign_objects_then_monitor_usage(
    page: Any, api: httpx.Client, database: Database, org: Org, request: pytest.FixtureRequest
) -> None:
    javascript = request.node.callspec.params["page"]
    lago_id = seed_catalog(api)
    view = f"/customers/{lago_id}"
    log_in(page, make_user(database, org, f"actions-{org.id.hex[:10]}@example.test"), view)

    # Assign a plan.
    action(page, "Assign a plan")
    page.locator("#f-plan_code").select_option("scale")
    page.locator("#f-name").fill("Production")
    page.locator("#f-external_id").fill("sub-prod")
    page.get_by_text("Anniversary", exact=True).click()
    shot(page, request, "1-assign-plan")
    page.get_by_role("button", name="Assign plan").click()
    page.wait_for_url(f"**{view}")
    assert flash(page) == "Subscription successfully created"

    # Apply a coupon, its amount shown with it; a smaller amount for this customer.
    action(page, "Apply a coupon")
    select = page.locator("#f-coupon_code")
    assert "Welcome · €20.00 once" in select.inner_text()
    select.select_option("welcome")
    if javascript:  # htmx re-renders the form with the coupon's terms
        page.wait_for_selector("text=Terms of this coupon")
    page.locator("#f-amount").fill("15")
    shot(page, request, "2-apply-coupon")
    page.get_by_role("button", name="Apply coupon").click()
    page.wait_for_url(f"**{view}")
    assert flash(page) == "Coupon successfully applied"

    # A one-off invoice: the total is the server's (live with htmx, on demand without).
    action(page, "Create a one-off invoice")
    page.locator("#f-lines-0-add_on_code").select_option("onboarding")
    page.locator("#f-lines-0-units").fill("2")
    page.locator("#f-lines-0-description").fill("Kick-off workshop")
    if javascript:
        page.locator("#f-lines-0-units").dispatch_event("change")
    else:
        page.get_by_role("button", name="Compute total").click()
    from playwright.sync_api import expect

    # 2 × €150.00, no tax.
    expect(page.locator("#invoice-totals [data-total]")).to_have_text("€300.00")
    shot(page, request, "3-one-off-invoice")
    page.get_by_role("button", name="Create one-off invoice").click()
    page.wait_for_url(f"**{view}/invoices")
    assert flash(page) == "One-off invoice successfully created"
    [invoice] = api.get("/invoices", params={"external_customer_id": "hooli"}).json()["invoices"]
    assert (invoice["invoice_type"], invoice["total_amount_cents"]) == ("one_off", 30_000)
    fees = api.get(f"/invoices/{invoice['lago_id']}").json()["invoice"]["fees"]
    assert [(fee["units"], fee["description"]) for fee in fees] == [("2.0", "Kick-off workshop")]

    # Add a wallet with free credits.
    page.goto(view)
    action(page, "Add a wallet / credits")
    page.locator("#f-name").fill("Prepaid")
    page.locator("#f-rate_amount").fill("1")
    page.locator("#f-granted_credits").fill("50")
    shot(page, request, "4-add-wallet")
    page.get_by_role("button", name="Create wallet").click()
    page.wait_for_url(f"**{view}")
    assert flash(page) == "Wallet and top-up successfully created"
    [wallet] = api.get("/wallets", params={"external_customer_id": "hooli"}).json()["wallets"]
    assert wallet["balance_cents"] == 5_000
    # And top it up from the wallets of the Overview.
    page.get_by_role("link", name="Top up").click()
    page.locator("#f-granted_credits").fill("10")
    page.get_by_role("button", name="Top up credits").click()
    page.wait_for_url(f"**{view}")
    assert flash(page) == "Credits successfully added"
    assert api.get(f"/wallets/{wallet['lago_id']}").json()["wallet"]["balance_cents"] == 6_000

    # Events through the API, just after the subscription's start.
    now = int(datetime.now(UTC).timestamp()) + 2
    events = [{"transaction_id": f"call-{i}", "external_subscription_id": "sub-prod",
               "code": "calls", "timestamp": now} for i in range(23)]  # fmt: skip
    events += [{"transaction_id": f"gb-{region}", "external_subscription_id": "sub-prod",
                "code": "storage", "timestamp": now, "properties": {"gb": gb, "region": region}}
               for region, gb in (("eu", "1.5"), ("us", "4"))]  # fmt: skip
    post(api, "/events/batch", {"events": events})

    # The Current usage report in the Analytics tab: the API's figures.
    page.get_by_role("navigation", name="Customer sections").get_by_role(
        "link", name="Analytics"
    ).click()
    page.wait_for_url(f"**{view}/analytics")
    answer = api.get(
        "/customers/hooli/current_usage", params={"external_subscription_id": "sub-prod"}
    )
    usage = answer.json()["customer_usage"]
    # 23 × €0.10 + 1.5 GB × €5 (eu) + 4 GB × €2 = €2.30 + €7.50 + €8.00.
    assert usage["amount_cents"] == 1_780
    block = page.locator('[data-subscription="sub-prod"]')
    assert block.locator("[data-usage-total]").inner_text() == money(1_780, "EUR") == "€17.80"
    for charge in usage["charges_usage"]:
        row = block.locator(f'tr[data-charge="{charge["billable_metric"]["code"]}"]')
        assert row.locator("[data-units]").inner_text() == number(charge["units"])
        assert row.locator("[data-amount]").inner_text() == money(charge["amount_cents"], "EUR")
    block.get_by_text("See breakdown").click()
    assert "region: eu" in block.locator("details.breakdown").inner_text()
    assert block.locator("svg.chart").count() == 2
    shot(page, request, "5-usage-report")

    # The Billing overview: the analytics endpoints' figures for this customer.
    page.get_by_role("link", name="Overview").click()
    page.wait_for_url(f"**{view}")
    gross = api.get("/analytics/gross_revenue", params={"external_customer_id": "hooli"}).json()
    amount = sum(row["amount_cents"] for row in gross["gross_revenues"])
    count = sum(row["invoices_count"] for row in gross["gross_revenues"])
    assert (amount, count) == (30_000, 1)
    card = page.locator("#gross-revenue")
    assert card.locator(".stat-value").inner_text() == "€300.00"
    assert card.locator(".stat-caption").inner_text() == "for 1 invoice"
    overdue = api.get("/analytics/overdue_balance", params={"external_customer_id": "hooli"})
    assert overdue.json()["overdue_balances"] == []
    assert page.locator("#total-overdue .stat-caption").inner_text() == "for 0 invoices"
    assert page.console_errors == []
