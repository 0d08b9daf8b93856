"""Many processes on one PostgreSQL (issue 19, point 4): three `meterbill serve` processes
(as behind a load balancer) and two `meterbill worker` processes. Ingestion and the API go
through all three servers, the same events are sent to two servers at once, billing runs
in both workers at once; nothing is lost, counted twice or billed twice.

Real processes, started as an operator starts them, on a database of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, make_url, text

from tests.conftest import POSTGRES_URL, _free_port

pytestmark = pytest.mark.skipif(POSTGRES_URL is None, reason="several processes need PostgreSQL")

KEY = "many-processes-key"
CUSTOMERS = 8
# These customers' subscriptions are terminated through the API instead, by two servers
# at once; the workers end the others'.
ENDED_BY_API = (6, 7)
EVENTS = 40  # per subscription: units 1..5 eight times over, 120 units
UNITS = 120
# No subscription fee (a termination would prorate it), 0.25 a unit: 120 x 0.25 = 30.00.
TOTAL_CENTS = 3000


@dataclass
class Fleet:
    servers: list[str]
    workers: list[str]  # each worker's /metrics
    database_url: str
    processes: list[subprocess.Popen[bytes]]
    logs: Path


def _database(base_url: str, name: str, create: bool) -> str:
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def _until(condition: Callable[[], Any], what: str, seconds: float = 45) -> Any:
    """Poll until `condition()` is truthy (no sleeping for time: a deadline)."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    assert POSTGRES_URL is not None
    name = f"{make_url(POSTGRES_URL).database}_fleet_{os.environ.get('PYTEST_XDIST_WORKER', 'm')}"
    url = _database(POSTGRES_URL, name, create=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("METERBILL_")}
    env |= {"METERBILL_DATABASE_URL": url, "METERBILL_API_KEY": KEY,
            "METERBILL_LOG_LEVEL": "info", "METERBILL_LOG_FORMAT": "json",
            "METERBILL_STORAGE_DIR": str(tmp_path / "files"),
            "METERBILL_DISABLE_PDF_GENERATION": "true"}  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "meterbill"]
    subprocess.run([*command, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    processes: list[subprocess.Popen[bytes]] = []
    servers, workers = [], []

    def start(arguments: list[str], log: str, **extra: str) -> None:
        with open(tmp_path / log, "wb") as output:
            processes.append(subprocess.Popen([*command, *arguments], env=env | extra,
                                              stdout=output, stderr=subprocess.STDOUT))  # fmt: skip

    try:
        for index in range(3):
            port = _free_port()
            # The API processes run no clock: the workers bill.
            start(["serve", "--no-migrate", "--workers", "1", "--port", str(port)],
                  f"serve{index}.log", METERBILL_CLOCK_INTERVAL_SECONDS="0")  # fmt: skip
            servers.append(f"http://127.0.0.1:{port}")
        for index in range(2):
            port = _free_port()
            start(["worker", "--interval", "0.2", "--metrics-port", str(port)],
                  f"worker{index}.log")  # fmt: skip
            workers.append(f"http://127.0.0.1:{port}/metrics")

        def up(url: str) -> bool:
            for process, log in zip(processes, sorted(tmp_path.glob("*.log")), strict=False):
                assert process.poll() is None, log.read_text()[-3000:]
            return _answers(url)

        for address in [*(f"{server}/health/ready" for server in servers), *workers]:
            # Five processes importing at once on a small, busy machine take a while.
            _until(lambda address=address: up(address), address, seconds=180)
        yield Fleet(servers, workers, url, processes, tmp_path)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _database(POSTGRES_URL, name, create=False)


def _metric(exposition: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def _usage_window(now: datetime) -> tuple[datetime, datetime]:
    """From two hours ago (not before this month) to the end of today (UTC)."""
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    today_ends = now.replace(hour=23, minute=59, second=59, microsecond=0)
    return max(now - timedelta(hours=2), month), today_ends


def test_three_servers_and_two_workers_lose_nothing_and_bill_once(fleet: Fleet) -> None:
    clients = [httpx.Client(base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {KEY}"},
                            timeout=30) for server in fleet.servers]  # fmt: skip

    def on(index: int) -> httpx.Client:
        return clients[index % len(clients)]

    metric = {"name": "Units", "code": "units", "aggregation_type": "sum_agg",
              "field_name": "units"}  # fmt: skip
    created = on(0).post("/billable_metrics", json={"billable_metric": metric})
    assert created.status_code == 200, created.text
    plan = {"name": "Metered", "code": "metered", "interval": "monthly", "amount_cents": 0,
            "amount_currency": "EUR", "pay_in_advance": False,
            "charges": [{"billable_metric_id": created.json()["billable_metric"]["lago_id"],
                         "charge_model": "standard",
                         "properties": {"amount": "0.25"}}]}  # fmt: skip
    assert on(1).post("/plans", json={"plan": plan}).status_code == 200
    for c in range(CUSTOMERS):
        customer = {"external_id": f"cus_{c}", "name": f"Customer {c}", "currency": "EUR"}
        assert on(c).post("/customers", json={"customer": customer}).status_code == 200

    # Usage from the subscriptions' start (two hours ago), sent before they are created
    # (the workers run all along): singles and batches spread over the three servers, and
    # duplicates of some of each sent to another server at the same moment.
    period_start, today_ends = _usage_window(datetime.now(UTC))

    def event(c: int, e: int) -> dict[str, object]:
        return {"transaction_id": f"s{c}-e{e}", "external_subscription_id": f"sub_{c}",
                "code": "units", "timestamp": int(period_start.timestamp()) + e + 1,
                "properties": {"units": e % 5 + 1}}  # fmt: skip

    sends: list[tuple[str, int, str, dict[str, object]]] = []  # (key, server, path, body)
    for c in range(CUSTOMERS):
        for e in range(20):
            sends.append((f"s{c}-e{e}", c + e, "/events", {"event": event(c, e)}))
            if e < 10:  # the same event to the next server
                sends.append((f"s{c}-e{e}", c + e + 1, "/events", {"event": event(c, e)}))
        for first in (20, 30):
            batch = {"events": [event(c, e) for e in range(first, first + 10)]}
            sends.append((f"s{c}-batch{first}", c + first, "/events/batch", batch))
            if first == 30:  # the whole batch again, to another server
                sends.append((f"s{c}-batch{first}", c + first + 2, "/events/batch", batch))
    with ThreadPoolExecutor(24) as pool:
        statuses = list(pool.map(lambda s: (s[0], on(s[1]).post(s[2], json=s[3]).status_code),
                                 sends))  # fmt: skip
    accepted = Counter(key for key, status in statuses if status == 200)
    refused = Counter(key for key, status in statuses if status == 422)
    assert set(accepted.values()) == {1}  # each event or batch stored by exactly one server
    assert len(accepted) == CUSTOMERS * (20 + 2)
    assert sum(refused.values()) == CUSTOMERS * (10 + 1)
    assert len(statuses) == sum(accepted.values()) + sum(refused.values())

    # Subscriptions that started two hours ago and end today: the clock ends them on their
    # ending day, so both workers race to terminate them, with their invoices, at once.
    for c in range(CUSTOMERS):
        subscription = {"external_customer_id": f"cus_{c}", "plan_code": "metered",
                        "external_id": f"sub_{c}", "billing_time": "calendar",
                        "subscription_at": period_start.isoformat()}  # fmt: skip
        if c not in ENDED_BY_API:
            subscription["ending_at"] = today_ends.isoformat()
        answer = on(c + 1).post("/subscriptions", json={"subscription": subscription})
        assert answer.status_code == 200, answer.text
    # The others: the same termination sent to two servers at the same moment.
    with ThreadPoolExecutor(4) as pool:
        pairs = [(c, c + shift) for c in ENDED_BY_API for shift in (0, 1)]
        ended = list(pool.map(lambda cs: on(cs[1]).delete(f"/subscriptions/sub_{cs[0]}"),
                              pairs))  # fmt: skip
    assert all(answer.status_code in (200, 404, 422) for answer in ended), [
        answer.text for answer in ended
    ]
    assert sum(answer.status_code == 200 for answer in ended) >= len(ENDED_BY_API)

    def invoices(c: int) -> list[dict[str, Any]]:
        page = on(c).get("/invoices", params={"external_customer_id": f"cus_{c}"})
        return page.json()["invoices"]  # type: ignore[no-any-return]

    def all_billed() -> bool:
        return all([i["status"] for i in invoices(c)] == ["finalized"] for c in range(CUSTOMERS))

    try:
        _until(all_billed, "every subscription's invoice")
    except AssertionError:
        states = {c: [(i["status"], i["total_amount_cents"]) for i in invoices(c)]
                  for c in range(CUSTOMERS)}  # fmt: skip
        raise AssertionError(f"invoices by customer: {states}") from None
    # Both workers tick twice more: a second invoice would show now.
    ticks = [_metric(httpx.get(url).text, "meterbill_clock_ticks_total") for url in fleet.workers]
    for url, seen in zip(fleet.workers, ticks, strict=True):
        _until(lambda url=url, seen=seen: _metric(httpx.get(url).text,
               "meterbill_clock_ticks_total") >= seen + 2, "two more ticks")  # fmt: skip

    for c in range(CUSTOMERS):
        [invoice] = invoices(c)
        assert invoice["total_amount_cents"] == TOTAL_CENTS
        full = on(c + 2).get(f"/invoices/{invoice['lago_id']}").json()["invoice"]
        [usage] = [fee for fee in full["fees"] if fee["item"]["type"] == "charge"]
        assert (float(usage["units"]), usage["amount_cents"]) == (UNITS, 3000)

    engine = create_engine(fleet.database_url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM events")).scalar_one()
        numbers = connection.execute(
            text("SELECT count(DISTINCT number), count(*) FROM invoices")
        ).one()
    engine.dispose()
    assert stored == CUSTOMERS * EVENTS
    assert tuple(numbers) == (CUSTOMERS, CUSTOMERS)

    # What the three servers' /metrics tell, summed, agrees.
    expositions = [httpx.get(f"{server}/metrics").text for server in fleet.servers]
    ingested = sum(_metric(text_, "meterbill_events_ingested_total") for text_ in expositions)
    duplicates = sum(
        _metric(text_, "meterbill_events_refused_total", reason="duplicate")
        for text_ in expositions
    )
    assert ingested == CUSTOMERS * EVENTS
    assert duplicates == CUSTOMERS * (10 + 10)
    # Every server took its share of the ingestion.
    assert all(_metric(text_, "meterbill_events_ingested_total") > 0 for text_ in expositions)
    for client in clients:
        client.close()

    # Each server's log: JSON lines, one access line per request, each with its own id.
    ids: list[str] = []
    for index in range(len(fleet.servers)):
        lines = (fleet.logs / f"serve{index}.log").read_text().splitlines()
        access = [line for line in map(json.loads, lines) if line["logger"] == "meterbill.access"]
        ingestion = [line for line in access if line["route"] == "/api/v1/events"]
        assert len(ingestion) == sum(1 for send in sends
                                     if send[1] % 3 == index and send[2] == "/events")  # fmt: skip
        ids.extend(line["request_id"] for line in access)
    assert len(ids) == len(set(ids))
