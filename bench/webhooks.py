"""Webhook delivery throughput: N deliveries to a local receiver that answers at once.

    .venv/bin/python bench/webhooks.py [--sqlite] [--deliveries 10000] [--hmac]
                                       [--slow 1000]

The outbox is filled with `--deliveries` webhooks (a customer-sized object each, JWT
signatures unless --hmac), then one delivery loop — what `meterbill worker` runs — sends
them to a receiver in another process (uvicorn, keep-alive). Prints deliveries per
second. With `--slow N`, the same run is made twice, on fresh databases, with the
timeout at 1 s: alone, then with N more deliveries to an endpoint that never answers,
written first; prints how much later the last healthy delivery arrived the second time
(the healthy endpoint must not wait for the silent one).
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import func, select

from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.migrations.runner import upgrade
from meterbill.organizations.service import create_organization
from meterbill.webhooks.delivery import DeliveryLoop, DeliveryOptions
from meterbill.webhooks.models import Webhook
from meterbill.webhooks.outbox import enqueue
from meterbill.webhooks.service import create_endpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import free_port, fresh_postgres

START = datetime(2026, 1, 1, tzinfo=UTC)


def _receiver(port: int) -> None:
    import uvicorn

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _silent(sock: socket.socket, stop: threading.Event) -> None:
    """An endpoint that accepts connections and never answers."""
    held = []
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            held.append(sock.accept()[0])
        except TimeoutError:
            continue
    for connection in held:
        connection.close()


def _customer(number: int) -> dict[str, Any]:
    return {
        "lago_id": f"00000000-0000-4000-8000-{number:012d}",
        "external_id": f"cus_{number}",
        "name": f"Customer {number}",
        "email": f"billing+{number}@example.com",
        "currency": "EUR",
        "timezone": "Europe/Paris",
        "address_line1": "5 rue de la Paix",
        "city": "Paris",
        "zipcode": "75002",
        "country": "FR",
        "billing_configuration": {"invoice_grace_period": 3, "document_locale": "fr"},
        "metadata": [{"key": "tier", "value": "gold", "display_in_invoice": True}],
        "created_at": "2026-01-01T00:00:00Z",
    }


def populate(db: Database, url: str, count: int, algo: str, offset: int = 0) -> None:
    with db.transaction() as session:
        organization = create_organization(session, f"Bench {offset}", START)
        values = {"webhook_url": url, "signature_algo": algo}
        create_endpoint(session, organization.id, values, START)
        for number in range(count):
            body = _customer(offset + number)
            enqueue(session, organization.id, "customer.created", "customer", body, START)


def _succeeded(db: Database) -> int:
    with db.transaction(write=False) as session:
        query = select(func.count()).where(Webhook.status == "succeeded")
        return int(session.scalar(query) or 0)


def _run(args: argparse.Namespace, algo: str, healthy: str, silent_url: str | None) -> float:
    """Fill a fresh outbox, deliver it with one loop; the seconds until every healthy
    delivery succeeded."""
    with TemporaryDirectory() as tmp:
        url = (
            f"sqlite:///{tmp}/bench.db"
            if args.sqlite
            else fresh_postgres(args.postgres_admin, "meterbill_bench_webhooks")
        )
        upgrade(url)
        db = Database(url, pool_size=8)
        slow = args.slow if silent_url else 0
        if silent_url:
            populate(db, silent_url, slow, algo, offset=10_000_000)
        populate(db, healthy, args.deliveries, algo)
        print(f"outbox: {args.deliveries} deliveries ({algo}), {slow} to a silent one")
        options = DeliveryOptions(timeout_seconds=1.0 if args.slow else 30.0)
        loop = DeliveryLoop(db, options, utc_now, poll_seconds=0.05)
        started = time.perf_counter()
        loop.start()
        while _succeeded(db) < args.deliveries:
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        loop.stop()
        with db.transaction(write=False) as session:
            attempts = session.scalar(select(func.sum(Webhook.attempts)))
        print(
            f"delivered {args.deliveries} in {elapsed:.2f} s: "
            f"{args.deliveries / elapsed:.0f} deliveries/s "
            f"({'SQLite' if args.sqlite else 'PostgreSQL'}, one worker); "
            f"{attempts} attempts in all"
        )
        db.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--hmac", action="store_true", help="HMAC signatures instead of JWT")
    parser.add_argument("--slow", type=int, default=0, help="deliveries to a silent endpoint")
    parser.add_argument(
        "--postgres-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    port = free_port()
    receiver = multiprocessing.get_context("spawn").Process(target=_receiver, args=(port,))
    receiver.start()
    _wait_for(port)
    stop = threading.Event()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4096)
    threading.Thread(target=_silent, args=(silent, stop), daemon=True).start()
    try:
        healthy = f"http://127.0.0.1:{port}/hooks"
        silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/never"
        algo = "hmac" if args.hmac else "jwt"
        if not args.slow:
            _run(args, algo, healthy, None)
            return
        alone = _run(args, algo, healthy, None)
        beside = _run(args, algo, healthy, silent_url)
        print(
            f"with {args.slow} deliveries to a silent endpoint the healthy ones finished "
            f"{beside - alone:+.2f} s later ({alone:.2f} s alone, {beside:.2f} s beside it)"
        )
    finally:
        stop.set()
        receiver.terminate()
        receiver.join()


if __name__ == "__main__":
    main()
