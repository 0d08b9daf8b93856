"""Webhook delivery to a real local receiver: signatures, envelope, retries, manual retry,
the delivery log and the outbox's transaction (issue 16, points 2, 3, 4 and 7)."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

import httpx
import pytest
from lago_python_client.client import Client

from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.customers.schemas import parse_customer
from meterbill.customers.service import upsert_customer
from meterbill.webhooks.delivery import DeliveryOptions, claim, deliver_due
from meterbill.webhooks.keys import organization_keys
from tests.conftest import Org
from tests.webhook_receiver import Receiver, running_receiver, verify


def _endpoint(http: httpx.Client, url: str, **fields: object) -> dict[str, object]:
    response = http.post(
        "/webhook_endpoints", json={"webhook_endpoint": {"webhook_url": url, **fields}}
    )
    assert response.status_code == 200, response.text
    return response.json()["webhook_endpoint"]


def _customer(http: httpx.Client, external_id: str = "cus_1") -> dict[str, object]:
    body = {"customer": {"external_id": external_id, "name": "Ada", "currency": "EUR"}}
    return http.post("/customers", json=body).json()["customer"]


def _deliver(database: Database, org: Org, now: datetime) -> int:
    return deliver_due(database, now, organization_id=org.id).sent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_signed_envelopes_equal_to_the_api_object(
    database: Database, org: Org, lago: Client, http: httpx.Client, receiver: Receiver
) -> None:
    _endpoint(http, receiver.url)
    _endpoint(http, receiver.url + "?signed=hmac", signature_algo="hmac")
    customer = _customer(http)
    # Nothing is sent inside the request that made the change.
    assert receiver.received == []
    assert _deliver(database, org, utc_now()) == 2
    public_pem = lago.webhooks.public_key()
    with database.transaction() as session:
        hmac_key = organization_keys(session, org.id, utc_now()).hmac_key
    by_algo = {item.headers["x-lago-signature-algorithm"]: item for item in receiver.received}
    assert set(by_algo) == {"jwt", "hmac"}
    for item in receiver.received:
        assert verify(item, public_pem=public_pem, hmac_key=hmac_key)
        assert item.headers["content-type"] == "application/json"
        assert item.json == {
            "webhook_type": "customer.created",
            "object_type": "customer",
            "organization_id": str(org.id),
            "customer": customer,
        }
    # A tampered body fails both checks.
    tampered = by_algo["hmac"].__class__(
        "/", by_algo["hmac"].headers, by_algo["hmac"].body.replace(b"Ada", b"Eve")
    )
    assert not verify(tampered, public_pem=public_pem, hmac_key=hmac_key)
    log = http.get("/webhooks").json()
    assert log["meta"]["total_count"] == 2
    keys = {item["lago_id"] for item in log["webhooks"]}
    assert keys == {item.unique_key for item in receiver.received}
    assert {(w["status"], w["retries"], w["http_status"]) for w in log["webhooks"]} == {
        ("succeeded", 1, 200)
    }


def test_two_failures_then_success_is_three_attempts_with_one_key(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    _endpoint(http, receiver.url)
    receiver.answers = [500, 500]
    _customer(http)
    start = utc_now()
    assert _deliver(database, org, start) == 1
    [webhook] = http.get("/webhooks").json()["webhooks"]
    assert (webhook["status"], webhook["retries"], webhook["http_status"]) == ("retrying", 1, 500)
    assert webhook["response"] == "receiver says no"
    # Lago's back-off: 1⁴ + 2 s, plus up to 15 % of 1⁴.
    next_at = datetime.fromisoformat(webhook["next_attempt_at"])
    assert start + timedelta(seconds=2) <= next_at <= start + timedelta(seconds=4)
    assert _deliver(database, org, start + timedelta(seconds=1)) == 0
    assert _deliver(database, org, start + timedelta(seconds=4)) == 1
    # After the second failure: 2⁴ + 2 = 18 to 20.4 s.
    assert _deliver(database, org, start + timedelta(seconds=4 + 17)) == 0
    assert _deliver(database, org, start + timedelta(seconds=4 + 21)) == 1
    assert len(receiver.received) == 3
    assert len({item.unique_key for item in receiver.received}) == 1
    assert {item.body for item in receiver.received} == {receiver.received[0].body}
    [webhook] = http.get("/webhooks").json()["webhooks"]
    assert (webhook["status"], webhook["retries"], webhook["http_status"]) == (
        "succeeded", 3, 200,
    )  # fmt: skip
    assert webhook["lago_id"] == receiver.received[0].unique_key


def test_a_receiver_down_for_the_whole_budget_fails_then_manual_retry_delivers(
    database: Database, org: Org, http: httpx.Client
) -> None:
    port = _free_port()
    _endpoint(http, f"http://127.0.0.1:{port}/hooks")
    _customer(http)
    start = utc_now()
    for seconds in (0, 4, 30, 200):
        _deliver(database, org, start + timedelta(seconds=seconds))
    [webhook] = http.get("/webhooks").json()["webhooks"]
    assert (webhook["status"], webhook["retries"], webhook["http_status"]) == ("failed", 3, None)
    assert webhook["response"].startswith("ConnectionRefusedError")
    assert webhook["next_attempt_at"] is None
    with running_receiver(port) as receiver:
        retried = http.post(f"/webhooks/{webhook['lago_id']}/retry")
        assert retried.json()["webhook"]["status"] == "retrying"
        assert _deliver(database, org, utc_now() + timedelta(seconds=1)) == 1
        assert [item.unique_key for item in receiver.received] == [webhook["lago_id"]]
    [webhook] = http.get("/webhooks").json()["webhooks"]
    assert (webhook["status"], webhook["retries"], webhook["http_status"]) == (
        "succeeded", 4, 200,
    )  # fmt: skip
    again = http.post(f"/webhooks/{webhook['lago_id']}/retry")
    assert again.status_code == 405
    assert again.json() == {"status": 405, "error": "Method Not Allowed", "code": "is_succeeded"}
    assert http.post("/webhooks/nope/retry").json()["code"] == "webhook_not_found"


def test_a_manual_retry_that_fails_again_stays_failed(
    database: Database, org: Org, http: httpx.Client
) -> None:
    _endpoint(http, f"http://127.0.0.1:{_free_port()}/hooks")
    _customer(http)
    start = utc_now()
    for seconds in (0, 4, 30):
        _deliver(database, org, start + timedelta(seconds=seconds))
    [webhook] = http.get("/webhooks").json()["webhooks"]
    http.post(f"/webhooks/{webhook['lago_id']}/retry")
    _deliver(database, org, utc_now() + timedelta(seconds=1))
    [webhook] = http.get("/webhooks").json()["webhooks"]
    assert (webhook["status"], webhook["retries"]) == ("failed", 4)


def test_a_rolled_back_change_sends_nothing(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    _endpoint(http, receiver.url)
    data = parse_customer({"external_id": "ghost", "name": "Ghost"})
    with pytest.raises(RuntimeError), database.transaction() as session:
        upsert_customer(session, org.id, data, utc_now())
        raise RuntimeError("the change fails after the customer was written")
    assert _deliver(database, org, utc_now()) == 0
    assert http.get("/webhooks").json()["meta"]["total_count"] == 0
    assert receiver.received == []


def test_a_worker_that_dies_after_claiming_leaves_the_delivery_to_another(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    """The claim's lease runs out and the delivery is sent, with the same unique key
    (what a SIGKILL between claim and send leaves behind)."""
    _endpoint(http, receiver.url)
    _customer(http)
    start = utc_now()
    options = DeliveryOptions(timeout_seconds=5, per_endpoint=4, per_endpoint_queue=8)
    assert options.lease == timedelta(seconds=5 * 2 + 30)
    [claimed] = claim(database, start, options, 10, None, org.id)
    assert _deliver(database, org, start + timedelta(seconds=39)) == 0
    assert _deliver(database, org, start + timedelta(seconds=41)) == 1
    assert [item.unique_key for item in receiver.received] == [str(claimed.id)]


def test_event_types_and_the_log_filters(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    everything = _endpoint(http, receiver.url)
    only_updates = _endpoint(http, receiver.url + "?u", event_types=["customer.updated"])
    _endpoint(http, receiver.url + "?none", event_types=[])
    first = _customer(http, "cus_a")
    _customer(http, "cus_a")
    _customer(http, "cus_b")
    log = http.get("/webhooks").json()
    assert [(w["webhook_type"], w["object_id"]) for w in log["webhooks"]] == [
        ("customer.created", log["webhooks"][0]["object_id"]),
        ("customer.updated", first["lago_id"]),
        ("customer.updated", first["lago_id"]),
        ("customer.created", first["lago_id"]),
    ]
    assert {w["lago_webhook_endpoint_id"] for w in log["webhooks"][1:3]} == {
        everything["lago_id"],
        only_updates["lago_id"],
    }

    def count(**params: str) -> int:
        return int(http.get("/webhooks", params=params).json()["meta"]["total_count"])

    assert count(webhook_endpoint_id=str(only_updates["lago_id"])) == 1
    assert count(webhook_type="customer.created") == 2
    assert count(object_id=str(first["lago_id"])) == 3
    assert count(status="pending") == 4
    assert count(status="succeeded") == 0
    today = utc_now().date()
    assert count(from_date=today.isoformat(), to_date=today.isoformat()) == 4
    assert count(from_date=(today + timedelta(days=1)).isoformat()) == 0
    assert http.get("/webhooks", params={"status": "lost"}).status_code == 422
    assert _deliver(database, org, utc_now()) == 4
    assert count(status="succeeded") == 4
    # Deleting an endpoint deletes its deliveries.
    http.delete(f"/webhook_endpoints/{everything['lago_id']}")
    assert count() == 1


def test_a_rolled_back_savepoint_takes_its_webhook_along(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    _endpoint(http, receiver.url)
    with database.transaction() as session:
        with pytest.raises(RuntimeError), session.begin_nested():
            data = parse_customer({"external_id": "gone", "name": "Gone"})
            upsert_customer(session, org.id, data, utc_now())
            raise RuntimeError("this unit fails; the transaction goes on")
        upsert_customer(session, org.id, parse_customer({"external_id": "kept"}), utc_now())
    log = http.get("/webhooks").json()["webhooks"]
    assert [w["payload"]["customer"]["external_id"] for w in log] == ["kept"]
