"""The ClickHouse event store: batch ingestion, and current usage over 100M events.

    .venv/bin/python bench/clickhouse.py ingest [--events 500000] [--batch 2000]
    .venv/bin/python bench/clickhouse.py ingest --per-request 100 [--events 500000]
    .venv/bin/python bench/clickhouse.py usage [--total 100000000] [--period 10000000]
                                               [--requests 100] [--no-settle]
    .venv/bin/python bench/clickhouse.py page [--total 10000000] [--requests 30]

The engine is chdb (ClickHouse in process, the `clickhouse` extra), on disk in a
temporary folder; the relational records are in SQLite. Nothing is sent over HTTP. The
garbage collector runs with the server's thresholds (meterbill.app.create_app).

ingest: events go through the store's `insert_many` (the duplicate check against
event_keys, the rows as JSON, one synchronous insert per table at the relational
commit, the hourly view fed by the events' insert) in transactions of --batch events.
The raw floor, same run: the same prebuilt rows inserted in the same batches into a
MergeTree of the events' definition (its projection and indexes) without the check, the
keys or the view. With --per-request N: requests of N events all queued at once go
through the group commit (events.group_commit), which makes its groups as large as the
store takes (10,000 events on ClickHouse).

usage: --total events are made inside the engine (INSERT ... SELECT FROM numbers), of
which --period belong to one subscription's current period (more of its events lie in
earlier months, the rest belong to 100 other subscriptions); then, unless --no-settle,
the merges the load started are left to finish (a store at rest). Then --requests calls of
the current usage service for that subscription (a plan with a sum charge and a count
charge), each checked against the exact figures computed here, and a batch half made of
duplicates is ingested: the usage must grow by the new half only.

page: the same events (a tenth in the current period), then the dashboard's events page
as it runs (events.listing, then events.billability for the 50 rows) for one
subscription, a customer of two, the organization, a second page by cursor; and one
hour's events.errors checks (events.validation's store reads). Events are received at
their timestamps here, so the newest received are the period's last.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import orjson
from prometheus_client import REGISTRY

from meterbill import event_store
from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.event_store.clickhouse import open_store
from meterbill.event_store.clickhouse.ingestion import EVENT_COLUMNS, rows
from meterbill.events.group_commit import GroupCommitter, Pending
from meterbill.events.schemas import EventInput
from meterbill.events.service import NewEvent, insert_many
from meterbill.metrics.schemas import parse_metric
from meterbill.metrics.service import create_metric
from meterbill.migrations.runner import upgrade
from meterbill.organizations.service import create_organization
from meterbill.plans.schemas import parse_plan
from meterbill.plans.service import create_plan
from meterbill.subscriptions.models import Subscription
from meterbill.usage.service import compute_current_usage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import percentile

START = datetime(2026, 1, 1, tzinfo=UTC)
PERIOD = datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 20, 12, tzinfo=UTC)


def relational(folder: str) -> tuple[Database, uuid.UUID]:
    url = f"sqlite:///{folder}/bench.db"
    upgrade(url)
    db = Database(url, pool_size=2)
    with db.transaction() as session:
        organization_id = create_organization(session, "Bench", START).id
    return db, organization_id


def _made(organization_id: uuid.UUID, events: int) -> list[NewEvent]:
    return [
        NewEvent(organization_id, EventInput(
            f"t{index}", f"sub_{index % 1000}", "storage" if index % 2 else "calls",
            PERIOD + timedelta(seconds=index * 0.5), {"gb": index % 7 + 1, "region": "eu"},
            None, orjson.dumps({"gb": index % 7 + 1, "region": "eu"}).decode()), NOW)
        for index in range(events)
    ]  # fmt: skip


@contextmanager
def ingestion_run(events: int) -> Iterator[tuple[Database, Any, list[NewEvent]]]:
    """A SQLite database and a chdb store on disk, both new, and `events` events to
    ingest into them; stopped before the folder is removed."""
    with TemporaryDirectory() as tmp:
        db, organization_id = relational(tmp)
        store = open_store(f"chdb://{tmp}/clickhouse")
        event_store.use(db.engine, store)  # type: ignore[arg-type]
        try:
            yield db, store, _made(organization_id, events)
            [[stored]] = store.connection.query("SELECT count() FROM events")
            assert int(stored) == events
        finally:
            db.dispose()
            store.connection.close()  # stops its merges before the folder is removed


def ingest_grouped(events: int, per_request: int) -> None:
    """Requests of `per_request` events (Lago's batch holds up to 100) all waiting at
    once, as under a load the group commit cannot keep up with: its groups are then as
    large as the store takes (10,000 events on ClickHouse)."""
    with ingestion_run(events) as (db, _store, made):
        organization_id = made[0].organization_id
        requests = [
            Pending(organization_id, [item.event for item in made[first : first + per_request]],
                    NOW, True, Future())
            for first in range(0, events, per_request)
        ]  # fmt: skip
        committer = GroupCommitter(db)
        groups = REGISTRY.get_sample_value("meterbill_group_commit_events_count") or 0.0
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        for request in requests:
            committer._queue.put(request)
        committer._ensure_started()
        for request in requests:
            request.result.result()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        committer.stop()
        groups = (REGISTRY.get_sample_value("meterbill_group_commit_events_count") or 0) - groups
        print(f"ingest through the group commit: {len(requests)} requests of {per_request}"
              f" events, {events} events in {elapsed:.2f} s = {events / elapsed:,.0f} events/s"
              f" in {groups:.0f} groups (the store takes up to {committer.max_events});"
              f" {cpu:.2f} CPU s = {events / cpu:,.0f} events per CPU second;"
              f" load average {load:.1f}")  # fmt: skip


def ingest(events: int, batch: int) -> None:
    with ingestion_run(events) as (db, store, made):
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        for first in range(0, events, batch):
            with db.transaction() as session:
                _stored, duplicates = insert_many(session, made[first : first + batch])
                assert not duplicates
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        # The machine may be shared: the CPU this process used (Python and the engine's
        # threads, background merges included) is the figure other processes disturb least.
        print(f"ingest through the store: {events} events in {elapsed:.2f} s"
              f" = {events / elapsed:,.0f} events/s"
              f" (batches of {batch}, duplicate check on); {cpu:.2f} CPU s ="
              f" {events / cpu:,.0f} events per CPU second; load average {load:.1f}")  # fmt: skip

        store.connection.command("CREATE TABLE floor AS events")
        bodies = []
        for first in range(0, events, batch):
            part = made[first : first + batch]
            columns, _keys = rows(part, [str(uuid.uuid4()) for _ in part], list(range(len(part))))
            bodies.append(orjson.dumps(columns))
        started = time.perf_counter()
        for body in bodies:
            store.connection.insert_json("floor", EVENT_COLUMNS, body)
        floor = time.perf_counter() - started
        print("raw insert floor (same rows, same batches, same JSON, the events' table alone):"
              f" {events / floor:,.0f}"
              f" rows/s ({floor:.2f} s)")  # fmt: skip


def catalog(db: Database, organization_id: uuid.UUID) -> None:
    with db.transaction() as session:
        storage = create_metric(session, organization_id, parse_metric({
            "name": "Storage", "code": "storage", "aggregation_type": "sum_agg",
            "field_name": "gb"}, creating=True), START)  # fmt: skip
        calls = create_metric(session, organization_id, parse_metric({
            "name": "Calls", "code": "calls", "aggregation_type": "count_agg"},
            creating=True), START)  # fmt: skip
        plan = create_plan(session, organization_id, parse_plan({
            "name": "Pro", "code": "pro", "interval": "monthly", "amount_cents": 0,
            "amount_currency": "EUR", "charges": [
                {"billable_metric_id": str(storage.id), "charge_model": "standard",
                 "properties": {"amount": "0.01"}},
                {"billable_metric_id": str(calls.id), "charge_model": "standard",
                 "properties": {"amount": "0.001"}}]}, creating=True), START)  # fmt: skip
        customer_id = uuid.uuid4()
        session.add(Customer(id=customer_id, organization_id=organization_id,
                             external_id="cus", sequential_id=1, slug="BEN-0001",
                             currency="EUR", created_at=START, updated_at=START))  # fmt: skip
        session.flush()
        session.add(Subscription(organization_id=organization_id, customer_id=customer_id,
                                 plan_id=plan.id, external_id="sub", status="active",
                                 billing_time="calendar", subscription_at=START,
                                 started_at=START, created_at=START, updated_at=START))  # fmt: skip


def load(store: object, organization_id: uuid.UUID, total: int, period: int) -> None:
    """`total` events made by the engine. Event n < period: the subscription's current
    period, code storage when n is odd (gb = n % 7 + 1), else calls; n < 2 × period: the
    same subscription in January to November; the rest: 100 other subscriptions.

    They are made in a staging table of the same structure and attached to `events` by
    partition (as a bulk import would), which feeds no view: the hourly sums are then
    made by one INSERT ... SELECT with the materialized view's own query."""
    connection = store.connection  # type: ignore[attr-defined]
    first_us = int(PERIOD.timestamp() * 1_000_000)
    period_step = (int(NOW.timestamp() * 1_000_000) - 60_000_000 - first_us) // period
    earlier_us = int(START.timestamp() * 1_000_000)
    earlier_step = (first_us - earlier_us) // max(total - period, 1)
    when = (
        f"fromUnixTimestamp64Micro(toInt64(if(number < {period},"
        f" {first_us} + number * {period_step},"
        f" {earlier_us} + (number - {period}) * {earlier_step})), 'UTC')"
    )
    subscription = f"if(number < {2 * period}, 'sub', concat('sub_', toString(number % 100)))"
    code = "if(number % 2 = 1, 'storage', 'calls')"
    gb = "toString(number % 7 + 1)"
    organization = {"org": str(organization_id)}
    connection.command("CREATE TABLE staging AS events")
    connection.command(
        f"INSERT INTO staging SELECT {{org:UUID}}, {subscription}, {code}, {when}, number + 1,"
        f" concat('b', toString(number)), generateUUIDv4(), concat('{{\"gb\":', {gb}, '}}'),"
        f" map('gb', {gb}), NULL, {when} FROM numbers({total})"
        " SETTINGS max_insert_threads = 2",
        organization,
    )
    partitions = connection.query(
        "SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase()"
        " AND table = 'staging' AND active"
    )
    for [partition] in partitions:
        connection.command(f"ALTER TABLE events ATTACH PARTITION ID '{partition}' FROM staging")
    view = connection.query(
        "SELECT as_select FROM system.tables WHERE database = currentDatabase()"
        " AND name = 'event_hours_mv'"
    )[0][0]
    connection.command("INSERT INTO event_hours " + view.replace("FROM events", "FROM staging", 1))
    connection.command("DROP TABLE staging")
    # As after any bulk import: merge the hourly sums' parts (reads sum them either way).
    connection.command("OPTIMIZE TABLE event_hours FINAL")
    # The keys of the measured subscription's events (the duplicate check reads them).
    connection.command(
        f"INSERT INTO event_keys SELECT {{org:UUID}}, concat('b', toString(number)),"
        f" {subscription}, {code}, {when}, number + 1 FROM numbers({min(total, 2 * period)})",
        organization,
    )


def settle(connection: Any, timeout: float = 3600) -> float:
    """Wait until no merge has run for three seconds: a store at rest, as some time
    after a bulk import (the merges of 100M fresh rows take both cores for minutes)."""
    started = time.perf_counter()
    quiet = 0
    while quiet < 3 and time.perf_counter() - started < timeout:
        [[running]] = connection.query(
            "SELECT count() FROM system.merges WHERE database = currentDatabase()"
        )
        quiet = quiet + 1 if int(running) == 0 else 0
        time.sleep(1)
    return time.perf_counter() - started


def expected(period: int) -> tuple[Decimal, int, int]:
    """(Σ gb of storage events, storage events, calls events) among n < period."""
    storage = list(range(1, period, 2))
    full, rest = divmod(len(storage), 7)
    # n odd: n % 7 runs through 1, 3, 5, 0, 2, 4, 6 every 7 odd numbers.
    cycle = [1, 3, 5, 0, 2, 4, 6]
    total = full * sum(value + 1 for value in cycle) + sum(cycle[i] + 1 for i in range(rest))
    return Decimal(total), len(storage), period - len(storage)


def usage(total: int, period: int, requests: int, settled: bool) -> None:
    with TemporaryDirectory() as tmp:
        db, organization_id = relational(tmp)
        catalog(db, organization_id)
        store = open_store(f"chdb://{tmp}/clickhouse")
        event_store.use(db.engine, store)  # type: ignore[arg-type]
        started = time.perf_counter()
        load(store, organization_id, total, period)
        print(f"load: {total:,} events ({period:,} in the period) made in the engine"
              f" in {time.perf_counter() - started:.0f} s")  # fmt: skip
        if settled:
            waited = settle(store.connection)  # type: ignore[attr-defined]
            print(f"the merges the load started finished {waited:.0f} s later")
        gb, storage_events, calls_events = expected(period)

        def current() -> tuple[Decimal, int, int]:
            with db.transaction(write=False) as session:
                found = compute_current_usage(session, organization_id, "cus", "sub", NOW)
            figures = {charge.metric.code: charge for charge in found.charges}
            return (figures["storage"].units, figures["storage"].events_count,
                    figures["calls"].events_count)  # fmt: skip

        assert current() == (gb, storage_events, calls_events), current()
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            figures = current()
            timings.append((time.perf_counter() - started) * 1000)
            assert figures == (gb, storage_events, calls_events)
        p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)
        print(f"current usage, {requests} calls, exact each time: p50 {p50:.1f} ms,"
              f" p99 {p99:.1f} ms, max {max(timings):.1f} ms;"
              f" load average {os.getloadavg()[0]:.1f}")  # fmt: skip

        # Half duplicates (stored transaction ids), half new: only the new half counts.
        batch = [
            NewEvent(organization_id, EventInput(
                f"b{2 * index + 1}" if index < 50 else f"new{index}", "sub", "storage",
                NOW - timedelta(minutes=5), {"gb": 3}, None), NOW)
            for index in range(100)
        ]  # fmt: skip
        with db.transaction() as session:
            _stored, duplicates = insert_many(session, batch)
        assert duplicates == set(range(50)), sorted(duplicates)[:5]
        after = current()
        assert after == (gb + 150, storage_events + 50, calls_events), after
        print("a batch of 50 duplicates and 50 new events: 50 refused, usage +50 events, +150 gb")
        db.dispose()
        store.connection.close()  # stops its merges before the folder is removed


def page(total: int, requests: int) -> None:
    from meterbill.event_store import store_for
    from meterbill.events.billability import billability
    from meterbill.events.listing import EventLogFilters, latest_events
    from meterbill.events.validation import CodeIn, PropertyMissing

    with TemporaryDirectory() as tmp:
        db, organization_id = relational(tmp)
        store = open_store(f"chdb://{tmp}/clickhouse")
        event_store.use(db.engine, store)  # type: ignore[arg-type]
        catalog(db, organization_id)
        began = time.perf_counter()
        load(store, organization_id, total, total // 10)
        print(f"{total:,} events made in {time.perf_counter() - began:.0f} s")

        def timed(label: str, action: Callable[[], None]) -> None:
            action()  # warm
            samples = []
            for _ in range(requests):
                began = time.perf_counter()
                action()
                samples.append(time.perf_counter() - began)
            p50, p95 = percentile(samples, 0.5) * 1000, percentile(samples, 0.95) * 1000
            print(f"  {label:50} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")

        def shown(filters: EventLogFilters, second: bool = False) -> Callable[[], None]:
            def run() -> None:
                with db.transaction(write=False) as session:
                    found = latest_events(session, organization_id, filters)
                    if second:
                        found = latest_events(session, organization_id, filters,
                                              before=found.older)  # fmt: skip
                    assert len(found.events) == 50
                    billability(session, organization_id, found.events)

            return run

        share = f"{2 / 10:.0%}"
        timed(f"one subscription ({share} of the events)", shown(EventLogFilters(("sub",))))
        timed("  its second page (both pages)", shown(EventLogFilters(("sub",)), True))
        timed("one of 100 small subscriptions", shown(EventLogFilters(("sub_5",))))
        timed("a customer of two subscriptions", shown(EventLogFilters(("sub", "sub_5"))))
        timed("the organization", shown(EventLogFilters()))
        timed("  one code, second page", shown(EventLogFilters(code="storage"), True))
        hour = (NOW - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        end = hour + timedelta(hours=1)

        def report() -> None:
            with db.transaction(write=False) as session:
                found = store_for(session)
                assert found.received_any(session, organization_id, hour, end)
                assert found.received_codes(session, organization_id, hour, end)
                checks = [CodeIn(("nope",)), PropertyMissing("storage", "gb", True)]
                found.received_transaction_ids(session, organization_id, hour, end, checks)

        timed("events.errors: one hour's reads", report)
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["ingest", "usage", "page"])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument(
        "--per-request", type=int, help="ingest: through the group commit, requests this large"
    )
    parser.add_argument("--total", type=int, help="usage: 100,000,000; page: 10,000,000")
    parser.add_argument("--period", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, help="usage: 100; page: 30")
    parser.add_argument(
        "--no-settle", action="store_true", help="measure while the load's merges still run"
    )
    args = parser.parse_args()
    # The collector's thresholds of the server process (meterbill.app.create_app): with
    # Python's defaults a full collection of this process's heap (100+ ms) falls among
    # the measured calls.
    gc.set_threshold(50_000, 50, 100)
    if args.what == "ingest" and args.per_request:
        ingest_grouped(args.events, args.per_request)
    elif args.what == "ingest":
        ingest(args.events, args.batch)
    elif args.what == "page":
        page(args.total or 10_000_000, args.requests or 30)
    else:
        usage(args.total or 100_000_000, args.period, args.requests or 100, not args.no_settle)


if __name__ == "__main__":
    main()
