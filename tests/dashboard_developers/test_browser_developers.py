"""The Developers pages in Chromium, with JavaScript on and off: add a webhook endpoint
(a bad URL refused first), find its failed delivery in the log, point the endpoint at a
working receiver and Retry; then find an unbilled event and why. Screenshots of each
step land under test-output/dashboard/."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.webhooks.delivery import DeliveryOptions, deliver_due
from tests.conftest import Org
from tests.dashboard.browser import OUTPUT, chromium, open_page  # noqa: F401  (fixture)
from tests.dashboard.conftest import PASSWORD, make_user
from tests.webhook_receiver import Receiver, running_receiver

# Also on the ClickHouse store: the events page reads events through the store.
EVERY_EVENT_STORE = True


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def post(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def shot(page: Any, step: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    mode = "js" if page.javascript else "nojs"
    page.screenshot(path=str(OUTPUT / f"developers-{step}-{mode}.png"), full_page=True)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}/hooks"


def seed_events(http: httpx.Client) -> None:
    """Customer acme on a plan charging calls; one event billed, one of a code no metric
    has."""
    calls = post(http, "/billable_metrics", {"billable_metric": {
        "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}})  # fmt: skip
    post(http, "/plans", {"plan": {
        "name": "Scale", "code": "scale", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "EUR", "charges": [{
            "billable_metric_id": calls["billable_metric"]["lago_id"],
            "charge_model": "standard", "properties": {"amount": "1"}}]}})  # fmt: skip
    post(http, "/subscriptions", {"subscription": {
        "external_customer_id": "acme", "plan_code": "scale", "external_id": "sub-1",
        "subscription_at": "2026-01-01T00:00:00Z"}})  # fmt: skip
    for transaction_id, code in (("call-1", "calls"), ("call-typo", "cals")):
        post(http, "/events", {"event": {
            "transaction_id": transaction_id, "external_subscription_id": "sub-1",
            "code": code}})  # fmt: skip


def test_webhook_retry_and_unbilled_event(
    page: Any, database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    email = make_user(database, org, f"dev-{org.id.hex[:10]}@example.test")
    page.goto("/developers/webhooks")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/developers/webhooks")
    page.get_by_role("link", name="Add an endpoint").first.click()
    page.wait_for_url("**/developers/webhooks/new")

    # A URL that is not one: refused in words, what was typed kept.
    page.get_by_label("Webhook destination name").fill("Backend")
    page.get_by_label("Webhook URL").fill("not a url")
    page.get_by_text("HMAC signature", exact=True).click()
    page.get_by_text("Only the events checked below").click()
    page.get_by_label("customer.created").check()
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_selector("text=Please fill this input with a URL format to move forward")
    assert page.get_by_label("Webhook destination name").input_value() == "Backend"
    assert page.get_by_label("customer.created").is_checked()
    shot(page, "endpoint-refused")
    page.get_by_label("Webhook URL").fill(closed_port_url())
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_selector("text=Webhook endpoint successfully added")
    endpoint_url = page.url

    # A customer is created: its webhook fails against the closed port.
    post(http, "/customers", {"customer": {"external_id": "acme", "name": "Acme"}})
    now = datetime.now(UTC)
    deliver_due(database, now, DeliveryOptions(attempts=1), organization_id=org.id)
    page.goto(endpoint_url + "?status=failed")
    page.get_by_role("link", name="customer.created").click()
    page.wait_for_selector("text=No answer")
    delivery_url = page.url
    shot(page, "delivery-failed")

    # Point the endpoint at a receiver that answers, then Retry the delivery.
    page.goto(endpoint_url)
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Webhook URL").fill(receiver.url)
    page.get_by_role("button", name="Save endpoint").click()
    page.wait_for_selector("text=Webhook endpoint successfully edited")
    page.goto(delivery_url)
    page.get_by_role("button", name="Retry").click()
    page.wait_for_selector("text=Webhook successfully resent")
    deliver_due(database, datetime.now(UTC), DeliveryOptions(attempts=1), organization_id=org.id)
    page.reload()
    page.wait_for_selector("text=HTTP 200")
    assert page.get_by_role("button", name="Retry").count() == 0
    assert [item.json["webhook_type"] for item in receiver.received] == ["customer.created"]
    shot(page, "delivery-resent")

    # The events page: which event is not billed, and why.
    seed_events(http)
    page.get_by_role("link", name="Developers", exact=True).click()
    page.get_by_role("link", name="Events", exact=True).click()
    page.get_by_label("Customer external ID").fill("acme")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/developers/events?external_customer_id=acme*")
    row = page.locator("tr", has_text="call-typo")
    assert "Not billed: Unknown metric" in row.inner_text()
    assert "No billable metric has the code “cals”." in row.inner_text()
    assert "Billed" in page.locator("tr", has_text="call-1").inner_text()
    shot(page, "events")
    page.get_by_role("link", name="call-typo").click()
    page.wait_for_selector("text=Transaction ID")
    shot(page, "event")
    page.get_by_role("link", name="Developers", exact=True).click()
    page.get_by_role("link", name="Webhooks", exact=True).click()
    page.get_by_role("button", name="Reveal key").click()
    page.wait_for_selector("#hmac-key")
    shot(page, "webhooks")
    page.get_by_role("link", name="API keys & ID").click()
    page.get_by_label("Name").fill("Billing backend")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_selector("text=Copy it now: it will not be shown again.")
    shot(page, "keys")
    # The refused form's page came with its 422 status, which Chromium logs; nothing else.
    errors = [text for text in page.console_errors if "status of 422" not in text]  # type: ignore[attr-defined]
    assert errors == []
