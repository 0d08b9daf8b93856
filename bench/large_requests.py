"""Server memory through a storm of large requests: RSS before, right after, 60 s later.

    .venv/bin/python bench/large_requests.py [--postgres URL] [--rounds 25] [--settle 60]

The server is `meterbill serve` as `make serve` starts it (one process, defaults). The
storm mixes, from 8 threads at once: bodies just under the 1 MB limit that are refused
(a 900 KB customer name), bodies just under it that are accepted (a batch of 100 events
of 9 KB each), bodies over it announced by Content-Length (5 MB, refused before they are
read) and the same sent chunked (refused once 1 MB has arrived). The baseline is taken after one
round of each, so it holds what a first request of each kind costs once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import BENCH_KEY, fresh_postgres, served_process

HEADERS = {"Authorization": f"Bearer {BENCH_KEY}"}
MB = 1_000_000


def rss_mib(pid: int) -> float:
    """Resident memory of the process and its children (uvicorn workers), in MiB."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        total += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
        )
        pids.extend(int(child) for child in children)
    return total / 1024


def chunks(size: int) -> Iterator[bytes]:
    yield b'{"customer": {"external_id": "chunked", "name": "'
    for _ in range(size // 65_536):
        yield b"c" * 65_536
    yield b'"}}'


def one_round(base: str, worker: int, round_: int) -> list[int]:
    statuses = []
    with httpx.Client(base_url=base + "/api/v1", headers=HEADERS, timeout=120) as client:
        name = "n" * (900 * 1000)
        statuses.append(
            client.post(
                "/customers", json={"customer": {"external_id": "x", "name": name}}
            ).status_code
        )
        events = [
            {"transaction_id": f"{worker}-{round_}-{i}", "external_subscription_id": "s",
             "code": "c", "properties": {"blob": "b" * 9_000}}
            for i in range(100)
        ]  # fmt: skip
        statuses.append(client.post("/events/batch", json={"events": events}).status_code)
        big = b'{"customer": {"name": "' + b"z" * (5 * MB) + b'"}}'
        statuses.append(
            client.post(
                "/customers", content=big, headers={"Content-Type": "application/json"}
            ).status_code
        )
        statuses.append(
            client.post(
                "/customers", content=chunks(5 * MB), headers={"Content-Type": "application/json"}
            ).status_code
        )
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres", help="admin URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--settle", type=float, default=60.0)
    args = parser.parse_args()
    with TemporaryDirectory() as folder:
        url = (
            fresh_postgres(args.postgres, "meterbill_bench_large")
            if args.postgres
            else f"sqlite:///{folder}/bench.db"
        )
        with served_process(url) as (base, process):
            # One round first, so that what any first request costs once (imports,
            # statement caches) is in the baseline and only what a storm keeps is not.
            one_round(base, 99, 0)
            before = rss_mib(process.pid)
            started = time.perf_counter()
            jobs = [(worker, round_) for worker in range(8) for round_ in range(args.rounds)]
            with ThreadPoolExecutor(8) as pool:
                results = list(pool.map(lambda job: one_round(base, *job), jobs))
            elapsed = time.perf_counter() - started
            after = rss_mib(process.pid)
            time.sleep(args.settle)
            settled = rss_mib(process.pid)
            counts = Counter(status for statuses in results for status in statuses)
            sent = sum(len(statuses) for statuses in results)
            print(f"database: {'postgresql' if args.postgres else 'sqlite'}")
            statuses = dict(sorted(counts.items()))
            print(f"storm: {sent} requests in {elapsed:.1f} s, statuses {statuses}")
            print(f"RSS before {before:.0f} MiB, right after {after:.0f} MiB, "
                  f"{args.settle:.0f} s later {settled:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
