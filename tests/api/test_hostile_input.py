"""Every route of the app, fed hostile ids, query strings and bodies: never a 500, always
Lago's envelope, and a refusal writes nothing (issue 13, points 5 and 6)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from meterbill.app import create_app
from meterbill.core.db import Database
from meterbill.migrations.runner import upgrade
from meterbill.organizations.service import add_api_key, create_organization
from meterbill.settings import Settings
from tests import hostile
from tests.conftest import ENCRYPTION_KEY, migrated_database

ROUTES = hostile.app_routes(
    create_app(
        Settings(database_url="sqlite:///unused.db", api_key=None, clock_interval_seconds=0)
    ).openapi()
)
WRITES = {"POST", "PUT", "PATCH"}


@dataclass
class Target:
    client: TestClient
    database: Database
    ids: dict[str, str]
    bodies: dict[tuple[str, str], Any]


@pytest.fixture(scope="module")
def target(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A seeded database of its own (so a digest of all of it is cheap) and an app on it."""
    folder = tmp_path_factory.mktemp("hostile")
    with migrated_database(database, folder, "hostile") as db:
        now = datetime(2026, 1, 15, tzinfo=UTC)
        with db.transaction() as session:
            organization = create_organization(session, "Hostile", now)
            key = add_api_key(session, organization.id, now)
        settings_ = Settings(
            database_url=db.url,
            api_key=None,
            clock_interval_seconds=0,
            encryption_key=ENCRYPTION_KEY,
            stripe_api_base="http://127.0.0.1:9",
        )
        with TestClient(
            create_app(settings_, db),
            headers={"Authorization": f"Bearer {key}"},
            raise_server_exceptions=False,
        ) as client:
            ids = hostile.seed(client)
            yield Target(client, db, ids, hostile.seed_bodies(ids))


def test_the_walk_covers_every_route(target: Target) -> None:
    assert len(ROUTES) >= 110
    writes = {(route.method, route.path) for route in ROUTES if route.method in WRITES}
    assert writes == set(target.bodies), "every write route needs a seed body"
    for route in ROUTES:
        for param in route.params:
            assert hostile.path_value(route, param, target.ids)


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.path}")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_hostile_input_is_refused_with_the_envelope_and_writes_nothing(
    target: Target, route: hostile.Route, data: st.DataObject
) -> None:
    request = data.draw(hostile.requests_for(route, target.ids, target.bodies))
    before = hostile.fingerprint(target.database)
    response = target.client.request(
        request.method,
        request.url,
        params=request.params,
        **({} if request.body is None else {"json": request.body}),
    )
    event(f"status {response.status_code}")
    assert response.status_code < 500, (request, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == hostile.ENVELOPES[response.status_code], body
        assert body["status"] == response.status_code
        assert hostile.fingerprint(target.database) == before, request


def test_a_body_over_the_limit_is_413_before_it_is_parsed(target: Target) -> None:
    name = "x" * 1_100_000
    response = target.client.post("/api/v1/customers", json={"customer": {"name": name}})
    assert response.status_code == 413
    assert response.json() == {
        "status": 413,
        "error": "Payload Too Large",
        "code": "request_too_large",
    }


def test_a_chunked_body_over_the_limit_is_413_too(target: Target) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"customer": {"external_id": "big", "name": "'
        for _ in range(200):
            yield b"y" * 10_000
        yield b'"}}'

    response = target.client.post(
        "/api/v1/customers", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert target.client.get("/api/v1/customers/big").status_code == 404


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/customers/%00", 404),
        ("/api/v1/plans/a%00b/charges", 404),
        ("/api/v1/invoices?external_customer_id=%00", 400),
        ("/api/v1/customers?page=99999999999999999999", 422),
        ("/api/v1/customers?per_page=99999999999999999999", 200),
        ("/api/v1/customers?page=abc&per_page=-5", 200),
        ("/api/v1/plans/basic/charges?page=18446744073709551617", 422),
    ],
)
def test_nul_bytes_and_huge_pages_in_urls(target: Target, path: str, status: int) -> None:
    response = target.client.get(path)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["meta"]["current_page"] in (0, 1)


def test_nul_bytes_in_body_strings_are_stripped_and_in_keys_refused(target: Target) -> None:
    refused = [
        ({"billing_configuration": {"\x00": 1}}, "billing_configuration"),
        ({"metadata": [{"k\x00": "v"}]}, "metadata"),
    ]
    for fields, field in refused:
        body = {"customer": {"external_id": "n1", **fields}}
        response = target.client.post("/api/v1/customers", json=body)
        assert response.status_code == 422
        assert response.json()["error_details"] == {field: ["value_is_invalid"]}
    assert target.client.get("/api/v1/customers/n1").status_code == 404
    body = {
        "customer": {
            "external_id": "n\x002",
            "name": "a\x00b",
            "metadata": [{"key": "k\x00", "value": "\x00v"}],
        }
    }
    response = target.client.post("/api/v1/customers", json=body)
    assert response.status_code == 200
    customer = response.json()["customer"]
    assert (customer["external_id"], customer["name"]) == ("n2", "ab")
    assert [(item["key"], item["value"]) for item in customer["metadata"]] == [("k", "v")]


@pytest.mark.parametrize(
    ("path", "body", "details"),
    [
        ("/api/v1/plans", {"plan": {"name": "T", "code": "t", "interval": "monthly",
         "amount_cents": 100, "amount_currency": "EUR", "trial_period": 99999999}},
         {"trial_period": ["value_is_out_of_range"]}),
        ("/api/v1/plans", {"plan": {"name": "T", "code": "t", "interval": "monthly",
         "amount_cents": 10**15 + 1, "amount_currency": "EUR"}},
         {"amount_cents": ["value_is_out_of_range"]}),
        ("/api/v1/customers", {"customer": {"external_id": "big", "net_payment_term": 2**31}},
         {"net_payment_term": ["value_is_out_of_range"]}),
        ("/api/v1/customers", {"customer": {"external_id": "big",
         "billing_configuration": {"invoice_grace_period": 36_501}}},
         {"invoice_grace_period": ["value_is_out_of_range"]}),
        ("/api/v1/customers", {"customer": {"external_id": "x" * 256}},
         {"external_id": ["value_is_too_long"]}),
        ("/api/v1/customers", {"customer": {"external_id": "big", "name": "n" * 256}},
         {"name": ["value_is_too_long"]}),
        ("/api/v1/billable_metrics", {"billable_metric": {"name": "M", "code": "m",
         "aggregation_type": "sum_agg", "field_name": "f", "rounding_function": "round",
         "rounding_precision": 16}}, {"rounding_precision": ["value_is_out_of_range"]}),
        ("/api/v1/add_ons", {"add_on": {"name": "A", "code": "a", "amount_cents": 1,
         "amount_currency": "EUR", "description": "d" * 10_001}},
         {"description": ["value_is_too_long"]}),
    ],
)  # fmt: skip
def test_values_that_cannot_be_billed_are_refused_at_the_door(
    target: Target, path: str, body: dict[str, Any], details: dict[str, list[str]]
) -> None:
    before = hostile.fingerprint(target.database)
    response = target.client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error_details"] == details
    assert hostile.fingerprint(target.database) == before


def test_the_largest_accepted_values_are_taken(target: Target) -> None:
    plan = {
        "name": "P" * 255,
        "code": "largest",
        "interval": "monthly",
        "amount_cents": 10**15,
        "amount_currency": "EUR",
        "trial_period": 36_500,
        "description": "d" * 10_000,
    }
    response = target.client.post("/api/v1/plans", json={"plan": plan})
    assert response.status_code == 200, response.text
    created = response.json()["plan"]
    assert (created["amount_cents"], created["trial_period"]) == (10**15, 36_500.0)
    assert len(created["description"]) == 10_000


def test_the_body_limit_is_a_setting(tmp_path: Path) -> None:
    """A smaller limit refuses what the default takes."""
    url = f"sqlite:///{tmp_path / 'small.db'}"
    upgrade(url)
    settings_ = Settings(
        database_url=url,
        api_key="small-limit-key",
        clock_interval_seconds=0,
        max_body_bytes=100,
    )
    with TestClient(
        create_app(settings_), headers={"Authorization": "Bearer small-limit-key"}
    ) as c:
        small = c.post("/api/v1/customers", json={"customer": {"external_id": "s"}})
        assert small.status_code == 200
        large = c.post("/api/v1/customers", json={"customer": {"external_id": "s" * 100}})
        assert large.status_code == 413


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v1/billable_metrics/evaluate_expression",
         {"expression": "event.properties.units * 2",
          "event": {"code": "c", "properties": {"units": "081E9364013"}}}, 422),
        ("POST", "/api/v1/billable_metrics/evaluate_expression",
         {"expression": "round(event.properties.units)",
          "event": {"code": "c", "properties": {"units": "1e400"}}}, 422),
        ("POST", "/api/v1/wallets", {"wallet": {"external_customer_id": "cus",
         "rate_amount": "1e400", "currency": "EUR"}}, 422),
        ("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus",
         "fees": [{"add_on_code": "setup", "units": "1e400"}]}}, 422),
        ("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus",
         "fees": [{"add_on_code": "setup", "units": "081E9364013"}]}}, 422),
        ("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus",
         "fees": [{"add_on_code": "setup", "description": {}}]}}, 422),
        ("POST", "/api/v1/invoices", {"invoice": {"external_customer_id": "cus",
         "fees": [{"add_on_code": "setup", "units": "1000000000000000",
                   "unit_amount_cents": 1000}]}}, 422),
        ("PUT", "/api/v1/invoices/{invoice}", {"invoice": {"metadata": ["x"]}}, 422),
        ("POST", "/api/v1/events", {"event": {"transaction_id": "t" * 1_000_000,
         "external_subscription_id": "sub", "code": "calls"}}, 422),
        ("POST", "/api/v1/events", {"event": {"transaction_id": "t" * 256,
         "external_subscription_id": "sub", "code": "calls"}}, 422),
        ("POST", "/api/v1/subscriptions", {"subscription": {"external_customer_id": "cus",
         "plan_code": "basic", "subscription_at": "0001-01-01T00:00:00Z"}}, 422),
        ("POST", "/api/v1/invoices/preview", {"customer": {"external_id": "cus"},
         "plan_code": "basic", "subscription_at": "9999-12-31T23:59:59Z"}, 422),
        ("POST", "/api/v1/plans", {"plan": {"name": "P", "code": "c" * 256,
         "interval": "monthly", "amount_cents": 1, "amount_currency": "EUR"}}, 422),
    ],
)  # fmt: skip
def test_the_issue_examples_are_refused_with_the_envelope(
    target: Target, method: str, path: str, body: dict[str, Any], status: int
) -> None:
    before = hostile.fingerprint(target.database)
    url = path.format(invoice=target.ids["invoice"])
    response = target.client.request(method, url, json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == hostile.ENVELOPES[status]
    assert hostile.fingerprint(target.database) == before
