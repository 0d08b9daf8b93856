"""Shared by the benchmarks: a fresh database and a `meterbill serve` subprocess."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    process = subprocess.Popen(
        [sys.executable, "-m", "meterbill", "serve", "--port", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/health")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
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
