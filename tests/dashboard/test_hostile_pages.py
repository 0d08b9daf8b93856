"""No input gives a 500 page; forms label every input; dates follow the organization's
timezone."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.organizations.service import update_organization
from tests.conftest import NOW, Org
from tests.dashboard.conftest import csrf_of
from tests.dashboard.test_access import api

HOSTILE_VALUES = [
    "x" * 100_000,
    "\x00",
    "a\x00b",
    "99999999999999999999999999",
    "-1",
    "1e400",
    "<script>alert(1)</script>",
    "\x1f",
    "",
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_any_value_in_any_field_is_a_page_not_a_500(
    client: TestClient, value: str, org: Org
) -> None:
    token = csrf_of(client.get("/customers").text)
    fields = [
        "external_id", "name", "customer_type", "timezone", "currency", "email", "url",
        "country", "shipping_country", "net_payment_term", "invoice_grace_period",
        "document_locale", "payment_provider", "tax_codes", "metadata-0-key",
        "metadata-0-value", "metadata-0-id", "metadata-7-key",
    ]  # fmt: skip
    for field in fields:
        body = {"csrf_token": token, "external_id": f"h_{uuid.uuid4().hex[:8]}", field: value}
        response = client.post("/customers/new", data=body, follow_redirects=False)
        assert response.status_code in (303, 422), (field, response.status_code)
    customer_id = api(client, org, f"edit_{uuid.uuid4().hex[:8]}")
    for field in fields:
        body = {"csrf_token": token, field: value}
        response = client.post(f"/customers/{customer_id}/edit", data=body, follow_redirects=False)
        assert response.status_code in (303, 422), (field, response.status_code)


@pytest.mark.parametrize(
    "query",
    [
        "page=-1",
        "page=99999999999999999999",
        "page=2147483647",
        "per_page=abc",
        "per_page=100000",
        "search=%25%25",
        "search=" + "a" * 5000,
        "search=%E2%80%8B",
        "page=1.5&search=_",
    ],
)
def test_any_list_query_is_a_page(client: TestClient, query: str) -> None:
    for path in ("/customers", "/invoices", "/plans"):
        response = client.get(f"{path}?{query}")
        assert response.status_code in (200, 422), (path, query)
        assert response.headers["content-type"].startswith("text/html")


def test_bodies_that_are_not_forms(client: TestClient) -> None:
    token = csrf_of(client.get("/customers").text)
    for content in (b"\xff\xfe\xfd", b"csrf_token=" + token.encode() + b"&name=%FF%FE"):
        response = client.post(
            "/customers/new",
            content=content,
            headers={"content-type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert response.status_code in (400, 403, 422), response.status_code
    assert client.post("/customers", follow_redirects=False).status_code == 404
    assert client.get(f"/invoices/{uuid.uuid4()}").status_code == 404


def test_every_input_has_a_label(client: TestClient, org: Org) -> None:
    customer_id = api(client, org, "labelled")
    for path in ("/customers/new", f"/customers/{customer_id}/edit", "/customers"):
        html = client.get(path).text
        labels = set(re.findall(r'<label for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag:
                continue
            found = re.search(r'id="([^"]+)"', tag)
            assert found and found.group(1) in labels, (path, tag)


def test_dates_are_in_the_organizations_timezone(
    client: TestClient, org: Org, database: Database
) -> None:
    with database.transaction() as session:
        update_organization(session, org.id, {"timezone": "Asia/Tokyo"}, NOW)
    # The API stamps the wall clock: the creation instant is set to one the test knows,
    # 20:30 UTC, which is the next morning in Tokyo.
    customer_id = api(client, org, "late")
    with database.transaction() as session:
        session.execute(
            update(Customer)
            .where(Customer.id == uuid.UUID(customer_id))
            .values(created_at=NOW.replace(hour=20, minute=30))
        )
    assert "Jan 16, 2026" in client.get("/customers").text
    assert "Jan 16, 2026, 05:30" in client.get(f"/customers/{customer_id}/information").text
