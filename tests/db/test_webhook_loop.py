"""The background delivery loop (`serve`, `meterbill worker`): a silent endpoint holds
its own senders only, and never delays another endpoint's deliveries (issue 16, point 4)."""

from __future__ import annotations

import socket
import threading
import time

from sqlalchemy import func, select

from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.webhooks.delivery import DeliveryLoop, DeliveryOptions
from meterbill.webhooks.models import Webhook
from meterbill.webhooks.outbox import enqueue
from meterbill.webhooks.service import create_endpoint
from tests.conftest import make_org
from tests.webhook_receiver import running_receiver

SILENT = 40
HEALTHY = 20


def _fill(db: Database, url: str, count: int) -> None:
    org = make_org(db)
    now = utc_now()
    with db.transaction() as session:
        create_endpoint(session, org.id, {"webhook_url": url, "signature_algo": "jwt"}, now)
    with db.transaction() as session:
        for number in range(count):
            enqueue(session, org.id, "customer.created", "customer", {"n": number}, now)


def test_a_silent_endpoint_does_not_delay_a_healthy_one(fresh: Database) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(128)  # accepts, never answers
    with running_receiver() as receiver:
        # The silent endpoint's deliveries were written first.
        _fill(fresh, f"http://127.0.0.1:{silent.getsockname()[1]}/never", SILENT)
        _fill(fresh, receiver.url, HEALTHY)
        options = DeliveryOptions(timeout_seconds=5, concurrency=8, per_endpoint=2)
        loop = DeliveryLoop(fresh, options, utc_now, poll_seconds=0.05)
        loop.start()
        try:
            deadline = time.monotonic() + 30
            while len(receiver.received) < HEALTHY and time.monotonic() < deadline:
                time.sleep(0.02)  # waiting for the loop's thread, not for business time
            with fresh.transaction(write=False) as session:
                tried = session.scalar(
                    select(func.count()).where(Webhook.attempts > 0, Webhook.status != "succeeded")
                )
        finally:
            loop.stop()
            silent.close()
    assert len(receiver.received) == HEALTHY
    assert len({item.unique_key for item in receiver.received}) == HEALTHY
    # Meanwhile the silent endpoint had at most its two senders' first sends recorded.
    assert tried is not None and tried <= 2


def test_the_loop_records_outcomes_and_stops_cleanly(fresh: Database) -> None:
    with running_receiver() as receiver:
        receiver.answers = [503]
        _fill(fresh, receiver.url, 5)
        loop = DeliveryLoop(fresh, DeliveryOptions(), utc_now, poll_seconds=0.05)
        loop.start()
        done = threading.Event()
        deadline = time.monotonic() + 30
        while not done.is_set() and time.monotonic() < deadline:
            with fresh.transaction(write=False) as session:
                statuses = dict(
                    session.execute(
                        select(Webhook.status, func.count()).group_by(Webhook.status)
                    ).all()
                )
            if statuses == {"succeeded": 4, "retrying": 1}:
                done.set()
            time.sleep(0.02)
        loop.stop()
    assert done.is_set()
    assert len(receiver.received) == 5
