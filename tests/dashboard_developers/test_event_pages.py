"""Developers › Events: the latest events received, each billed or not and why
(unknown subscription, unknown metric, no charge, invalid value), with the filters and
the pages in the URL, and an event's page with its properties."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event as sqlalchemy_event

from meterbill.core.db import Database
from meterbill.events.billability import billability
from meterbill.events.listing import EventLogFilters, latest_events
from tests.conftest import Org, make_org
from tests.dashboard_developers.pages import api_post, rows_of, text_of

# Also on the ClickHouse store: the page reads events through the store.
EVERY_EVENT_STORE = True
JUNE = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
BEFORE_START = datetime(2025, 6, 1, tzinfo=UTC)


def seed_catalog(client: TestClient, org: Org) -> None:
    """Customer acme with subscription sub-1 (from Jan 1, 2026) to a plan charging calls
    (count) and storage (sum of gb); seats is a metric the plan does not charge."""
    metrics = {}
    for code, aggregation, field in (("calls", "count_agg", None), ("storage", "sum_agg", "gb"),
                                     ("seats", "sum_agg", "seats")):  # fmt: skip
        body: dict[str, Any] = {"name": code.title(), "code": code, "aggregation_type": aggregation}
        if field:
            body["field_name"] = field
        metrics[code] = api_post(client, org, "/billable_metrics", {"billable_metric": body})
    charges = [
        {"billable_metric_id": metrics[code]["billable_metric"]["lago_id"],
         "charge_model": "standard", "properties": {"amount": "1"}}
        for code in ("calls", "storage")
    ]  # fmt: skip
    api_post(client, org, "/plans", {"plan": {
        "name": "Scale", "code": "scale", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "EUR", "charges": charges}})  # fmt: skip
    api_post(client, org, "/customers", {"customer": {"external_id": "acme", "currency": "EUR"}})
    api_post(client, org, "/subscriptions", {"subscription": {
        "external_customer_id": "acme", "plan_code": "scale", "external_id": "sub-1",
        "subscription_at": "2026-01-01T00:00:00Z"}})  # fmt: skip


def send(client: TestClient, org: Org, transaction_id: str, code: str, subscription: str = "sub-1",
         properties: dict[str, Any] | None = None, at: datetime = JUNE) -> None:  # fmt: skip
    event = {
        "transaction_id": transaction_id,
        "external_subscription_id": subscription,
        "code": code,
        "timestamp": int(at.timestamp()),
        "properties": properties or {},
    }
    api_post(client, org, "/events", {"event": event})


EVENTS = [
    ("billed-call", "calls", "sub-1", None, JUNE),
    ("billed-storage", "storage", "sub-1", {"gb": "2.5"}, JUNE),
    ("stranger", "calls", "sub-unknown", None, JUNE),
    ("too-early", "calls", "sub-1", None, BEFORE_START),
    ("typo", "cals", "sub-1", None, JUNE),
    ("unpriced", "seats", "sub-1", {"seats": 3}, JUNE),
    ("wordy", "storage", "sub-1", {"gb": "lots"}, JUNE),
    ("empty", "storage", "sub-1", {"region": "eu"}, JUNE),
]
# What each row says in its Billing column.
VERDICTS = {
    "billed-call": "Billed",
    "billed-storage": "Billed",
    "stranger": "Not billed: Unknown subscription No subscription has the external ID "
    "“sub-unknown”.",
    "too-early": "Not billed: Unknown subscription Subscription “sub-1” was not active at the "
    "event's timestamp.",
    "typo": "Not billed: Unknown metric No billable metric has the code “cals”.",
    "unpriced": "Not billed: No charge The subscription's plan has no charge for “seats”.",
    "wordy": "Not billed: Invalid value The property “gb” is not a number.",
    "empty": "Not billed: Invalid value The property “gb” is missing.",
}


@pytest.fixture
def seeded(client: TestClient, org: Org) -> TestClient:
    seed_catalog(client, org)
    for transaction_id, code, subscription, properties, at in EVENTS:
        send(client, org, transaction_id, code, subscription, properties, at)
    return client


def rows_by_transaction(html: str) -> dict[str, str]:
    return {row.split(" ", 1)[0]: row for row in rows_of(html)}


def test_each_event_says_whether_it_is_billed_and_why_not(seeded: TestClient) -> None:
    page = seeded.get("/developers/events")
    assert page.status_code == 200
    rows = rows_of(page.text)
    # The most recently received first.
    assert [row.split(" ", 1)[0] for row in rows] == [item[0] for item in reversed(EVENTS)]
    by_id = rows_by_transaction(page.text)
    for transaction_id, verdict in VERDICTS.items():
        assert by_id[transaction_id].endswith(verdict), by_id[transaction_id]
    # The customer comes from the subscription; an unknown one has none.
    assert by_id["typo"].startswith("typo cals sub-1 acme Jun 1, 2026, 09:30 ")
    assert by_id["stranger"].startswith("stranger calls sub-unknown - Jun 1, 2026, 09:30 ")
    assert by_id["too-early"].startswith("too-early calls sub-1 acme Jun 1, 2025, 00:00 ")


def test_the_filters_narrow_the_list_and_stay_in_the_url(seeded: TestClient) -> None:
    def shown(query: str) -> list[str]:
        return sorted(rows_by_transaction(seeded.get(f"/developers/events?{query}").text))

    everything_of_acme = sorted(item[0] for item in EVENTS if item[2] == "sub-1")
    assert shown("external_customer_id=acme") == everything_of_acme
    assert shown("external_subscription_id=sub-unknown") == ["stranger"]
    assert shown("external_customer_id=acme&external_subscription_id=sub-unknown") == []
    assert shown("code=storage") == ["billed-storage", "empty", "wordy"]
    assert shown("code=storage&external_customer_id=acme") == ["billed-storage", "empty", "wordy"]
    assert shown("from=2026-01-01") == sorted(item[0] for item in EVENTS if item[4] == JUNE)
    assert shown("to=2025-12-31") == ["too-early"]
    assert shown("from=2025-06-01&to=2025-06-01") == ["too-early"]
    # The form shows the filters it was given; junk dates are ignored, not a 500.
    page = seeded.get("/developers/events?code=storage&from=2026-13-45&before=abc")
    assert page.status_code == 200 and 'name="code" value="storage"' in page.text
    unknown = seeded.get("/developers/events?external_customer_id=nobody")
    assert "No customer has the external ID “nobody”" in text_of(unknown.text)
    assert "No event matches these filters" in text_of(seeded.get("/developers/events?code=x").text)


def test_pages_follow_each_other_by_cursor(client: TestClient, org: Org) -> None:
    body = {"events": [
        {"transaction_id": f"tx-{index:02}", "external_subscription_id": "sub-x", "code": "calls",
         "timestamp": int(JUNE.timestamp())}
        for index in range(53)
    ]}  # fmt: skip
    api_post(client, org, "/events/batch", body)
    first = client.get("/developers/events?code=calls")
    ids = list(rows_by_transaction(first.text))
    assert len(ids) == 50 and ids[0] == "tx-52" and ids[-1] == "tx-03"
    [older] = re.findall(r'href="([^"]+)" rel="next"', first.text)
    assert "code=calls" in older and "before=" in older
    assert not re.findall(r'rel="prev"', first.text)
    second = client.get(older.replace("&amp;", "&"))
    assert list(rows_by_transaction(second.text)) == ["tx-02", "tx-01", "tx-00"]
    assert not re.findall(r'rel="next"', second.text)
    [newer] = re.findall(r'href="([^"]+)" rel="prev"', second.text)
    back = client.get(newer.replace("&amp;", "&"))
    assert list(rows_by_transaction(back.text)) == ids


def test_an_events_page_shows_its_properties(seeded: TestClient) -> None:
    page = seeded.get("/developers/events?external_subscription_id=sub-1&code=storage")
    link = re.search(r'href="(/developers/events/\d+)">wordy<', page.text)
    assert link
    event = text_of(seeded.get(link.group(1)).text)
    assert "Not billed: Invalid value The property “gb” is not a number." in event
    assert "Transaction ID wordy" in event and "Customer external ID acme" in event
    assert '{ "gb": "lots" }' in event


def test_another_organizations_event_is_not_found(client: TestClient, database: Database) -> None:
    other = make_org(database, "Other")
    send(client, other, "theirs", "calls", "sub-z")
    with database.transaction(write=False) as session:
        [event] = latest_events(session, other.id, EventLogFilters()).events
        event_id = event.id
    assert client.get(f"/developers/events/{event_id}").status_code == 404
    assert "theirs" not in client.get("/developers/events").text
    for junk in ("abc", "0", "99999999999999999999999"):
        assert client.get(f"/developers/events/{junk}").status_code == 404


def test_billability_costs_the_same_queries_for_one_event_or_a_page(
    seeded: TestClient, database: Database, org: Org
) -> None:
    """Three queries (metrics, subscriptions, charges), whatever the number of rows."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Not SQLite's BEGIN: with events elsewhere, billability's query is the first.
        if statement.startswith("SELECT"):
            statements.append(statement)

    with database.transaction(write=False) as session:
        events = latest_events(session, org.id, EventLogFilters()).events
        assert len(events) == len(EVENTS)
        # A billed event first: one that needs all three lookups (an event of no known
        # subscription would spare the charges' query).
        events.sort(key=lambda event: event.transaction_id != "billed-call")
        sqlalchemy_event.listen(database.engine, "before_cursor_execute", count)
        try:
            billability(session, org.id, events[:1])
            one = len(statements)
            billability(session, org.id, events)
            every = len(statements) - one
        finally:
            sqlalchemy_event.remove(database.engine, "before_cursor_execute", count)
    assert one == every == 3
