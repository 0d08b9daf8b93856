"""Developers › Webhooks: endpoints added, edited and deleted through the API's rules
(messages in words), the HMAC key revealed on request, and a failed delivery found in
the log and retried from its page until the receiver has it."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from meterbill.core.db import Database
from meterbill.webhooks.delivery import DeliveryOptions, deliver_due
from meterbill.webhooks.keys import organization_keys
from tests.conftest import Org, make_org
from tests.dashboard_developers.pages import api_get, api_post, rows_of, submit, text_of
from tests.webhook_receiver import Receiver, running_receiver

NEW = "/developers/webhooks/new"


def closed_port_url() -> str:
    """A local URL nothing listens on: every delivery there fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}/hooks"


def add_endpoint(client: TestClient, url: str, **fields: object) -> str:
    form = {"webhook_url": url, "name": "", "signature_algo": "jwt", "events": "all", **fields}
    response = submit(client, NEW, form)
    assert response.status_code == 303, text_of(response.text)
    location = response.headers["location"]
    assert re.fullmatch(r"/developers/webhooks/[0-9a-f-]{36}", location), location
    return location


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def test_an_endpoint_is_added_listed_edited_and_deleted(client: TestClient, org: Org) -> None:
    assert "No webhook endpoint yet" in text_of(client.get("/developers/webhooks").text)
    location = add_endpoint(
        client, "https://example.com/hooks", name="Accounting", signature_algo="hmac",
        events="some", event_types=["invoice.created", "customer.created"],
    )  # fmt: skip
    page = client.get(location)
    assert "Webhook endpoint successfully added" in text_of(page.text)
    assert ("HMAC signature · 2 event types" in text_of(page.text))  # fmt: skip
    [row] = rows_of(client.get("/developers/webhooks").text)
    assert row == "https://example.com/hooks Accounting 2 events HMAC Edit Delete"
    # The API sees what the page made.
    [endpoint] = api_get(client, "/webhook_endpoints", org.api_key).json()["webhook_endpoints"]
    assert endpoint["signature_algo"] == "hmac" and endpoint["name"] == "Accounting"
    assert endpoint["event_types"] == ["invoice.created", "customer.created"]
    # Edit: every event, JWT; the form starts from the stored values.
    edit = client.get(f"{location}/edit").text
    assert 'value="https://example.com/hooks"' in edit
    assert re.search(r'value="invoice.created" checked', edit)
    response = submit(client, f"{location}/edit", {
        "webhook_url": "https://example.com/hooks/v2", "name": "Accounting",
        "signature_algo": "jwt", "events": "all", "event_types": ["invoice.created"]})  # fmt: skip
    assert response.status_code == 303 and response.headers["location"] == location
    [row] = rows_of(client.get("/developers/webhooks").text)
    assert row == "https://example.com/hooks/v2 Accounting All events JWT Edit Delete"
    # Delete, after a confirmation page.
    assert "will receive no more webhooks" in text_of(client.get(f"{location}/delete").text)
    response = submit(client, f"{location}/delete", {})
    assert response.status_code == 303 and response.headers["location"] == "/developers/webhooks"
    assert api_get(client, "/webhook_endpoints", org.api_key).json()["webhook_endpoints"] == []
    assert client.get(location).status_code == 404


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Please enter the webhook URL"),
        ("not a url", "Please fill this input with a URL format to move forward"),
        ("ftp://example.com/hooks", "Please fill this input with a URL format to move forward"),
    ],
)
def test_a_bad_url_is_refused_in_words(
    client: TestClient, org: Org, url: str, message: str
) -> None:
    response = submit(client, NEW, {"webhook_url": url, "name": "Kept", "signature_algo": "hmac",
                                    "events": "all"})  # fmt: skip
    assert response.status_code == 422
    assert message in text_of(response.text)
    assert 'value="Kept"' in response.text
    assert re.search(r'value="hmac" checked', response.text)
    assert api_get(client, "/webhook_endpoints", org.api_key).json()["webhook_endpoints"] == []


def test_a_duplicate_url_is_refused_in_words(client: TestClient) -> None:
    add_endpoint(client, "https://example.com/hooks")
    response = submit(client, NEW, {"webhook_url": "https://example.com/hooks", "events": "all",
                                    "signature_algo": "jwt"})  # fmt: skip
    assert response.status_code == 422
    assert "This URL is already in use, please add a new one." in text_of(response.text)
    assert len(rows_of(client.get("/developers/webhooks").text)) == 1


def test_the_hmac_key_is_shown_only_on_request(
    client: TestClient, database: Database, org: Org
) -> None:
    page = client.get("/developers/webhooks").text
    assert "Reveal key" in page
    revealed = submit(client, "/developers/webhooks/hmac-key", {}, page="/developers/webhooks")
    assert revealed.status_code == 200 and revealed.headers["cache-control"] == "no-store"
    with database.transaction() as session:
        key = organization_keys(session, org.id, datetime.now(UTC)).hmac_key
    assert key in revealed.text
    assert key not in client.get("/developers/webhooks").text


def test_a_failed_delivery_is_retried_from_its_page(
    client: TestClient, database: Database, org: Org, receiver: Receiver
) -> None:
    location = add_endpoint(client, closed_port_url(), name="Backend")
    api_post(client, org, "/customers", {"customer": {"external_id": "ada", "name": "Ada"}})
    # The API stamps the delivery with its own clock: deliver as of then.
    now = datetime.now(UTC)
    # One attempt: the closed port refuses it and the delivery has failed for good.
    report = deliver_due(database, now, DeliveryOptions(attempts=1), organization_id=org.id)
    assert (report.sent, report.succeeded) == (1, 0)
    log = client.get(location)
    assert rows_of(log.text), text_of(log.text)[-1500:]
    [row] = rows_of(log.text)
    assert row.startswith("customer.created failed - 1 ")
    # The log's filters, in the URL.
    assert len(rows_of(client.get(f"{location}?status=failed").text)) == 1
    assert len(rows_of(client.get(f"{location}?http_status=none").text)) == 1
    assert "No delivery matches these filters" in text_of(
        client.get(f"{location}?status=succeeded").text
    )
    assert "No delivery matches" in text_of(
        client.get(f"{location}?event_type=invoice.created").text
    )
    assert "No delivery matches" in text_of(client.get(f"{location}?http_status=2xx").text)
    today = now.date().isoformat()
    assert len(rows_of(client.get(f"{location}?from={today}&to={today}").text)) == 1
    assert "No delivery matches" in text_of(client.get(f"{location}?to=2020-01-01").text)
    [delivery] = re.findall(rf'href="({location}/deliveries/[0-9a-f-]+)"', log.text)
    unique_key = delivery.rsplit("/", 1)[1]
    assert len(rows_of(client.get(f"{location}?search={unique_key}").text)) == 1
    page = text_of(client.get(delivery).text)
    facts = (
        f"Unique key {unique_key}",
        "Webhook type customer.created",
        "Response No answer",
        "Attempts 1",
        '"webhook_type": "customer.created"',
        '"external_id": "ada"',
    )
    for fact in facts:
        assert fact in page, fact
    # The receiver is up now: point the endpoint at it, then Retry.
    submit(client, f"{location}/edit", {"webhook_url": receiver.url, "name": "Backend",
                                        "signature_algo": "jwt", "events": "all"})  # fmt: skip
    response = submit(client, f"{delivery}/retry", {}, page=delivery)
    assert response.status_code == 303 and response.headers["location"] == delivery
    assert "Webhook successfully resent" in text_of(client.get(delivery).text)
    report = deliver_due(database, now, DeliveryOptions(attempts=1), organization_id=org.id)
    assert (report.sent, report.succeeded) == (1, 1)
    [received] = receiver.received
    assert received.unique_key == unique_key
    page = text_of(client.get(delivery).text)
    assert "succeeded" in page and "Response HTTP 200" in page and "Attempts 2" in page
    assert '"ok": true' in page
    assert "Retry" not in page
    # A second Retry (a stale page) is refused in words.
    response = submit(client, f"{delivery}/retry", {}, page=location)
    assert "Webhook was already delivered successfully" in text_of(client.get(delivery).text)


def test_another_organizations_endpoint_is_not_found(
    client: TestClient, database: Database
) -> None:
    other = make_org(database, "Other")
    body = {"webhook_endpoint": {"webhook_url": "https://other.example/hooks"}}
    created = api_post(client, other, "/webhook_endpoints", body)
    lago_id = created["webhook_endpoint"]["lago_id"]
    for path in ("", "/edit", "/delete"):
        assert client.get(f"/developers/webhooks/{lago_id}{path}").status_code == 404
    assert client.get("/developers/webhooks/not-an-id").status_code == 404
