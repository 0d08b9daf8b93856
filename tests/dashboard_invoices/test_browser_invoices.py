"""The Invoices section walked in Chromium, with JavaScript on and off: find the draft
through a quick filter, read its lines, finalize it from its page; search another
invoice, open its row's menu, void it through the void page and see it voided.
Screenshots of each step land under test-output/dashboard/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import chromium, open_page  # noqa: F401  (fixture)
from tests.dashboard.conftest import make_user
from tests.dashboard_actions.test_browser_actions import flash, log_in, shot
from tests.dashboard_invoices.conftest import run_clock, utc
from tests.db.test_current_usage import Setup


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


@pytest.fixture
def api(server: str, org: Org) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {org.api_key}"}
    ) as client:
        yield client


def seed(database: Database, org: Org, api: httpx.Client) -> tuple[dict[str, Any], ...]:
    """A draft with a graduated and a package charge; a finalized one-off invoice."""
    setup = Setup(database, org)
    calls, uploads = setup.metric("calls"), setup.metric("uploads")
    graduated = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
            {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "2"},
        ]
    }
    setup.plan("scale", [
        {"billable_metric_id": calls, "charge_model": "graduated", "properties": graduated},
        {"billable_metric_id": uploads, "charge_model": "package",
         "properties": {"amount": "5", "package_size": 10, "free_units": 5}},
    ], amount_cents=1_000)  # fmt: skip
    setup.customer("hooli", name="Hooli", currency="EUR", invoice_grace_period=3,
                   timezone="UTC")  # fmt: skip
    setup.subscribe("hooli", "scale", "hooli-sub", utc(2032, 1, 1))
    setup.events("hooli-sub", "calls", *[(utc(2032, 1, 2, 1, m), {}) for m in range(15)])
    setup.events("hooli-sub", "uploads", *[(utc(2032, 1, 3, 1, m), {}) for m in range(25)])
    run_clock(database, org, "hooli", utc(2032, 2, 1, 1))
    [draft] = api.get("/invoices", params={"status": "draft"}).json()["invoices"]
    api.post("/customers", json={"customer": {"external_id": "globex", "name": "Globex",
                                              "currency": "EUR"}})  # fmt: skip
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 5_000, "amount_currency": "EUR"}
    api.post("/add_ons", json={"add_on": add_on})
    fees = [{"add_on_code": "setup", "units": 3}]
    one_off = api.post("/invoices", json={"invoice": {"external_customer_id": "globex",
                                                      "fees": fees}})  # fmt: skip
    assert one_off.status_code == 200, one_off.text
    return draft, one_off.json()["invoice"]


def test_finalize_a_draft_and_void_an_invoice(
    page: Any, api: httpx.Client, database: Database, org: Org, request: pytest.FixtureRequest
) -> None:
    from playwright.sync_api import expect

    javascript = request.node.callspec.params["page"]
    draft, one_off = seed(database, org, api)
    log_in(page, make_user(database, org, f"invoices-{org.id.hex[:10]}@example.test"), "/invoices")
    expect(page.locator("tr[data-invoice]")).to_have_count(2)
    shot(page, request, "1-list")
    assert page.console_errors == [], "1-list"

    # The Draft quick filter keeps the draft, and says so in the URL.
    page.get_by_role("navigation", name="Invoice status").get_by_role("link", name="Draft").click()
    page.wait_for_url("**/invoices?status=draft")
    expect(page.locator("tr[data-invoice]")).to_have_count(1)
    page.get_by_role("link", name=draft["number"]).click()
    page.wait_for_url(f"**/invoices/{draft['lago_id']}")
    details = page.locator("section.invoice-details")
    expect(details).to_contain_text("Fee per unit for the first 10")
    expect(details).to_contain_text("Fee per package")
    expect(page.locator("#invoice-totals .grand")).to_have_text("Total€34.50")
    shot(page, request, "2-draft")
    assert page.console_errors == [], "2-draft"

    # Finalize it from its Actions.
    page.locator("#invoice-actions summary").click()
    page.locator("#invoice-actions").get_by_role("link", name="Finalize invoice").click()
    page.wait_for_url(f"**/invoices/{draft['lago_id']}/finalize")
    shot(page, request, "3-finalize-dialog")
    assert page.console_errors == [], "3-finalize-dialog"
    page.get_by_role("button", name="Finalize invoice").click()
    page.wait_for_url(f"**/invoices/{draft['lago_id']}")
    assert flash(page) == "Invoice successfully finalized"
    expect(page.locator("#invoice-status")).to_have_text("finalized")
    assert api.get(f"/invoices/{draft['lago_id']}").json()["invoice"]["status"] == "finalized"
    shot(page, request, "4-finalized")
    assert page.console_errors == [], "4-finalized"

    # Find the one-off invoice by its customer's name; void it from its row's menu.
    page.get_by_role("link", name="Invoices", exact=True).first.click()
    page.wait_for_url("**/invoices")
    page.get_by_label("Search invoices").fill("globex")
    if not javascript:  # with it, htmx swaps the table while typing
        page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/invoices\?search=globex$"))
    expect(page.locator("tr[data-invoice]")).to_have_count(1)
    row = page.locator(f'tr[data-invoice="{one_off["lago_id"]}"]')
    row.get_by_label(f"Actions for {one_off['number']}").click()
    shot(page, request, "5-row-menu")
    assert page.console_errors == [], "5-row-menu"
    row.get_by_role("link", name="Void invoice").click()
    page.wait_for_url(f"**/invoices/{one_off['lago_id']}/void")
    expect(page.locator("main")).to_contain_text(f"Void the invoice {one_off['number']}")
    shot(page, request, "6-void-page")
    assert page.console_errors == [], "6-void-page"
    page.get_by_role("button", name="Void invoice").click()
    page.wait_for_url(f"**/invoices/{one_off['lago_id']}")
    assert flash(page) == "Invoice successfully voided"
    expect(page.locator("#invoice-status")).to_have_text("voided")
    assert api.get(f"/invoices/{one_off['lago_id']}").json()["invoice"]["status"] == "voided"
    shot(page, request, "7-voided")
    assert page.console_errors == [], "7-voided"
    # The Voided quick filter lists it.
    page.goto("/invoices?status=voided")
    expect(page.locator("tr[data-invoice]")).to_have_count(1)
    assert page.console_errors == []
