"""Current-usage latency with 10,000 and 1,000,000 events in the period, against raw SQL.

    .venv/bin/python bench/usage.py [--sqlite] [--sizes 10000,1000000] [--requests 50]

One subscription on a plan with one sum charge; events are written straight into
the events table (ingestion has its own benchmark), all inside the current period.
The raw floor is the plain SQL aggregate for that subscription, same run, same data.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
from sqlalchemy import create_engine, text

from meterbill.core.db import Database
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import BENCH_KEY, fresh_postgres, percentile, served

HEADERS = {"Authorization": f"Bearer {BENCH_KEY}"}


def setup_catalog(client: httpx.Client) -> None:
    metric = client.post("/api/v1/billable_metrics", json={"billable_metric": {
        "name": "Storage", "code": "storage", "aggregation_type": "sum_agg",
        "field_name": "gb"}}).json()["billable_metric"]  # fmt: skip
    charge = {"billable_metric_id": metric["lago_id"], "charge_model": "standard",
              "properties": {"amount": "0.01"}}  # fmt: skip
    plan = {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 0,
            "amount_currency": "EUR", "charges": [charge]}  # fmt: skip
    client.post("/api/v1/plans", json={"plan": plan}).raise_for_status()
    started = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    client.post("/api/v1/subscriptions", json={"subscription": {
        "external_customer_id": "cus", "plan_code": "p", "external_id": "sub",
        "subscription_at": started}}).raise_for_status()  # fmt: skip


def fill(url: str, count: int, start: datetime, offset: int) -> None:
    """Write `count` events spread over the period's elapsed part, through ingestion's
    own insert (which keeps the hourly rollups), without HTTP."""
    db = Database(url, pool_size=1)
    with db.transaction(write=False) as session:
        organization_id = session.execute(text("SELECT id FROM organizations LIMIT 1")).scalar()
    span = max((datetime.now(UTC) - start).total_seconds() - 60, 60)
    chunk = 10_000
    for first in range(0, count, chunk):
        events = [
            EventInput(f"u{offset + index}", "sub", "storage",
                       start + timedelta(seconds=span * index / count),
                       {"gb": (index % 7) + 1}, None)
            for index in range(first, min(first + chunk, count))
        ]  # fmt: skip
        with db.transaction() as session:
            insert_events(session, organization_id, events, datetime.now(UTC))
    db.dispose()


def raw_aggregate(url: str, start: datetime, end: datetime, requests: int) -> list[float]:
    engine = create_engine(url)
    postgres = url.startswith("postgresql")
    value = "(properties->>'gb')::numeric" if postgres else "json_extract(properties, '$.gb')"
    query = text(
        f"SELECT sum({value}), count(*) FROM events WHERE organization_id = :org"
        " AND external_subscription_id = 'sub' AND code = 'storage'"
        " AND timestamp >= :start AND timestamp <= :end"
    )
    with engine.begin() as connection:
        organization_id = connection.execute(text("SELECT id FROM organizations LIMIT 1")).scalar()
    params = {"org": organization_id, "start": start if postgres else start.replace(tzinfo=None),
              "end": end if postgres else end.replace(tzinfo=None)}  # fmt: skip
    latencies = []
    with engine.connect() as connection:
        for _ in range(requests):
            began = time.perf_counter()
            connection.execute(query, params).one()
            latencies.append(time.perf_counter() - began)
    engine.dispose()
    return latencies


def measure(client: httpx.Client, requests: int) -> tuple[list[float], dict[str, object]]:
    latencies, body = [], {}
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(
            "/api/v1/customers/cus/current_usage", params={"external_subscription_id": "sub"}
        )
        latencies.append(time.perf_counter() - began)
        body = response.json()["customer_usage"]
    return latencies, body


def bench(url: str, sizes: list[int], requests: int) -> None:
    with served(url) as base, httpx.Client(base_url=base, headers=HEADERS, timeout=120) as client:
        setup_catalog(client)
        _, body = measure(client, 1)
        start = datetime.fromisoformat(str(body["from_datetime"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(body["to_datetime"]).replace("Z", "+00:00"))
        filled = 0
        for size in sizes:
            began = time.perf_counter()
            fill(url, size - filled, start, filled)
            print(f"{size} events in the period (written in {time.perf_counter() - began:.0f} s)")
            filled = size
            measure(client, 3)  # warm caches as a running server would have them
            latencies, body = measure(client, requests)
            raw = raw_aggregate(url, start, end, requests)
            units = body["charges_usage"][0]["units"]  # type: ignore[index]
            for label, samples in (("current_usage", latencies), ("raw SQL", raw)):
                print(f"  {label:15} p50 {percentile(samples, 0.5) * 1000:8.1f} ms"
                      f"   p99 {percentile(samples, 0.99) * 1000:8.1f} ms")  # fmt: skip
            print(f"  units           {units}")
            ratio = percentile(latencies, 0.5) / percentile(raw, 0.5)
            print(f"  ratio (p50)     {ratio:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.sqlite:
        with TemporaryDirectory() as folder:
            print("database: SQLite")
            bench(f"sqlite:///{folder}/bench.db", sizes, args.requests)
    else:
        print("database: PostgreSQL")
        bench(
            fresh_postgres(args.postgres_admin_url, "meterbill_bench_usage"), sizes, args.requests
        )


if __name__ == "__main__":
    main()
