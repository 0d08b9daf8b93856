"""Dashboard pages under load of data: the customers list among 10,000 customers, and the
view of a customer with 24 invoices, 3 subscriptions and 1,000,000 events this period.

    .venv/bin/python bench/dashboard.py [--sqlite] [--customers 10000] [--events 1000000]
                                        [--invoices 100000]

The server runs as `meterbill serve` (one process); the dashboard user comes from its
start-up bootstrap. Customers are written through the customers service, events
through ingestion's own insert (which keeps the hourly rollups), the big customer's
catalog, subscriptions and invoices through the API. Times are measured by the client
over loopback on the same machine: server time plus a fraction of a millisecond.
Page weight: the analytics tab's HTML with every stylesheet and script it loads,
gzip-compressed (level 6, what a compressing proxy sends).

Then the Invoices list among 100,000 invoices (bench/invoice_list.py writes them in bulk
over those customers): filtered pages of 20, each p95 within 80 ms.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from sqlalchemy import select, text

from meterbill.core.db import Database
from meterbill.customers.schemas import parse_customer
from meterbill.customers.service import upsert_customer
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events
from meterbill.organizations.models import Organization

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import BENCH_KEY, fresh_postgres, percentile, served_process
from invoice_list import process_tree, seed_invoices, time_invoice_list

HEADERS = {"Authorization": f"Bearer {BENCH_KEY}"}
ADMIN_EMAIL = "bench@example.test"
ADMIN_PASSWORD = "bench-password-123"
SUBSCRIPTIONS = ("sub-1", "sub-2", "sub-3")


def organization_id(db: Database) -> object:
    with db.transaction(write=False) as session:
        return session.scalar(select(Organization.id).limit(1))


def add_customers(db: Database, count: int) -> None:
    org = organization_id(db)
    base = datetime.now(UTC) - timedelta(days=30)
    for first in range(0, count, 1000):
        with db.transaction() as session:
            for index in range(first, min(first + 1000, count)):
                body = {"external_id": f"bench-{index}", "name": f"Customer {index}",
                        "email": f"billing{index}@example.com", "currency": "EUR",
                        "country": "FR", "timezone": "Europe/Paris"}  # fmt: skip
                upsert_customer(session, org, parse_customer(body), base + timedelta(seconds=index))


def big_customer(client: httpx.Client) -> str:
    """A customer with 3 subscriptions (a plan of a count and a sum charge) and 24
    one-off invoices; returns its lago_id."""

    def post(path: str, body: dict[str, object]) -> dict[str, object]:
        response = client.post(f"/api/v1{path}", json=body)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    lago_id = post("/customers", {"customer": {
        "external_id": "big", "name": "Big Customer", "currency": "EUR",
        "timezone": "Europe/Paris"}})["customer"]["lago_id"]  # type: ignore[index]  # fmt: skip
    calls = post("/billable_metrics", {"billable_metric": {
        "name": "API calls", "code": "calls", "aggregation_type": "count_agg"}})  # fmt: skip
    storage = post("/billable_metrics", {"billable_metric": {
        "name": "Storage", "code": "storage", "aggregation_type": "sum_agg",
        "field_name": "gb"}})  # fmt: skip
    charges = [
        {"billable_metric_id": calls["billable_metric"]["lago_id"],  # type: ignore[index]
         "charge_model": "standard", "properties": {"amount": "0.001"}},
        {"billable_metric_id": storage["billable_metric"]["lago_id"],  # type: ignore[index]
         "charge_model": "graduated", "properties": {"graduated_ranges": [
             {"from_value": 0, "to_value": 1000, "per_unit_amount": "0.05", "flat_amount": "0"},
             {"from_value": 1001, "to_value": None, "per_unit_amount": "0.02",
              "flat_amount": "10"}]}},
    ]  # fmt: skip
    post("/plans", {"plan": {"name": "Scale", "code": "scale", "interval": "monthly",
                             "amount_cents": 4_900, "amount_currency": "EUR",
                             "charges": charges}})  # fmt: skip
    post("/add_ons", {"add_on": {"name": "Support", "code": "support", "amount_cents": 25_000,
                                 "amount_currency": "EUR"}})  # fmt: skip
    started = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for external_id in SUBSCRIPTIONS:
        post("/subscriptions", {"subscription": {
            "external_customer_id": "big", "plan_code": "scale", "external_id": external_id,
            "subscription_at": started}})  # fmt: skip
    for index in range(24):
        post(
            "/invoices",
            {
                "invoice": {
                    "external_customer_id": "big",
                    "fees": [{"add_on_code": "support", "units": index + 1}],
                }
            },
        )
    return str(lago_id)


def add_events(db: Database, count: int, start: datetime) -> None:
    """`count` events over the current period's elapsed part, across the 3 subscriptions
    and both metrics."""
    org = organization_id(db)
    span = max((datetime.now(UTC) - start).total_seconds() - 60, 60)
    chunk = 10_000
    for first in range(0, count, chunk):
        events = [
            EventInput(
                f"e{index}", SUBSCRIPTIONS[index % 3], "calls" if index % 2 else "storage",
                start + timedelta(seconds=span * index / count), {"gb": (index % 5) + 1}, None,
            )
            for index in range(first, min(first + chunk, count))
        ]  # fmt: skip
        with db.transaction() as session:
            insert_events(session, org, events, datetime.now(UTC))  # type: ignore[arg-type]


def working(url: str, server_pid: int) -> list[int]:
    """The server's processes and, on PostgreSQL, its database connections' backends."""
    pids = process_tree(server_pid)
    if not url.startswith("sqlite"):
        db = Database(url, pool_size=1)
        with db.engine.connect() as connection:
            pids += connection.execute(text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalars().all()  # fmt: skip
        db.dispose()
    return pids


def log_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no login form"
    response = client.post("/login", data={"csrf_token": token.group(1), "email": ADMIN_EMAIL,
                                           "password": ADMIN_PASSWORD})  # fmt: skip
    assert response.status_code in (200, 303) and "mb_session" in client.cookies, response.text
    return client


def timed(client: httpx.Client, path: str, requests: int) -> tuple[list[float], httpx.Response]:
    client.get(path)  # warm
    latencies = []
    response = None
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(path)
        latencies.append(time.perf_counter() - began)
        assert response.status_code == 200, (path, response.status_code)
    assert response is not None
    return latencies, response


def report(label: str, samples: list[float], target_ms: float) -> None:
    p50, p95 = percentile(samples, 0.5) * 1000, percentile(samples, 0.95) * 1000
    verdict = "within" if p95 <= target_ms else "OVER"
    print(f"  {label:38} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({verdict} {target_ms:.0f} ms)")


def page_weight(client: httpx.Client, html: str) -> None:
    assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js|svg))"', html)
    total_raw, total_gz = len(html.encode()), len(gzip.compress(html.encode(), 6))
    print(f"  page weight: HTML {total_raw / 1024:.1f} KB ({total_gz / 1024:.1f} KB gzip)")
    for asset in sorted(set(assets)):
        body = client.get(asset).content
        packed = len(gzip.compress(body, 6))
        total_raw, total_gz = total_raw + len(body), total_gz + packed
        print(f"    {asset:36} {len(body) / 1024:7.1f} KB ({packed / 1024:.1f} KB gzip)")
    print(f"  full page weight {total_raw / 1024:.1f} KB, {total_gz / 1024:.1f} KB compressed"
          f" ({'within' if total_gz <= 150 * 1024 else 'OVER'} 150 KB)")  # fmt: skip


def bench(url: str, customers: int, events: int, requests: int, invoices: int = 0) -> None:
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
          f" on {os.cpu_count()} cores")  # fmt: skip
    os.environ["METERBILL_ADMIN_EMAIL"] = ADMIN_EMAIL
    os.environ["METERBILL_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    os.environ["METERBILL_CLOCK_INTERVAL_SECONDS"] = "0"
    with (
        served_process(url) as (base, server),
        httpx.Client(base_url=base, headers=HEADERS, timeout=120) as api,
    ):
        db = Database(url, pool_size=2)
        began = time.perf_counter()
        add_customers(db, customers)
        lago_id = big_customer(api)
        usage = api.get("/api/v1/customers/big/current_usage",
                        params={"external_subscription_id": "sub-1"}).json()  # fmt: skip
        start = datetime.fromisoformat(
            usage["customer_usage"]["from_datetime"].replace("Z", "+00:00")
        )
        add_events(db, events, start)
        seeded = time.perf_counter()
        seed_invoices(db, organization_id(db), invoices)
        print(f"{invoices} invoices written in {time.perf_counter() - seeded:.0f} s")
        if not db.sqlite:
            # What autovacuum does after a bulk load: plans from fresh statistics.
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        db.dispose()
        print(f"{customers + 1} customers, 24 invoices, 3 subscriptions, {events} events"
              f" (written in {time.perf_counter() - began:.0f} s)")  # fmt: skip
        web = log_in(base)
        list_times, _ = timed(web, "/customers", requests)
        report("customers list (page of 20)", list_times, 50)
        wanted = customers * 3 // 7
        search_times, found = timed(web, f"/customers?search=Customer+{wanted}", requests)
        assert f"bench-{wanted}" in found.text
        report("customers search", search_times, 50)
        view_times, _ = timed(web, f"/customers/{lago_id}", requests)
        report("customer view: overview", view_times, 100)
        analytics_times, page = timed(web, f"/customers/{lago_id}/analytics", requests)
        report("customer view: analytics (usage report)", analytics_times, 100)
        check = api.get("/api/v1/customers/big/current_usage",
                        params={"external_subscription_id": "sub-1"}).json()  # fmt: skip
        total = check["customer_usage"]["amount_cents"]
        print(
            f"  sub-1 current usage {total} cents (API), "
            f"{sum(c['events_count'] for c in check['customer_usage']['charges_usage'])} events"
        )
        page_weight(web, page.text)
        time_invoice_list(web, requests, timed, report, lambda: working(url, server.pid))
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        web.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--postgres-database", default="meterbill_bench_dashboard")
    args = parser.parse_args()
    if args.sqlite:
        with TemporaryDirectory() as folder:
            print("database: SQLite")
            bench(f"sqlite:///{folder}/bench.db", args.customers, args.events, args.requests,
                  args.invoices)  # fmt: skip
    else:
        print("database: PostgreSQL")
        url = fresh_postgres(args.postgres_admin_url, args.postgres_database)
        bench(url, args.customers, args.events, args.requests, args.invoices)


if __name__ == "__main__":
    main()
