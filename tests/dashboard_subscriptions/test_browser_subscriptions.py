"""A subscription's page and its termination, then the organization's Analytics page, in
Chromium with JavaScript on and off; screenshots under test-output/dashboard/ (LOOK at
them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import OUTPUT, chromium, open_page, sign_in  # noqa: F401  (fixture)
from tests.dashboard.conftest import PASSWORD, make_user
from tests.dashboard_actions.conftest import api


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


def test_a_subscriptions_page_terminate_and_analytics(
    page: Any, database: Database, org: Org, http: httpx.Client
) -> None:
    mode = "js" if page.javascript else "nojs"
    api(http, "POST", "/customers", {"customer": {"external_id": "acme", "name": "Acme"}})
    api(http, "POST", "/plans", {"plan": {"name": "Pro", "code": "pro", "interval": "monthly",
        "amount_cents": 4900, "amount_currency": "EUR", "pay_in_advance": True}})  # fmt: skip
    api(http, "POST", "/subscriptions", {"subscription": {"external_customer_id": "acme",
        "plan_code": "pro", "external_id": "acme-pro", "name": "Acme Pro"}})  # fmt: skip
    email = make_user(database, org, f"subs-{org.id.hex[:10]}@example.test")
    sign_in(page, email, PASSWORD, "/subscriptions")
    page.get_by_role("link", name="Acme Pro").first.click()
    page.get_by_role("heading", name="Next invoices").wait_for()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"subscription_page_{mode}.png"), full_page=True)
    # The pay-in-advance plan's next invoice bills the next period's €49.00 up front.
    assert "€49.00" in page.locator("main").inner_text()

    page.get_by_role("link", name="Terminate subscription").click()
    page.get_by_role("button", name="Terminate subscription").click()
    page.get_by_text("Subscription successfully terminated").wait_for()
    ended = api(http, "GET", "/subscriptions/acme-pro?status=terminated")["subscription"]
    assert ended["status"] == "terminated"

    page.goto("/analytics")
    page.get_by_role("heading", name="Gross revenue").first.wait_for()
    page.screenshot(path=str(OUTPUT / f"analytics_page_{mode}.png"), full_page=True)
    assert [e for e in page.console_errors if "status of 422" not in e] == []
