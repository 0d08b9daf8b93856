"""Operating meterbill (issue 19, point 5): GET /metrics in Prometheus's format, request
ids in a response header and in every log line of the request, JSON logs, and health split
into liveness and readiness."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from meterbill.app import create_app
from meterbill.clock_runner import tick_once
from meterbill.core.db import Database
from meterbill.migrations.runner import upgrade
from meterbill.operations.health import expected_revisions
from meterbill.operations.logs import JsonFormatter, RequestIdFilter
from meterbill.settings import Settings
from tests.conftest import NOW, Org, make_org, migrated_database

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: str, **headers: str) -> Samples:
    response = httpx.get(f"{server}/metrics", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def parse(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_and_status(server: str, http: httpx.Client) -> None:
    before = scrape(server)
    assert http.get("/customers/nobody").status_code == 404
    assert http.get("/customers/nobody-else").status_code == 404
    customer = {"external_id": "cus_metrics", "name": "Metrics"}
    assert http.post("/customers", json={"customer": customer}).status_code == 200
    assert http.get("/customers/cus_metrics").status_code == 200
    assert httpx.get(f"{server}/no/such/page").status_code == 404
    after = scrape(server)

    one = "/api/v1/customers/{external_id}"
    counted = "meterbill_http_requests_total"
    assert (
        value(after, counted, method="GET", route=one, status="404")
        - value(before, counted, method="GET", route=one, status="404")
        == 2
    )
    assert (
        value(after, counted, method="GET", route=one, status="200")
        - value(before, counted, method="GET", route=one, status="200")
        == 1
    )
    route = "/api/v1/customers"
    assert (
        value(after, counted, method="POST", route=route, status="200")
        - value(before, counted, method="POST", route=route, status="200")
        == 1
    )
    timed = "meterbill_http_request_duration_seconds_count"
    assert (
        value(after, timed, method="GET", route=one, status="404")
        - value(before, timed, method="GET", route=one, status="404")
        == 2
    )
    # An unknown path is one label value, whatever was asked.
    assert (
        value(after, counted, method="GET", route="unmatched", status="404")
        - value(before, counted, method="GET", route="unmatched", status="404")
        == 1
    )
    # Never the path as requested: the cardinality of a label stays bounded.
    assert not any("nobody" in dict(labels).get("route", "") for _name, labels in after)


def _event(transaction_id: str, **fields: object) -> dict[str, object]:
    return {"transaction_id": transaction_id, "external_subscription_id": "sub_m",
            "code": "calls", **fields}  # fmt: skip


def test_events_ingested_and_refused_by_reason_and_group_commits(
    server: str, http: httpx.Client
) -> None:
    before = scrape(server)
    for index in range(3):
        assert http.post("/events", json={"event": _event(f"m{index}")}).status_code == 200
    assert http.post("/events", json={"event": _event("m0")}).status_code == 422
    invalid = _event("m-bad", timestamp="not a time")
    assert http.post("/events", json={"event": invalid}).status_code == 422
    assert http.post("/events", json={"event": 3}).status_code == 400
    batch = [_event(f"b{index}") for index in range(4)]
    assert http.post("/events/batch", json={"events": batch}).status_code == 200
    partly_stored = [_event("b0"), _event("b-new")]
    assert http.post("/events/batch", json={"events": partly_stored}).status_code == 422
    after = scrape(server)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("meterbill_events_ingested_total") == 3 + 4
    # A refused batch is refused whole: both of its events count.
    assert delta("meterbill_events_refused_total", reason="duplicate") == 1 + 2
    assert delta("meterbill_events_refused_total", reason="invalid") == 1
    assert delta("meterbill_events_refused_total", reason="malformed") == 1
    # One request at a time: every group commit held one request. The duplicate and the
    # refused batch reached the database (which refused them); the invalid ones did not.
    assert delta("meterbill_group_commit_requests_count") == 3 + 1 + 1 + 1
    assert delta("meterbill_group_commit_requests_sum") == 6
    assert delta("meterbill_group_commit_events_sum") == 3 + 1 + 4 + 2


def test_clock_jobs_are_timed_and_ticks_counted(server: str, fresh: Database) -> None:
    # The server runs in this process, so its metrics count this tick; the tick runs on a
    # database of its own, not over every other test's subscriptions in the shared one.
    before = scrape(server)
    tick_once(fresh, Settings(database_url=fresh.url))
    after = scrape(server)
    job = "meterbill_clock_job_duration_seconds_count"
    # Counters are per process: a tick that another test's code started in this process
    # just before may end inside the window, so each figure may exceed one by that much.
    ticks = value(after, "meterbill_clock_ticks_total") - value(
        before, "meterbill_clock_ticks_total"
    )
    assert 1 <= ticks <= 2
    for name in ("activate_pending", "bill_due_subscriptions", "finalize_due_drafts"):
        assert 1 <= value(after, job, job=name) - value(before, job, job=name) <= ticks
    assert value(after, "meterbill_clock_last_tick_timestamp_seconds") >= value(
        before, "meterbill_clock_last_tick_timestamp_seconds"
    )
    # The queues the workers drain, read from the database at scrape time.
    for queue in ("webhooks", "documents", "failed_invoices"):
        assert ("meterbill_clock_backlog", frozenset({("queue", queue)})) in after
    # The test server's pool holds connections open.
    assert value(after, "meterbill_db_pool_connections_open") >= 1


def test_pool_gauges_count_what_the_pool_held_before_it_was_watched(fresh: Database) -> None:
    from prometheus_client import REGISTRY

    from meterbill.operations.database import watch_pool

    def gauge(name: str) -> float:
        return REGISTRY.get_sample_value(f"meterbill_db_pool_connections_{name}") or 0.0

    with fresh.transaction() as session:
        session.execute(text("SELECT 1"))  # the pool now holds one connection, idle
    before = gauge("open"), gauge("in_use")
    watch_pool(fresh.engine)
    assert (gauge("open"), gauge("in_use")) == (before[0] + 1, before[1])
    with fresh.transaction() as session:
        session.execute(text("SELECT 1"))
        assert gauge("in_use") == before[1] + 1
    fresh.dispose()
    assert (gauge("open"), gauge("in_use")) == before


def test_webhook_deliveries_are_counted_by_outcome(
    database: Database, server: str, org: Org, receiver: object
) -> None:
    from meterbill.webhooks.delivery import DeliveryOptions, deliver_due
    from tests.webhook_receiver import Receiver

    assert isinstance(receiver, Receiver)
    http = httpx.Client(base_url=f"{server}/api/v1",
                        headers={"Authorization": f"Bearer {org.api_key}"})  # fmt: skip
    endpoint = {"webhook_url": receiver.url, "signature_algo": "hmac"}
    assert http.post("/webhook_endpoints", json={"webhook_endpoint": endpoint}).status_code == 200
    customer = {"external_id": "cus_hook", "name": "Hook"}
    assert http.post("/customers", json={"customer": customer}).status_code == 200
    before = scrape(server)
    report = deliver_due(database, NOW + timedelta(days=400), DeliveryOptions(),
                         organization_id=org.id)  # fmt: skip
    after = scrape(server)
    name = "meterbill_webhook_deliveries_total"
    assert report.succeeded >= 1
    assert (
        value(after, name, outcome="succeeded") - value(before, name, outcome="succeeded")
        == report.succeeded
    )


def test_the_request_id_is_returned_and_kept_when_sane(server: str) -> None:
    generated = httpx.get(f"{server}/health/live")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    given = httpx.get(f"{server}/health/live", headers={"X-Request-Id": "lb-7f3a.42"})
    assert given.headers["x-request-id"] == "lb-7f3a.42"
    for insane in ("has spaces in it", "x" * 129, "semi;colon"):
        answered = httpx.get(f"{server}/health/live", headers={"X-Request-Id": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", answered.headers["x-request-id"])
    # Refusals carry it too.
    refused = httpx.get(f"{server}/api/v1/customers", headers={"X-Request-Id": "r-401"})
    assert refused.status_code == 401
    assert refused.headers["x-request-id"] == "r-401"


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[tuple[Database, Settings]]:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    upgrade(url)
    db = Database(url, pool_size=2)
    yield db, Settings(database_url=url, clock_interval_seconds=0, storage_dir=str(tmp_path))
    db.dispose()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the JSON log handler of `serve` writes, captured."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_log_line_of_a_request_carries_its_id(
    sqlite_app: tuple[Database, Settings], json_log: io.StringIO
) -> None:
    db, settings = sqlite_app
    app = create_app(settings, db)

    # A sync route runs in a worker thread: the id follows it there.
    @app.get("/logging-route")
    def logging_route() -> dict[str, str]:
        logging.getLogger("meterbill.test").warning("inside the route", extra={"step": 1})
        return {}

    with TestClient(app) as client:
        response = client.get("/logging-route", headers={"X-Request-Id": "req-1"})
        other = client.get("/logging-route")
    assert response.headers["x-request-id"] == "req-1"
    lines = [orjson.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "req-1"]
    assert [(line["logger"], line["message"]) for line in mine] == [
        ("meterbill.test", "inside the route"),
        ("meterbill.access", "GET /logging-route 200 " + mine[1]["message"].split(" 200 ")[1]),
    ]
    assert mine[0]["level"] == "warning" and mine[0]["step"] == 1
    assert mine[1] | {"time": None, "duration_ms": None, "message": None} == {
        "time": None, "level": "info", "logger": "meterbill.access", "message": None,
        "request_id": "req-1", "method": "GET", "route": "/logging-route",
        "path": "/logging-route", "status": 200, "duration_ms": None,
    }  # fmt: skip
    other_id = other.headers["x-request-id"]
    assert [line["logger"] for line in lines if line.get("request_id") == other_id] == [
        "meterbill.test",
        "meterbill.access",
    ]


def test_liveness_and_readiness(server: str) -> None:
    live = httpx.get(f"{server}/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "ok", "version": "0.1.0"})
    ready = httpx.get(f"{server}/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "version": "0.1.0",
        "checks": {"database": "ok", "migrations": "ok", "event_store": "ok"},
    }
    # The old route answers as before.
    assert httpx.get(f"{server}/health").json() == {"status": "ok", "database": "ok"}


def test_not_ready_when_the_database_does_not_answer() -> None:
    unreachable = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    app = create_app(Settings(database_url=unreachable.url, clock_interval_seconds=0), unreachable)
    client = TestClient(app)
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "version": "0.1.0",
        "checks": {
            "database": "unreachable: OperationalError",
            "migrations": "unknown",
            "event_store": "unreachable: OperationalError",
        },
    }
    # Alive all the same: restarting the process would not bring the database back.
    assert client.get("/health/live").status_code == 200


def test_not_ready_when_the_migrations_are_behind(database: Database, tmp_path: Path) -> None:
    with migrated_database(database, tmp_path, "behind") as db:
        with db.transaction() as session:
            session.execute(text("UPDATE alembic_version SET version_num = '0021'"))
        app = create_app(Settings(database_url=db.url, clock_interval_seconds=0), db)
        ready = TestClient(app).get("/health/ready")
        assert ready.status_code == 503
        (head,) = expected_revisions()
        assert ready.json()["checks"] == {
            "database": "ok",
            "migrations": f"database at 0021, code expects {head}",
            "event_store": "ok",
        }
        with db.transaction() as session:
            session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        assert TestClient(app).get("/health/ready").status_code == 200


def test_metrics_can_require_a_token(sqlite_app: tuple[Database, Settings]) -> None:
    db, settings = sqlite_app
    app = create_app(settings.model_copy(update={"metrics_token": "s3cret"}), db)
    client = TestClient(app)
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json() == {"status": 401, "error": "Unauthorized"}
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answered = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert answered.status_code == 200
    assert "meterbill_http_requests_total" in answered.text


def test_an_organization_api_key_is_not_a_metrics_token(
    sqlite_app: tuple[Database, Settings],
) -> None:
    db, settings = sqlite_app
    key = make_org(db).api_key
    app = create_app(settings.model_copy(update={"metrics_token": "s3cret"}), db)
    assert (
        TestClient(app).get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code
        == 401
    )


def test_not_ready_when_the_clickhouse_event_store_does_not_answer(
    sqlite_app: tuple[Database, Settings],
) -> None:
    pytest.importorskip("clickhouse_connect")
    from meterbill import event_store
    from meterbill.event_store.clickhouse.connection import HttpConnection
    from meterbill.event_store.clickhouse.store import ClickHouseEventStore

    db, settings = sqlite_app
    nowhere = ClickHouseEventStore(HttpConnection("clickhouse://127.0.0.1:1/meterbill"))
    event_store.use(db.engine, nowhere)
    ready = TestClient(create_app(settings, db)).get("/health/ready")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert (checks["database"], checks["migrations"]) == ("ok", "ok")
    assert checks["event_store"].startswith("unreachable: ")
