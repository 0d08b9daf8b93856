"""Event ingestion: fields, idempotency (also under concurrency), batches, reading."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.event import BatchEvent, Event

from meterbill.core.db import Database
from meterbill.core.pagination import PageRequest
from meterbill.event_store import store_for
from meterbill.event_store.clickhouse.store import ClickHouseEventStore
from meterbill.events.service import EventFilters, list_events
from tests.conftest import Org
from tests.factories import make_metric

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True
CLICKHOUSE_HTTP = True

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def event(transaction_id: str = "tr_1", **fields: Any) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "external_subscription_id": "sub_1",
            "code": "storage", **fields}  # fmt: skip


def nested(depth: int) -> dict[str, Any]:
    """Properties nesting `depth` levels deep."""
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = [value]
    return {"deep": value}


def stored_count(database: Database, org: Org) -> int:
    # Through the event store, whichever holds the events.
    with database.transaction(write=False) as session:
        page = list_events(session, org.id, EventFilters(), PageRequest(page=1, per_page=1))
        return int(page.meta["total_count"])


def test_create_through_the_official_client(lago: Client) -> None:
    created = lago.events.create(
        Event(
            transaction_id="tr_123",
            external_subscription_id="sub_1",
            code="storage",
            timestamp=1704067200.123,
            properties={"gb": 10, "region": "us"},
            precise_total_amount_cents="1234.56",
        )
    )
    assert created is not None
    assert (created.transaction_id, created.code, created.external_subscription_id) == (
        "tr_123", "storage", "sub_1",
    )  # fmt: skip
    assert created.timestamp == "2024-01-01T00:00:00.123Z"
    assert created.properties == {"gb": 10, "region": "us"}
    assert created.precise_total_amount_cents == "1234.56"
    assert created.lago_customer_id is None and created.lago_subscription_id is None
    found = lago.events.find("tr_123")
    assert found.lago_id == created.lago_id and found.timestamp == created.timestamp


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (1651240791, "2022-04-29T13:59:51.000Z"),
        ("1651240791.123", "2022-04-29T13:59:51.123Z"),
        (1651240791.5, "2022-04-29T13:59:51.500Z"),
    ],
)
def test_timestamp_formats(http: httpx.Client, timestamp: Any, expected: str) -> None:
    body = http.post("/events", json={"event": event(timestamp=timestamp)}).json()
    assert body["event"]["timestamp"] == expected


def test_missing_timestamp_is_reception_time(http: httpx.Client) -> None:
    body = http.post("/events", json={"event": event()}).json()["event"]
    assert body["timestamp"][:16] == body["created_at"][:16]


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"transaction_id": None}, {"transaction_id": ["value_is_mandatory"]}),
        ({"code": ""}, {"code": ["value_is_mandatory"]}),
        ({"timestamp": "2024-01-01T00:00:00Z"}, {"timestamp": ["invalid_format"]}),
        ({"timestamp": True}, {"timestamp": ["invalid_format"]}),
        ({"properties": [1, 2]}, {"properties": ["value_is_invalid"]}),
        (
            {"precise_total_amount_cents": "lots"},
            {"precise_total_amount_cents": ["value_is_invalid"]},
        ),
        # What the database would refuse, refused before the event joins a group commit.
        ({"transaction_id": "a\u0000b"}, {"transaction_id": ["value_is_invalid"]}),
        ({"code": "storage\u0000"}, {"code": ["value_is_invalid"]}),
        (
            {"external_subscription_id": "\u0000"},
            {"external_subscription_id": ["value_is_invalid"]},
        ),
        ({"transaction_id": "t" * 256}, {"transaction_id": ["value_is_too_long"]}),
        ({"code": "c" * 1_000_000}, {"code": ["value_is_too_long"]}),
        (
            {"external_subscription_id": "s" * 256},
            {"external_subscription_id": ["value_is_too_long"]},
        ),
        ({"properties": {"k\u0000": "v"}}, {"properties": ["value_is_invalid"]}),
        ({"properties": {"k": "v\u0000"}}, {"properties": ["value_is_invalid"]}),
        (
            {"properties": {"a": {"b": [1, {"c\u0000d": None}]}}},
            {"properties": ["value_is_invalid"]},
        ),
        ({"properties": nested(101)}, {"properties": ["value_is_invalid"]}),
        ({"properties": nested(300)}, {"properties": ["value_is_invalid"]}),
        ({"properties": {"blob": "x" * 65_536}}, {"properties": ["value_is_too_long"]}),
        ({"properties": {"k" * 256: "v"}}, {"properties": ["value_is_too_long"]}),
        # Rollups index the names of numeric properties, with the subscription and code:
        # 710 four-byte characters are more than PostgreSQL indexes.
        (
            {
                "external_subscription_id": "😀" * 255,
                "code": "😀" * 255,
                "properties": {"😀" * 200: 1},
            },
            {"properties": ["value_is_too_long"]},
        ),
        # No NUMERIC reads more than 16383 digits after the point.
        ({"properties": {"v": "0." + "1" * 16_384}}, {"properties": ["value_is_out_of_range"]}),
        (
            {"precise_total_amount_cents": "1e-20000"},
            {"precise_total_amount_cents": ["value_is_out_of_range"]},
        ),
        (
            {"precise_total_amount_cents": "1e23"},
            {"precise_total_amount_cents": ["value_is_out_of_range"]},
        ),
    ],
)
def test_invalid_event_is_refused(
    http: httpx.Client, database: Database, org: Org, fields: dict[str, Any], details: Any
) -> None:
    response = http.post("/events", json={"event": event(**fields)})
    assert response.status_code == 422
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    assert stored_count(database, org) == 0


def test_the_largest_accepted_values_are_stored_as_sent(
    http: httpx.Client, database: Database, org: Org
) -> None:
    properties = {
        "k" * 255: "v",
        "deep": nested(100)["deep"],
        # Numbers no column holds, in properties no metric reads: identifiers, stored
        # as Lago stores them (an ICCID, digits beyond NUMERIC(38, 15)).
        "iccid": "89014103211118510720",
        "huge": "1" + "0" * 30,
        "float": 1e300,
        "fine": "0." + "1" * 16_383,
        # A backslash and "u0000" are six characters, not a NUL.
        "escaped": "\\u0000",
    }
    body = event("t" * 255, code="c" * 255, external_subscription_id="s" * 255,
                 properties=properties)  # fmt: skip
    response = http.post("/events", json={"event": body})
    assert response.status_code == 200
    assert http.get("/events/" + "t" * 255).json()["event"]["properties"] == properties
    padding = 65_536 - len('{"blob":""}')
    response = http.post(
        "/events", json={"event": event("big", properties={"blob": "x" * padding})}
    )
    assert response.status_code == 200
    assert stored_count(database, org) == 2


@pytest.mark.parametrize("aggregation", ["sum_agg", "max_agg", "weighted_sum_agg", "latest_agg"])
def test_numbers_no_column_holds_are_refused_where_a_metric_reads_them(
    http: httpx.Client, database: Database, org: Org, aggregation: str
) -> None:
    make_metric(database, org.id, "storage", aggregation, field_name="gb")
    make_metric(database, org.id, "ids", "unique_count_agg", field_name="gb")
    refused = {**UNPROCESSABLE, "error_details": {"properties": ["value_is_out_of_range"]}}
    for value in (1e23, -1e23, "100000000000000000000000", 10**19 * 1e5):
        response = http.post("/events", json={"event": event("t", properties={"gb": value})})
        assert response.json() == refused, value
    batch = [
        event("b0", properties={"gb": "99999999999999999999999.999999999999999"}),
        event("b1", properties={"gb": "1" + "0" * 23, "other": 1}),
        event("b2", properties={"other": "1" + "0" * 23}),
        event("b3", properties={"gb": "-1" + "0" * 40}),
    ]
    assert http.post("/events/batch", json={"events": batch}).json() == {
        **UNPROCESSABLE, "error_details": {"1": {"properties": ["value_is_out_of_range"]},
                                           "3": {"properties": ["value_is_out_of_range"]}},
    }  # fmt: skip
    assert stored_count(database, org) == 0
    # The largest number the column holds; any number where no such metric reads it.
    accepted = [
        event("ok0", properties={"gb": "99999999999999999999999.999999999999999"}),
        event("ok1", properties={"other": 1e30}),
        event("ok2", code="ids", properties={"gb": 1e30}),
        event("ok3", code="nothing", properties={"gb": 1e30}),
    ]
    for item in accepted:
        assert http.post("/events", json={"event": item}).status_code == 200
    assert stored_count(database, org) == 4


def test_missing_event_root_is_400(http: httpx.Client) -> None:
    assert http.post("/events", json={"transaction_id": "x"}).json() == {
        "status": 400,
        "error": "BadRequest: param is missing or the value is empty or invalid: event",
    }


def test_duplicate_is_refused_and_changes_nothing(
    http: httpx.Client, database: Database, org: Org
) -> None:
    first = http.post("/events", json={"event": event(properties={"gb": 1})})
    assert first.status_code == 200
    again = http.post("/events", json={"event": event(properties={"gb": 99})})
    assert again.json() == {
        **UNPROCESSABLE,
        "error_details": {"transaction_id": ["value_already_exist"]},
    }
    assert http.get("/events/tr_1").json()["event"]["properties"] == {"gb": 1}
    # The same transaction id under another subscription is another event.
    other = http.post("/events", json={"event": event(external_subscription_id="sub_2")})
    assert other.status_code == 200
    assert stored_count(database, org) == 2


def test_clickhouse_keeps_one_key_per_stored_event(
    http: httpx.Client, database: Database, org: Org
) -> None:
    # The duplicate check reads event_keys: exactly one key per stored event, none for a
    # refused duplicate.
    with database.transaction(write=False) as session:
        store = store_for(session)
    if not isinstance(store, ClickHouseEventStore):
        pytest.skip("event_keys is the ClickHouse store's")
    batch = [event("k1"), event("k2"), event("k3", external_subscription_id="sub_2")]
    assert http.post("/events/batch", json={"events": batch}).status_code == 200
    assert http.post("/events", json={"event": event("k2")}).status_code == 422
    keys = store.connection.query(
        "SELECT transaction_id, external_subscription_id, code FROM event_keys"
        " WHERE organization_id = {org:UUID} ORDER BY transaction_id",
        {"org": str(org.id)},
    )
    assert keys == [["k1", "sub_1", "storage"], ["k2", "sub_1", "storage"],
                    ["k3", "sub_2", "storage"]]  # fmt: skip
    assert stored_count(database, org) == 3


def test_concurrent_duplicates_store_one_event(server: str, database: Database, org: Org) -> None:
    def send(_index: int) -> int:
        with httpx.Client(
            base_url=f"{server}/api/v1",
            headers={"Authorization": f"Bearer {org.api_key}"},
            timeout=120,
        ) as client:
            statuses = []
            for _ in range(25):
                response = client.post("/events", json={"event": event("same")})
                statuses.append(response.status_code)
            return statuses.count(200)

    with ThreadPoolExecutor(max_workers=40) as pool:
        accepted = sum(pool.map(send, range(40)))
    # 1 000 requests for one transaction: exactly one accepted and stored.
    assert accepted == 1
    assert stored_count(database, org) == 1


def test_batch(lago: Client, http: httpx.Client, database: Database, org: Org) -> None:
    lago.events.batch_create(
        BatchEvent(events=[Event(**event(f"b{i}", properties={"gb": i})) for i in range(100)])
    )
    assert stored_count(database, org) == 100
    body = http.post("/events/batch", json={"events": [event("c1"), event("c2")]}).json()
    assert [item["transaction_id"] for item in body["events"]] == ["c1", "c2"]


@pytest.mark.parametrize(
    ("events", "details"),
    [
        ([], {"events": ["no_events"]}),
        ([event(f"x{i}") for i in range(101)], {"events": ["too_many_events"]}),
        ([event("ok"), event("bad", timestamp="nope")], {"1": {"timestamp": ["invalid_format"]}}),
        ([event("d"), event("e"), event("d")], {"2": {"transaction_id": ["value_already_exist"]}}),
        ([event("ok"), event("stored")], {"1": {"transaction_id": ["value_already_exist"]}}),
    ],
)
def test_batch_is_all_or_nothing(
    http: httpx.Client, database: Database, org: Org, events: list[Any], details: Any
) -> None:
    http.post("/events", json={"event": event("stored")})
    response = http.post("/events/batch", json={"events": events})
    assert response.status_code == 422
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    assert stored_count(database, org) == 1


def test_reading_events(http: httpx.Client) -> None:
    for index, (code, sub) in enumerate([("a", "s1"), ("b", "s1"), ("a", "s2")]):
        http.post("/events", json={"event": {
            "transaction_id": f"t{index}", "code": code, "external_subscription_id": sub,
            "timestamp": 1704067200 + index * 3600}})  # fmt: skip

    def ids(**params: Any) -> list[str]:
        return [e["transaction_id"] for e in http.get("/events", params=params).json()["events"]]

    assert ids() == ["t2", "t1", "t0"]
    assert ids(code="a") == ["t2", "t0"]
    assert ids(external_subscription_id="s1") == ["t1", "t0"]
    assert ids(timestamp_from="2024-01-01T01:00:00Z", timestamp_to="2024-01-01T01:30:00Z") == ["t1"]
    assert http.get("/events", params={"timestamp_from": "x"}).status_code == 422
    assert http.get("/events/nope").json() == {
        "status": 404, "error": "Not Found", "code": "event_not_found",
    }  # fmt: skip
    # A NUL in a filter is a 400 and in a path a 404 (core/guards.py), no database error.
    for params in ({"code": "a\u0000"}, {"external_subscription_id": "s1\u0000"}):
        assert http.get("/events", params=params).status_code == 400
    assert http.get("/events/t1%00").status_code == 404
    http.post("/events", json={"event": event("a/b c")})
    assert http.get("/events/a%2Fb%20c").json()["event"]["transaction_id"] == "a/b c"


def test_concurrent_overlapping_batches_stay_all_or_nothing(
    server: str, database: Database, org: Org
) -> None:
    """Batch k holds transactions k..k+9: overlapping batches race; each one is either
    stored whole or refused whole, whatever transaction it shares with others."""

    def send(k: int) -> int:
        with httpx.Client(
            base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {org.api_key}"}
        ) as client:
            batch = [event(f"o{k + i}") for i in range(10)]
            return client.post("/events/batch", json={"events": batch}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(send, range(60)))
    accepted = statuses.count(200)
    assert accepted >= 1 and set(statuses) <= {200, 422}
    assert stored_count(database, org) == 10 * accepted
