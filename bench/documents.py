"""Documents: the time to make one invoice PDF, the generator's rate after a billing
run, and the billing run's time with and without documents queued.

    .venv/bin/python bench/documents.py [--sqlite] [--subscriptions 2000] [--generate 500]

Builds the billing bench's organization (bench/billing_run.py: monthly plan, a sum and
a graduated charge, 20 % tax, 10 events per subscription), runs the billing tick twice
on fresh databases, once with PDF generation disabled and once enabled, then makes
`--generate` of the queued documents with one generator in this process (as one
`meterbill worker` does) and times single invoices.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import select

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.documents import service
from meterbill.documents.models import Document
from meterbill.documents.storage import LocalStorage
from meterbill.migrations.runner import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import fresh_postgres
from billing_run import BILLING, populate


def _database(args: argparse.Namespace, folder: str, name: str) -> Database:
    url = (
        f"sqlite:///{folder}/{name}.db"
        if args.sqlite
        else fresh_postgres(args.postgres_admin, f"meterbill_bench_{name}")
    )
    upgrade(url)
    return Database(url, pool_size=4)


def _billing_tick(args: argparse.Namespace, folder: str, name: str, enabled: bool) -> Database:
    db = _database(args, folder, name)
    populate(db, args.subscriptions, 10, False, False)
    service.configure(enabled=enabled)
    started = time.perf_counter()
    report = tick(db, BILLING)
    elapsed = time.perf_counter() - started
    service.configure(enabled=True)
    state = "queued" if enabled else "disabled"
    print(f"billing tick, documents {state}: {len(report.billing.invoices)} invoices "
          f"in {elapsed:.1f} s")  # fmt: skip
    return db


def _generate(url: str, now: datetime, folder: str, at_most: int) -> int:
    db = Database(url, pool_size=2)
    try:
        report = service.generate_due(db, now, LocalStorage(Path(folder)), at_most=at_most)
        return report.generated
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--subscriptions", type=int, default=2_000)
    parser.add_argument("--generate", type=int, default=500, help="documents to make")
    parser.add_argument("--processes", type=int, default=1, help="generator processes")
    parser.add_argument(
        "--postgres-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    with TemporaryDirectory() as folder:
        _billing_tick(args, folder, "docs_off", enabled=False).dispose()
        db = _billing_tick(args, folder, "docs_on", enabled=True)
        storage = LocalStorage(Path(folder) / "storage")
        now = BILLING + timedelta(minutes=5)
        # One invoice, again and again: the first call pays the engine's start-up.
        with db.transaction(write=False) as session:
            first = session.scalars(select(Document).limit(1)).one()
            started = time.perf_counter()
            service.render_files(session, first, now)
            warm_up = time.perf_counter() - started
            timings = []
            for _ in range(20):
                started = time.perf_counter()
                files = service.render_files(session, first, now)
                timings.append((time.perf_counter() - started) * 1000)
        size = sum(len(content) for content in files.values())
        print(f"one invoice PDF: median {statistics.median(timings):.0f} ms, "
              f"p95 {sorted(timings)[18]:.0f} ms, first {warm_up * 1000:.0f} ms, "
              f"{size / 1024:.0f} KB (target <= 300 ms)")  # fmt: skip
        started = time.perf_counter()
        cpu_started = time.process_time()
        if args.processes == 1:
            made = service.generate_due(db, now, storage, limit=50, at_most=args.generate).generated
        else:
            # Several generators side by side, as several `meterbill worker` processes.
            share = -(-args.generate // args.processes)
            context = multiprocessing.get_context("spawn")
            with context.Pool(args.processes) as pool:
                task = (db.url, now, str(storage.root), share)
                made = sum(pool.starmap(_generate, [task] * args.processes))
        elapsed = time.perf_counter() - started
        print(f"generator ({args.processes} process{'es' if args.processes > 1 else ''}): "
              f"{made} PDFs in {elapsed:.1f} s = {made / elapsed:.1f} per second "
              f"(target >= 20 per process)")  # fmt: skip
        if args.processes == 1 and made:
            # The generator's own CPU time: what one process can do on an idle core, a
            # figure the machine's other load changes much less than the wall clock.
            cpu = (time.process_time() - cpu_started) / made
            print(f"generator CPU time: {cpu * 1000:.1f} ms per PDF = "
                  f"{1 / cpu:.1f} per second of CPU")  # fmt: skip
        db.dispose()


if __name__ == "__main__":
    main()
