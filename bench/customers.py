"""Create N customers through the HTTP API and time it; then time a large list page.

    .venv/bin/python bench/customers.py [--count 10000] [--concurrency 8] [--sqlite]

Server and load generator share this machine. Prints requests/s, p50/p99 latency of a
create (under load, and alone), and GET /customers?per_page=100 latency at that size.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import BENCH_KEY, fresh_postgres, percentile, served

HEADERS = {"Authorization": f"Bearer {BENCH_KEY}"}


def customer(index: int) -> dict[str, object]:
    return {
        "customer": {
            "external_id": f"bench-{index}",
            "name": f"Customer {index}",
            "email": f"billing{index}@example.com",
            "country": "FR",
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "billing_configuration": {"invoice_grace_period": 3, "document_locale": "fr"},
            "metadata": [{"key": "segment", "value": "smb", "display_in_invoice": True}],
        }
    }


def create_range(base: str, indexes: range) -> list[float]:
    latencies = []
    with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as client:
        for index in indexes:
            started = time.perf_counter()
            response = client.post("/api/v1/customers", json=customer(index))
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    return latencies


def run(base: str, count: int, concurrency: int) -> None:
    chunk = count // concurrency
    ranges = [range(i * chunk, (i + 1) * chunk) for i in range(concurrency)]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [
            lat for part in pool.map(lambda r: create_range(base, r), ranges) for lat in part
        ]
    elapsed = time.perf_counter() - started
    print(f"created {len(latencies)} customers with {concurrency} clients in {elapsed:.1f} s")
    print(f"  throughput      {len(latencies) / elapsed:8.0f} requests/s")
    print(f"  latency p50     {percentile(latencies, 0.50) * 1000:8.1f} ms")
    print(f"  latency p99     {percentile(latencies, 0.99) * 1000:8.1f} ms")

    alone = create_range(base, range(count, count + 300))
    print("single client, 300 creates")
    print(f"  latency p50     {percentile(alone, 0.50) * 1000:8.1f} ms")
    print(f"  latency p99     {percentile(alone, 0.99) * 1000:8.1f} ms")

    with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as client:
        pages = []
        for page in range(1, 51):
            started = time.perf_counter()
            response = client.get("/api/v1/customers", params={"per_page": 100, "page": page})
            pages.append(time.perf_counter() - started)
            response.raise_for_status()
        total = response.json()["meta"]["total_count"]
        searches = []
        for index in range(50):
            started = time.perf_counter()
            client.get("/api/v1/customers", params={"search_term": f"billing{index * 37}@"})
            searches.append(time.perf_counter() - started)
    print(f"GET /customers?per_page=100 over {total} customers, 50 pages")
    print(f"  latency p50     {percentile(pages, 0.50) * 1000:8.1f} ms")
    print(f"  latency p99     {percentile(pages, 0.99) * 1000:8.1f} ms")
    print(f"GET /customers?search_term=... p50 {percentile(searches, 0.5) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sqlite", action="store_true", help="bench the embedded SQLite setup")
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    if args.sqlite:
        with TemporaryDirectory() as folder:
            print("database: SQLite")
            with served(f"sqlite:///{folder}/bench.db") as base:
                run(base, args.count, args.concurrency)
    else:
        print("database: PostgreSQL")
        url = fresh_postgres(args.postgres_admin_url, "meterbill_bench_customers")
        with served(url) as base:
            run(base, args.count, args.concurrency)


if __name__ == "__main__":
    main()
