"""The events page among 10,000,000 events (PostgreSQL): the latest 50 events of one
customer, with whether each is billed and why not, in at most 50 ms.

    .venv/bin/python bench/events_page.py [--events 10000000] [--customers 3000] [--reuse]

One organization holds every event: the worst case for its indexes. The events are
spread over `customers` customers with 2 subscriptions each (one event in three of an
unknown code), written by PostgreSQL itself (INSERT ... SELECT generate_series, the
fastest bulk path: nothing crosses the socket) with the events indexes dropped and
rebuilt afterwards, as one restores a dump. The first 20 customers are real (created
through the API with their subscriptions to a plan charging two metrics); the page is
measured for them in turn:

- the page's queries as the page runs them: the customer's subscriptions, the latest 50
  of their events (events.listing), their billability (events.billability);
- the same for the next page (cursor), for one subscription, and the organization's head;
- the whole page through the app (in process: routing, session, template), GET
  /developers/events?external_customer_id=...

`--reuse` keeps a database loaded by an earlier run (same name) and only measures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from meterbill.app import create_app
from meterbill.core.db import Database
from meterbill.customers.service import subscription_external_ids
from meterbill.events.billability import billability
from meterbill.events.listing import EventLogFilters, latest_events
from meterbill.migrations.runner import upgrade
from meterbill.organizations.models import Organization
from meterbill.organizations.service import add_api_key, create_organization
from meterbill.settings import Settings
from meterbill.users.service import create_user, log_in

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import fresh_postgres, percentile

NAME = "meterbill_bench_events"
REAL_CUSTOMERS = 20
CHUNK = 1_000_000
EMAIL = "bench@example.test"
PASSWORD = "bench-password-123"
TARGET_MS = 50.0


def database_url(admin_url: str, reuse: bool) -> str:
    if reuse:
        return admin_url.rsplit("/", 1)[0] + f"/{NAME}"
    return fresh_postgres(admin_url, NAME)


def setup(db: Database) -> str:
    """The organization, its catalog and the real customers; returns the organization's id."""
    now = datetime.now(UTC)
    with db.transaction() as session:
        organization = create_organization(session, "Bench", now)
        key = add_api_key(session, organization.id, now)
        create_user(session, organization.id, EMAIL, PASSWORD, now)
    app = create_app(Settings(database_url=db.url, api_key=None, clock_interval_seconds=0), db)
    api = TestClient(app, headers={"Authorization": f"Bearer {key}"})

    def post(path: str, body: dict[str, object]) -> dict[str, object]:
        response = api.post(f"/api/v1{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    metrics = [
        post("/billable_metrics", {"billable_metric": {
            "name": "API calls", "code": "calls", "aggregation_type": "count_agg"}}),
        post("/billable_metrics", {"billable_metric": {
            "name": "Storage", "code": "storage", "aggregation_type": "sum_agg",
            "field_name": "gb"}}),
    ]  # fmt: skip
    charges = [
        {"billable_metric_id": metric["billable_metric"]["lago_id"],  # type: ignore[index]
         "charge_model": "standard", "properties": {"amount": "0.01"}}
        for metric in metrics
    ]  # fmt: skip
    post("/plans", {"plan": {"name": "Scale", "code": "scale", "interval": "monthly",
                             "amount_cents": 4_900, "amount_currency": "EUR",
                             "charges": charges}})  # fmt: skip
    started = (now - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for index in range(REAL_CUSTOMERS):
        post("/customers", {"customer": {"external_id": f"cust-{index}", "currency": "EUR",
                                         "name": f"Customer {index}"}})  # fmt: skip
        for which in (0, 1):
            post("/subscriptions", {"subscription": {
                "external_customer_id": f"cust-{index}", "plan_code": "scale",
                "external_id": f"sub-{index}-{which}", "subscription_at": started}})  # fmt: skip
    return str(organization.id)


def load_events(url: str, organization_id: str, count: int, customers: int) -> None:
    """`count` events over the last 30 days, received in order, spread evenly over every
    customer's two subscriptions; codes calls / storage / an unknown one."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        definitions = list(
            connection.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events' "
                    "AND indexname <> 'events_pkey'"
                )
            )
        )
        constraints = [name for name, _ in definitions if name == "ux_events_idempotency"]
        for name in constraints:
            connection.execute(text(f"ALTER TABLE events DROP CONSTRAINT {name}"))
        for name, _ in definitions:
            connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
        began = time.perf_counter()
        start = datetime.now(UTC) - timedelta(days=30)
        step_us = int(30 * 86_400 * 1_000_000 / count)
        subscriptions = customers * 2
        for first in range(0, count, CHUNK):
            last = min(first + CHUNK, count) - 1
            connection.execute(
                text(
                    """
                    INSERT INTO events (lago_id, organization_id, transaction_id,
                        external_subscription_id, code, timestamp, properties, created_at)
                    SELECT gen_random_uuid(), CAST(:org AS uuid), 'tx-' || i,
                        'sub-' || ((i * 7919) % :subs / 2) || '-' || ((i * 7919) % :subs % 2),
                        (ARRAY['calls', 'storage', 'ghost'])[i % 3 + 1],
                        CAST(:start AS timestamptz) + make_interval(secs => i * :step / 1e6)
                            - make_interval(secs => i % 60),
                        jsonb_build_object('gb', i % 100),
                        CAST(:start AS timestamptz) + make_interval(secs => i * :step / 1e6)
                    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i
                    """
                ),
                {"org": organization_id, "subs": subscriptions, "start": start,
                 "step": step_us, "first": first, "last": last},
            )  # fmt: skip
            print(f"  {last + 1:>11,} events ({time.perf_counter() - began:.0f} s)", flush=True)
        connection.execute(text("SET maintenance_work_mem = '1GB'"))
        connection.execute(text("SET max_parallel_maintenance_workers = 2"))
        for name, definition in definitions:
            at = time.perf_counter()
            connection.execute(text(definition))
            print(f"  index {name} ({time.perf_counter() - at:.0f} s)", flush=True)
        for name in constraints:
            connection.execute(
                text(f"ALTER TABLE events ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")
            )
        connection.execute(text("VACUUM ANALYZE events"))
        print(f"loaded in {time.perf_counter() - began:.0f} s")
    engine.dispose()


def page_queries(db: Database, organization_id: object, customer: str) -> int:
    """What the events page runs for a customer's first page; returns the rows shown."""
    with db.transaction(write=False) as session:
        ids = subscription_external_ids(session, organization_id, customer)  # type: ignore[arg-type]
        filters = EventLogFilters(external_subscription_ids=ids)
        page = latest_events(session, organization_id, filters)  # type: ignore[arg-type]
        billability(session, organization_id, page.events)  # type: ignore[arg-type]
        return len(page.events)


def timed(action: Callable[[int], object], runs: int) -> list[float]:
    action(0)  # warm
    samples = []
    for run in range(runs):
        began = time.perf_counter()
        action(run)
        samples.append(time.perf_counter() - began)
    return samples


def report(label: str, samples: list[float]) -> None:
    p50, p95 = percentile(samples, 0.5) * 1000, percentile(samples, 0.95) * 1000
    verdict = "within" if p95 <= TARGET_MS else "OVER"
    print(f"  {label:46} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   ({verdict} {TARGET_MS:.0f} ms)")


def measure(db: Database, runs: int) -> None:
    with db.transaction(write=False) as session:
        organization_id = session.scalar(
            select(Organization.id).where(Organization.name == "Bench")
        )
        total = session.scalar(text("SELECT count(*) FROM events"))
    print(f"{total:,} events; {runs} runs each, customers cust-0 .. cust-{REAL_CUSTOMERS - 1}")

    def customer(run: int) -> str:
        return f"cust-{run % REAL_CUSTOMERS}"

    assert page_queries(db, organization_id, "cust-0") > 0
    report("customer's latest 50 + billability", timed(
        lambda run: page_queries(db, organization_id, customer(run)), runs))  # fmt: skip

    def next_page(run: int) -> None:
        with db.transaction(write=False) as session:
            ids = subscription_external_ids(session, organization_id, customer(run))  # type: ignore[arg-type]
            filters = EventLogFilters(external_subscription_ids=ids)
            first = latest_events(session, organization_id, filters)  # type: ignore[arg-type]
            second = latest_events(session, organization_id, filters, before=first.older)  # type: ignore[arg-type]
            billability(session, organization_id, second.events)  # type: ignore[arg-type]

    report("customer's second page (both pages' queries)", timed(next_page, runs))

    def one_subscription(run: int) -> None:
        with db.transaction(write=False) as session:
            filters = EventLogFilters(external_subscription_ids=(f"sub-{run % REAL_CUSTOMERS}-0",))
            page = latest_events(session, organization_id, filters)  # type: ignore[arg-type]
            billability(session, organization_id, page.events)  # type: ignore[arg-type]

    report("one subscription's latest 50 + billability", timed(one_subscription, runs))

    def organization(_run: int) -> None:
        with db.transaction(write=False) as session:
            page = latest_events(session, organization_id, EventLogFilters())  # type: ignore[arg-type]
            billability(session, organization_id, page.events)  # type: ignore[arg-type]

    report("organization's latest 50 + billability", timed(organization, runs))

    app = create_app(Settings(database_url=db.url, api_key=None, clock_interval_seconds=0), db)
    with db.transaction() as session:
        token = log_in(session, EMAIL, PASSWORD, datetime.now(UTC)).token
    web = TestClient(app, cookies={"mb_session": str(token)})

    def page(run: int) -> None:
        response = web.get(f"/developers/events?external_customer_id={customer(run)}")
        assert response.status_code == 200, response.status_code
        assert "50 events, the most recently received first" in response.text, "not the page"

    report("whole page via the app (in process)", timed(page, runs))
    with db.engine.connect() as connection:
        ids = "'sub-3-0', 'sub-3-1'"
        plan = connection.execute(text(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM ("
            + " UNION ALL ".join(
                f"(SELECT id, created_at FROM events WHERE organization_id = '{organization_id}'"
                f" AND external_subscription_id = {one} ORDER BY created_at DESC, id DESC"
                " LIMIT 51)"
                for one in ids.split(", ")
            )
            + ") AS merged ORDER BY created_at DESC, id DESC LIMIT 51"
        ))  # fmt: skip
        print("  plan of the customer's merged query:")
        for (line,) in plan:
            print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=3_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "METERBILL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
          f" on {os.cpu_count()} cores")  # fmt: skip
    url = database_url(args.postgres, args.reuse)
    if not args.reuse:
        upgrade(url)
    db = Database(url, pool_size=2)
    if not args.reuse:
        began = time.perf_counter()
        organization_id = setup(db)
        print(f"catalog and {REAL_CUSTOMERS} customers in {time.perf_counter() - began:.0f} s")
        load_events(url, organization_id, args.events, args.customers)
    measure(db, args.runs)
    db.dispose()


if __name__ == "__main__":
    main()
