"""Roles: the menu shows what a member may open, and every route refuses the rest with a
403 page, whatever the buttons show (Lago's admin / finance / manager matrix)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from meterbill.core.db import Database
from meterbill.users.roles import can, permissions_of
from tests.conftest import Org
from tests.dashboard.conftest import csrf_of, log_in, make_user


def menu_of(html: str) -> list[str]:
    nav = html[html.index('class="org-name"') : html.index("</nav>")]
    return re.findall(r'<a href="(/[a-z-]+)"', nav)


def test_the_matrix_is_lagos() -> None:
    assert can("admin", "organization:members:create")
    assert can("finance", "analytics:view") and not can("manager", "analytics:view")
    assert can("manager", "customers:create") and not can("finance", "customers:create")
    assert can("finance", "credit_notes:create") and can("manager", "credit_notes:create")
    assert not can("finance", "plans:create") and not can("manager", "developers:manage")
    assert "invoices:void" in permissions_of("finance")
    with pytest.raises(KeyError):
        can("admin", "invoices:teleport")


@pytest.mark.parametrize(
    ("role", "menu"),
    [
        (
            "admin",
            [
                "/analytics",
                "/billable-metrics",
                "/plans",
                "/add-ons",
                "/coupons",
                "/customers",
                "/subscriptions",
                "/invoices",
                "/credit-notes",
                "/settings",
                "/developers",
            ],
        ),
        (
            "finance",
            [
                "/analytics",
                "/plans",
                "/add-ons",
                "/coupons",
                "/customers",
                "/subscriptions",
                "/invoices",
                "/credit-notes",
                "/settings",
            ],
        ),
        (
            "manager",
            [
                "/plans",
                "/add-ons",
                "/coupons",
                "/customers",
                "/subscriptions",
                "/invoices",
                "/credit-notes",
            ],
        ),
    ],
)
def test_the_menu_shows_what_the_role_may_open(
    browser_client: TestClient, database: Database, org: Org, role: str, menu: list[str]
) -> None:
    email = make_user(database, org, f"{role}-{org.id.hex[:10]}@example.test", role)
    assert log_in(browser_client, email).status_code == 303
    assert menu_of(browser_client.get("/customers").text) == menu


def test_a_route_refuses_a_role_without_its_permission(
    browser_client: TestClient, database: Database, org: Org
) -> None:
    email = make_user(database, org, f"finance-{org.id.hex[:10]}@example.test", "finance")
    log_in(browser_client, email)
    page = browser_client.get("/customers/new")
    assert page.status_code == 403
    assert "You don&#39;t have access to this page" in page.text
    # A forged form is refused the same way, and creates nothing.
    token = csrf_of(browser_client.get("/customers").text)
    response = browser_client.post(
        "/customers/new",
        data={"csrf_token": token, "external_id": "forged", "name": "Forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    listing = browser_client.get("/customers?search=forged").text
    assert "Forged" not in listing
    assert browser_client.get("/developers").status_code == 403
    assert browser_client.get("/invoices").status_code == 200


def test_buttons_show_only_what_the_role_may_do(
    browser_client: TestClient, database: Database, org: Org
) -> None:
    response = browser_client.post(
        "/api/v1/customers",
        json={"customer": {"external_id": "acme", "name": "Acme"}},
        headers={"Authorization": f"Bearer {org.api_key}"},
    )
    customer_id = response.json()["customer"]["lago_id"]
    email = make_user(database, org, f"finance-{org.id.hex[:10]}@example.test", "finance")
    log_in(browser_client, email)
    assert "Add a customer" not in browser_client.get("/customers").text
    page = browser_client.get(f"/customers/{customer_id}").text
    # Finance may bill (a one-off invoice) but not manage the customer or assign plans.
    assert "Create a one-off invoice" in page
    for refused in ("Assign a plan", "Apply a coupon", "Add a wallet", "Edit customer",
                    "Delete customer"):  # fmt: skip
        assert refused not in page, refused
