"""events.errors: the hourly report of the hour's invalid events (Lago's
Clock::EventsValidationJob, Events::PostValidationService), through the API and the
clock; tests/db/test_events_validation.py holds the hour's bounds and the races."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from meterbill.clock import STEPS, ClockOptions, TickReport
from meterbill.core.dates import parse_instant
from meterbill.core.db import Database
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import ok as _ok

# Also on the ClickHouse store: the report reads the hour's events through the store.
EVERY_EVENT_STORE = True


def _reports(http: httpx.Client) -> list[dict[str, Any]]:
    params = {"per_page": "100", "webhook_type": "events.errors"}
    return list(reversed(_ok(http.get("/webhooks", params=params))["webhooks"]))


def _metric(http: httpx.Client, code: str, aggregation: str, **extra: Any) -> None:
    body = {"name": code, "code": code, "aggregation_type": aggregation, **extra}
    _ok(http.post("/billable_metrics", json={"billable_metric": body}))


def _setup(http: httpx.Client, receiver: Receiver) -> None:
    endpoint = {"webhook_url": receiver.url, "event_types": ["events.errors"]}
    _ok(http.post("/webhook_endpoints", json={"webhook_endpoint": endpoint}))
    _metric(http, "calls", "sum_agg", field_name="units",
            filters=[{"key": "region", "values": ["eu", "us"]}])  # fmt: skip
    _metric(http, "users", "unique_count_agg", field_name="user_id")
    _metric(http, "seats", "count_agg")
    _metric(http, "old", "sum_agg", field_name="units")
    _ok(http.delete("/billable_metrics/old"))


def _hour_of(http: httpx.Client, transaction_id: str) -> datetime:
    created = parse_instant(_ok(http.get(f"/events/{transaction_id}"))["event"]["created_at"])
    assert created is not None
    return created.replace(minute=0, second=0, microsecond=0)


def _report_step(database: Database, now: datetime, options: ClockOptions = ClockOptions()) -> None:
    """The clock's own events.errors job, as `tick` runs it, without the other jobs: a
    full tick here would bill every other test's subscriptions in this shared database
    (over a minute on ClickHouse)."""
    step = dict(STEPS)["report_invalid_events"]
    step(database, now, TickReport(), None, options)


def test_the_hour_s_invalid_events_are_reported_once(
    database: Database, http: httpx.Client, receiver: Receiver
) -> None:
    _setup(http, receiver)
    calls = {"external_subscription_id": "sub", "code": "calls"}
    events = [
        {**calls, "transaction_id": "ok", "properties": {"units": 1, "region": "eu"}},
        {**calls, "transaction_id": "code", "code": "nope", "properties": {"units": 1}},
        # A code whose metric was deleted: Lago's view leaves such events out.
        {**calls, "transaction_id": "deleted", "code": "old", "properties": {}},
        {**calls, "transaction_id": "absent", "properties": {}},
        {**calls, "transaction_id": "text", "properties": {"units": "many"}},
        {**calls, "transaction_id": "region", "properties": {"units": 2, "region": "asia"}},
        {**calls, "transaction_id": "both", "properties": {"region": "asia"}},
        {**calls, "transaction_id": "null_region", "properties": {"units": 2, "region": None}},
        {**calls, "transaction_id": "user", "code": "users", "properties": {"id": "u1"}},
        {**calls, "transaction_id": "seat", "code": "seats", "properties": {}},
        {**calls, "transaction_id": "decimal", "properties": {"units": "-1.5"}},
    ]
    _ok(http.post("/events/batch", json={"events": events}))
    hour = _hour_of(http, "ok")
    end = hour + timedelta(hours=1)

    # Lago's clock reports at :05 the hour that ended.
    _report_step(database, end + timedelta(minutes=4, seconds=59))
    assert _reports(http) == []
    _report_step(database, end + timedelta(minutes=5))
    [report] = _reports(http)
    assert report["payload"] == {
        "webhook_type": "events.errors",
        "object_type": "events_errors",
        "organization_id": report["payload"]["organization_id"],
        "events_errors": {
            "invalid_code": ["code"],
            "missing_aggregation_property": ["absent", "text", "both", "user"],
            "missing_group_key": [],
            "invalid_filter_values": ["region", "both"],
        },
    }
    assert report["object_id"] is None
    # The clock ticks every minute: one report per hour.
    _report_step(database, end + timedelta(minutes=6))
    _report_step(database, end + timedelta(minutes=59))
    assert len(_reports(http)) == 1
    # The next hour had no events: nothing to report.
    _report_step(database, end + timedelta(hours=1, minutes=5))
    assert len(_reports(http)) == 1


def test_nothing_when_every_event_is_valid_or_the_report_is_off(
    database: Database, http: httpx.Client, receiver: Receiver
) -> None:
    _setup(http, receiver)
    good = {"transaction_id": "ok", "external_subscription_id": "sub", "code": "calls",
            "properties": {"units": 1}}  # fmt: skip
    _ok(http.post("/events", json={"event": good}))
    end = _hour_of(http, "ok") + timedelta(hours=1)
    _report_step(database, end + timedelta(minutes=5))
    assert _reports(http) == []

    bad = {**good, "transaction_id": "bad", "code": "nope"}
    _ok(http.post("/events", json={"event": bad}))
    end = _hour_of(http, "bad") + timedelta(hours=1)
    _report_step(database, end + timedelta(minutes=5), ClockOptions(validate_events=False))
    assert _reports(http) == []
