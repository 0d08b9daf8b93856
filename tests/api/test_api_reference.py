"""The API reference: /docs works offline, every /api/v1 operation is described, and
real responses match the schemas the document gives for them."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi.routing import APIRoute

from meterbill import app as app_module
from meterbill.app import create_app
from meterbill.core.db import Database
from meterbill.core.http import json_body, query_params
from meterbill.settings import Settings


@pytest.fixture(scope="module")
def app_document(database: Database) -> tuple[Any, dict[str, Any]]:
    app = create_app(Settings(database_url=database.url, clock_interval_seconds=0), database)
    return app, app.openapi()


def _reads(route: APIRoute, dependency: Any) -> bool:
    return any(item.call is dependency for item in route.dependant.dependencies)


def test_every_api_operation_is_described(app_document: tuple[Any, dict[str, Any]]) -> None:
    _app, document = app_document
    missing: list[str] = []
    # Every feature's router, as app.py includes them.
    routers = [value for name, value in vars(app_module).items() if name.endswith("_router")]
    routes = [
        (method, route)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]
    assert len(routes) == 141
    for method, route in routes:
        path = route.path.replace(":path}", "}")
        described = document["paths"][path][method.lower()]
        name = f"{method} {path}"
        if not described.get("summary") or not described.get("description"):
            missing.append(f"{name}: no summary or description")
        if described.get("security") != [{"bearerAuth": []}]:
            missing.append(f"{name}: no Bearer scheme")
        success = described["responses"].get("200", {}).get("content", {})
        # Lago's deprecated /webhooks/public_key answers plain text, retry_payment an
        # empty 200.
        plain = ("/api/v1/webhooks/public_key", "/api/v1/invoices/{invoice_id}/retry_payment")
        media = "text/plain" if path in plain else "application/json"
        if "schema" not in success.get(media, {}):
            missing.append(f"{name}: no 200 schema")
        for status in ("401",):
            error = described["responses"].get(status, {}).get("content", {})
            if error.get("application/json", {}).get("schema") != {
                "$ref": "#/components/schemas/Error"
            }:
                missing.append(f"{name}: no {status} envelope")
        if _reads(route, json_body) and "requestBody" not in described:
            missing.append(f"{name}: reads a body it does not describe")
        queries = [p for p in described.get("parameters", []) if p["in"] == "query"]
        if _reads(route, query_params) and not queries:
            missing.append(f"{name}: reads query parameters it does not describe")
        for param in described.get("parameters", []):
            if not param.get("description"):
                missing.append(f"{name}: parameter {param['name']} undescribed")
    assert missing == []


def test_the_document_names_its_shared_parts(app_document: tuple[Any, dict[str, Any]]) -> None:
    _app, document = app_document
    components = document["components"]
    assert components["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    envelope = components["schemas"]["Error"]
    assert sorted(envelope["properties"]) == ["code", "error", "error_details", "status"]
    listing = document["paths"]["/api/v1/customers"]["get"]
    names = [param["name"] for param in listing["parameters"]]
    assert names[:2] == ["page", "per_page"]
    assert {"search_term", "countries[]", "currencies[]", "metadata"} <= set(names)
    body = listing and document["paths"]["/api/v1/customers"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["required"] == ["customer"]
    assert set(document["paths"]["/api/v1/customers/{external_id}"]["get"]["responses"]) == {
        "200",
        "401",
        "404",
    }


def test_docs_page_works_offline(server: str) -> None:
    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    html = page.text
    # Nothing the page loads lives on another host.
    assert re.findall(r"https?://", html) == []
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    for asset in assets:
        response = httpx.get(server + asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 500, asset
    assert "url: '/openapi.json'" in html
    assert httpx.get(f"{server}/openapi.json").json()["info"]["title"] == "meterbill"
    # FastAPI's ReDoc page would load its script from a CDN: it is not served.
    assert httpx.get(f"{server}/redoc").status_code == 404


def _validator(document: dict[str, Any], component: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


def test_real_responses_match_the_document(server: str, http: httpx.Client) -> None:
    document = httpx.get(f"{server}/openapi.json").json()
    customer = http.post(
        "/customers",
        json={
            "customer": {
                "external_id": "drift",
                "name": "Drift Ltd",
                "currency": "EUR",
                "metadata": [{"key": "tier", "value": "gold", "display_in_invoice": True}],
                "billing_configuration": {"payment_provider": "stripe"},
            }
        },
    ).json()["customer"]
    http.post(
        "/add_ons",
        json={
            "add_on": {"name": "Setup", "code": "setup", "amount_cents": 1_000,
                       "amount_currency": "EUR"}
        },
    )  # fmt: skip
    invoice = http.post(
        "/invoices",
        json={"invoice": {"external_customer_id": "drift", "fees": [{"add_on_code": "setup"}]}},
    ).json()["invoice"]
    listed = http.get("/invoices").json()["invoices"][0]

    customers, invoices = _validator(document, "Customer"), _validator(document, "Invoice")
    assert list(customers.iter_errors(customer)) == []
    assert list(invoices.iter_errors(invoice)) == []
    assert list(invoices.iter_errors(listed)) == []
    assert invoice["fees"][0]["amount_cents"] == 1_000

    # Drift either way is caught: a field gone, a field added, a type changed.
    without_name = {key: value for key, value in customer.items() if key != "name"}
    assert [error.message for error in customers.iter_errors(without_name)] == [
        '"name" is a required property'
    ]
    assert not customers.is_valid({**customer, "nickname": "D"})
    assert not invoices.is_valid({**invoice, "total_amount_cents": "1000"})
