"""Webhook workers sharing one database: each delivery sent once; old records purged
by the clock (issue 16, points 3 and 6)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from meterbill.clock import ClockOptions, tick
from meterbill.core.db import Database
from meterbill.webhooks.delivery import DeliveryOptions, DeliveryReport, deliver_due
from meterbill.webhooks.models import Webhook
from meterbill.webhooks.outbox import enqueue
from meterbill.webhooks.service import create_endpoint
from tests.conftest import make_org
from tests.webhook_receiver import running_receiver

DELIVERIES = 150
WORKERS = 2
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _outbox(db: Database, url: str, count: int, now: datetime = NOW) -> None:
    org = make_org(db)
    with db.transaction() as session:
        create_endpoint(session, org.id, {"webhook_url": url, "signature_algo": "hmac"}, now)
    with db.transaction() as session:
        for number in range(count):
            body = {"lago_id": f"obj-{number}", "n": number}
            enqueue(session, org.id, "customer.created", "customer", body, now)


def test_two_workers_never_send_one_delivery_twice(fresh: Database) -> None:
    with running_receiver() as receiver:
        _outbox(fresh, receiver.url, DELIVERIES)
        # Small claims, so that the workers interleave many times.
        options = DeliveryOptions(batch=10, per_endpoint=10, concurrency=4)
        start = threading.Barrier(WORKERS)
        reports: list[DeliveryReport] = []
        errors: list[BaseException] = []
        second = Database(fresh.url, pool_size=4)

        def worker(db: Database) -> None:
            try:
                start.wait()
                reports.append(deliver_due(db, NOW + timedelta(seconds=1), options))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(db,)) for db in (fresh, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        second.dispose()
    assert errors == []
    keys = [item.unique_key for item in receiver.received]
    assert len(keys) == len(set(keys)) == DELIVERIES
    assert sum(report.sent for report in reports) == DELIVERIES
    with fresh.transaction(write=False) as session:
        statuses = session.execute(select(Webhook.status, func.count()).group_by(Webhook.status))
        assert dict(statuses.all()) == {"succeeded": DELIVERIES}


def test_the_clock_purges_records_after_the_retention(fresh: Database) -> None:
    _outbox(fresh, "http://127.0.0.1:9/unused", 3, NOW)
    _outbox(fresh, "http://127.0.0.1:9/unused", 2, NOW + timedelta(days=10))

    def count() -> int:
        with fresh.transaction(write=False) as session:
            return int(session.scalar(select(func.count()).select_from(Webhook)) or 0)

    assert tick(fresh, NOW + timedelta(days=90)).purged_webhooks == 0
    assert count() == 5
    assert tick(fresh, NOW + timedelta(days=90, seconds=1)).purged_webhooks == 3
    assert count() == 2
    options = ClockOptions(webhook_retention=timedelta(days=30))
    report = tick(fresh, NOW + timedelta(days=101), options=options)
    assert report.purged_webhooks == 2
    assert count() == 0
