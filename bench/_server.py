"""Shared by the benchmarks: a fresh database and a `meterbill serve` subprocess."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryFile

import httpx
from sqlalchemy import create_engine, text

BENCH_KEY = "bench-key"


def fresh_postgres(admin_url: str, name: str) -> str:
    """Drop and create database `name` next to `admin_url`; return its URL."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ROOT = Path(__file__).resolve().parent.parent


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/health")
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def served_by_make(database_url: str, workers: int | None = None) -> Iterator[str]:
    """The server exactly as `make serve` starts it (its defaults: log level, processes),
    on another port and database, with a known API key; its log goes to a file."""
    port = free_port()
    env = {**os.environ, "METERBILL_DATABASE_URL": database_url, "METERBILL_API_KEY": BENCH_KEY}
    for name in ("METERBILL_WORKERS", "METERBILL_LOG_LEVEL"):
        env.pop(name, None)
    if workers is not None:
        env["METERBILL_WORKERS"] = str(workers)
    with TemporaryFile() as log:
        process = subprocess.Popen(
            ["make", "-s", "-C", str(ROOT), "serve", f"PORT={port}"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"largest server process RSS {peak:.0f} MiB")


@contextmanager
def served(database_url: str, workers: int = 1) -> Iterator[str]:
    with served_process(database_url, workers) as (base, _process):
        yield base


@contextmanager
def served_process(
    database_url: str, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`served`, also giving the server process (to read its memory)."""
    port = free_port()
    env = {**os.environ, "METERBILL_DATABASE_URL": database_url, "METERBILL_API_KEY": BENCH_KEY,
           "METERBILL_LOG_LEVEL": "warning", "METERBILL_WORKERS": str(workers)}  # fmt: skip
    # Its own session: its processes can be told apart from others (bench/ingest.py's CPU).
    process = subprocess.Popen(
        [sys.executable, "-m", "meterbill", "serve", "--port", str(port)],
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)
        # Children are only counted once waited for: this is the server's peak.
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"server peak RSS {peak:.0f} MiB")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
