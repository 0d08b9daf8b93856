"""Settings pages' fixtures: the dashboard's (an in-process app on the test database,
a logged-in client, the clock) and helpers to post a page's forms and read what the
API would answer for the organization."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from meterbill.core.db import Database
from meterbill.organizations.schemas import organization_object
from meterbill.organizations.service import get_organization
from meterbill.taxes.schemas import tax_object
from meterbill.taxes.service import organization_default_taxes
from tests.conftest import Org
from tests.dashboard.conftest import (  # noqa: F401  (fixtures)
    browser_client,
    chromium,
    client,
    clock,
    csrf_of,
    dashboard_app,
    user,
)


def post(web: TestClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a form with the CSRF token the user's pages carry; redirects not followed."""
    token = csrf_of(web.get("/settings/account").text)
    return web.post(
        url, data={"csrf_token": token, **(data or {})}, follow_redirects=False, **kwargs
    )


def organization_as_api(database: Database, org: Org) -> dict[str, Any]:
    """The organization object PUT /api/v1/organizations answers with, as stored now."""
    with database.transaction(write=False) as session:
        organization = get_organization(session, org.id)
        taxes = [
            tax_object(tax, organization.billing_entity_code)
            for tax in organization_default_taxes(session, org.id)
        ]
        return organization_object(organization, taxes, [])


def stored_logo(database: Database, org: Org) -> str | None:
    with database.transaction(write=False) as session:
        return get_organization(session, org.id).logo


def error_under(html: str, field: str) -> str:
    """The message shown under a field (ui.field's `f-<name>-error`)."""
    marker = f'id="f-{field}-error">'
    assert marker in html, f"no error under {field}"
    start = html.index(marker) + len(marker)
    return html[start : html.index("</p>", start)]
