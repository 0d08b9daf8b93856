"""Event ingestion throughput: batches of 100 and single events, against the raw floor.

    .venv/bin/python bench/ingest.py [--sqlite] [--batches 400] [--singles 5000]
        [--server-workers N] [--database-name NAME] [--scaling 1,3]

The server is started exactly as `make serve` starts it (its defaults: one process per
core on PostgreSQL, one on SQLite; log level info), on a fresh database and another
port. Server and load generator share this machine: wrk first (when installed), then
Python client processes, each with its own keep-alive connections. The raw floor is a
plain executemany of the same rows into the same table, in this process, in the same run.

With --scaling 1,3 the wrk runs are made once per server process count, and the CPU time
each side spent is measured from /proc: the meterbill processes, this database's
PostgreSQL backends, PostgreSQL's shared background processes (WAL writer, checkpointer)
and wrk. Per event, that split tells how far more processes can go on this machine: at
most (cores) / (CPU seconds per event, all sides together) events per second.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import NamedTemporaryFile, TemporaryDirectory
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import BENCH_KEY, fresh_postgres, percentile, served_by_make, served_process

from meterbill.serving import default_workers

HEADERS = {"Authorization": f"Bearer {BENCH_KEY}"}


def event(prefix: str, index: int) -> dict[str, Any]:
    return {
        "transaction_id": f"{prefix}-{index}",
        "external_subscription_id": f"sub-{index % 50}",
        "code": "storage",
        "timestamp": 1_735_689_600 + index,
        "properties": {"gb": index % 17, "region": "eu" if index % 2 else "us"},
    }


def _batch_worker(args: tuple[str, int, int]) -> list[float]:
    base, worker, count = args
    latencies = []
    with httpx.Client(base_url=base, headers=HEADERS, timeout=120) as client:
        for batch in range(count):
            prefix = f"b{worker}-{batch}"
            body = {"events": [event(prefix, i) for i in range(100)]}
            started = time.perf_counter()
            client.post("/api/v1/events/batch", json=body).raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies


def _single_worker(args: tuple[str, int, int]) -> list[float]:
    base, worker, count = args
    latencies = []
    with httpx.Client(base_url=base, headers=HEADERS, timeout=120) as client:
        for index in range(count):
            body = {"event": event(f"s{worker}", index)}
            started = time.perf_counter()
            client.post("/api/v1/events", json=body).raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies


def run_load(worker: Any, base: str, workers: int, per_worker: int) -> tuple[float, list[float]]:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        # Warm the pool up so process start-up is not timed.
        pool.map(time.sleep, [0.01] * workers)
        started = time.perf_counter()
        parts = pool.map(worker, [(base, w, per_worker) for w in range(workers)])
        elapsed = time.perf_counter() - started
    return elapsed, [latency for part in parts for latency in part]


def raw_floor(url: str, rows: int) -> float:
    """Plain executemany of `rows` events into the events table (one transaction per 100)."""
    engine = create_engine(url)
    organization_id = None
    with engine.begin() as connection:
        organization_id = connection.execute(text("SELECT id FROM organizations LIMIT 1")).scalar()
    postgres = "postgresql" in url
    # Stored as the application stores them: SQLite holds naive UTC text and hex uuids.
    stamp = datetime.now(UTC) if postgres else datetime.now(UTC).replace(tzinfo=None)
    properties = '{"gb": 1, "region": "eu"}'

    def lago_id() -> object:
        return uuid.uuid4() if postgres else uuid.uuid4().hex

    statement = text(
        "INSERT INTO events (lago_id, organization_id, transaction_id, external_subscription_id,"
        " code, timestamp, properties, created_at) VALUES (:lago_id, :org, :tx, :sub, :code,"
        " :ts, :props, :created)"
    )
    batches = [
        [
            {"lago_id": lago_id(), "org": organization_id, "tx": f"raw-{b}-{i}",
             "sub": f"sub-{i % 50}", "code": "storage", "ts": stamp, "props": properties,
             "created": stamp}
            for i in range(100)
        ]
        for b in range(rows // 100)
    ]  # fmt: skip
    started = time.perf_counter()
    for batch in batches:
        with engine.begin() as connection:
            connection.execute(statement, batch)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return rows / elapsed


WRK_SCRIPT = """
local counter = 0
local thread_number = 0
local threads = {}
function setup(thread)
  thread_number = thread_number + 1
  thread:set("tid", thread_number)
end
local function one(prefix, i)
  return string.format('{"transaction_id":"%s-%d","external_subscription_id":"sub-%d",'
    .. '"code":"storage","timestamp":1735689600,"properties":{"gb":%d,"region":"eu"}}',
    prefix, i, i % 50, i % 17)
end
request = function()
  counter = counter + 1
  local prefix = "w" .. RUN .. "-" .. tid .. "-" .. counter
  local body
  if BATCH then
    local events = {}
    for i = 1, 100 do events[i] = one(prefix, i) end
    body = '{"events":[' .. table.concat(events, ",") .. ']}'
  else
    body = '{"event":' .. one(prefix, 0) .. '}'
  end
  return wrk.format("POST", BATCH and "/api/v1/events/batch" or "/api/v1/events",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer KEY"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %d %d %.3f %.3f %.3f %d\\n", summary.requests,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status))
end
"""


def _cpu_seconds(pid: int) -> tuple[int, float] | None:
    """(session id, user + system CPU seconds) of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[3]), (int(fields[11]) + int(fields[12])) / ticks


def cpu_by_side(server_session: int, database: str) -> dict[str, float]:
    """CPU seconds so far: meterbill's processes (the server's session), this database's
    PostgreSQL backends, PostgreSQL's shared processes (WAL, checkpoints)."""
    sides = {"meterbill": 0.0, "postgres backends": 0.0, "postgres shared": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        found = _cpu_seconds(int(entry.name))
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if found is None:
            continue
        session, seconds = found
        if session == server_session:
            sides["meterbill"] += seconds
        elif command.startswith("postgres: ") and f" {database} " in command:
            sides["postgres backends"] += seconds
        elif command.startswith("postgres: ") and any(
            word in command for word in ("walwriter", "checkpointer", "background writer")
        ):
            sides["postgres shared"] += seconds
    return sides


def run_wrk(
    base: str, batch: bool, seconds: int, connections: int, cpu: tuple[int, str] | None = None
) -> float:
    script = WRK_SCRIPT.replace("KEY", BENCH_KEY)
    script = f"RUN = '{uuid.uuid4().hex[:8]}'\nBATCH = {'true' if batch else 'false'}\n" + script
    with NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    before = cpu_by_side(*cpu) if cpu else {}
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", handle.name, base],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    line = next(item for item in output.splitlines() if item.startswith("WRK "))
    requests, micros, p50, p99, worst, errors = line.split()[1:]
    rate = int(requests) / (int(micros) / 1_000_000)
    unit = "events/s" if batch else "requests/s"
    label = "batch of 100" if batch else "single event"
    print(f"{label} with wrk ({connections} connections, {seconds} s): "
          f"{rate * (100 if batch else 1):10.0f} {unit}, p50 {float(p50):.1f} ms, "
          f"p99 {float(p99):.1f} ms, max {float(worst):.1f} ms, non-2xx {errors}")  # fmt: skip
    events = int(requests) * (100 if batch else 1)
    if cpu:
        after = cpu_by_side(*cpu)
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = {side: after[side] - before[side] for side in after}
        spent["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime) - (
            wrk_before.ru_utime + wrk_before.ru_stime
        )
        total = sum(spent.values())
        wall = int(micros) / 1_000_000
        parts = ", ".join(
            f"{side} {value:.1f} s ({value / total:.0%}, {value / events * 1e6:.0f} us/event)"
            for side, value in spent.items()
        )
        print(f"  CPU over {wall:.1f} s of wall time: {total:.1f} s = {total / wall:.2f} cores; "
              f"{parts}")  # fmt: skip
        cores = os.cpu_count() or 1
        print(f"  ceiling at {cores} cores if this machine did nothing else: "
              f"{cores / (total / events):.0f} {'events' if batch else 'requests'}/s")  # fmt: skip
    return rate * (100 if batch else 1)


def scaling(url: str, args: argparse.Namespace) -> None:
    """The same wrk runs against 1, 2, 3... server processes, with the CPU split."""
    database = url.rsplit("/", 1)[1]
    rates: dict[int, tuple[float, float]] = {}
    for count in (int(item) for item in args.scaling.split(",")):
        print(f"server: `meterbill serve --workers {count}` (log level warning)")
        with served_process(url, count) as (base, process):
            session = process.pid
            batch = run_wrk(base, True, args.seconds, args.connections, (session, database))
            single = run_wrk(base, False, args.seconds, args.connections, (session, database))
        rates[count] = (batch, single)
    first = min(rates)
    for count, (batch, single) in rates.items():
        print(f"{count} process(es): batches {batch:.0f} events/s "
              f"({batch / rates[first][0]:.2f}x), singles {single:.0f} requests/s "
              f"({single / rates[first][1]:.2f}x)")  # fmt: skip


def bench(url: str, args: argparse.Namespace) -> None:
    if args.scaling:
        scaling(url, args)
        return
    processes = args.server_workers or default_workers(url)
    print(f"server: `make serve`, {processes} process(es)")
    with served_by_make(url, args.server_workers) as base:
        wrk = shutil.which("wrk") is not None
        if wrk:
            run_wrk(base, True, args.seconds, args.connections)
            run_wrk(base, False, args.seconds, args.connections)
        else:
            print("wrk not found (apt-get install wrk): load from Python processes")
        if not wrk or args.python_clients:
            python_load(base, args)
    floor = raw_floor(url, args.batches * 100 // 4)
    print(f"raw floor (executemany, 100 rows per transaction): {floor:10.0f} events/s")


def python_load(base: str, args: argparse.Namespace) -> None:
    """Load from Python client processes: on a small machine they cost the server more
    CPU than wrk does, so their figures are lower."""
    elapsed, latencies = run_load(_batch_worker, base, args.workers, args.batches // args.workers)
    events = len(latencies) * 100
    print(f"batch ingestion: {events} events in {len(latencies)} requests of 100, "
          f"{args.workers} client processes")  # fmt: skip
    print(f"  throughput      {events / elapsed:10.0f} events/s")
    print(f"  request p50     {percentile(latencies, 0.5) * 1000:10.1f} ms")
    print(f"  request p99     {percentile(latencies, 0.99) * 1000:10.1f} ms")
    elapsed, latencies = run_load(_single_worker, base, args.workers, args.singles // args.workers)
    print(f"single-event ingestion: {len(latencies)} requests, {args.workers} client processes")
    print(f"  throughput      {len(latencies) / elapsed:10.0f} requests/s")
    print(f"  latency p50     {percentile(latencies, 0.5) * 1000:10.1f} ms")
    print(f"  latency p99     {percentile(latencies, 0.99) * 1000:10.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--singles", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=4, help="Python load processes")
    parser.add_argument(
        "--python-clients", action="store_true", help="also load from Python, after wrk"
    )
    parser.add_argument(
        "--server-workers", type=int, default=None, help="meterbill processes (default: serve's)"
    )
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per test")
    parser.add_argument(
        "--scaling", default="", help="server process counts to compare, e.g. 1,3 (wrk only)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument(
        "--database-name", default="meterbill_bench_ingest", help="dropped and created afresh"
    )
    args = parser.parse_args()
    if args.sqlite:
        with TemporaryDirectory() as folder:
            print("database: SQLite")
            bench(f"sqlite:///{folder}/bench.db", args)
    else:
        print("database: PostgreSQL")
        bench(fresh_postgres(args.postgres_admin_url, args.database_name), args)


if __name__ == "__main__":
    main()
