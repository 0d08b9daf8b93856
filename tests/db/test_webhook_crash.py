"""A worker killed (SIGKILL) between claiming a delivery and recording its outcome: the
delivery is sent again once the claim's lease has run out, with the same unique key
(issue 16, point 7: at least once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta

from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.webhooks.delivery import DeliveryOptions, deliver_due
from meterbill.webhooks.models import Webhook
from meterbill.webhooks.outbox import enqueue
from meterbill.webhooks.service import create_endpoint
from tests.conftest import make_org
from tests.webhook_receiver import running_receiver


def _row(db: Database) -> Webhook:
    with db.transaction(write=False) as session:
        row = session.scalar(select(Webhook))
        assert row is not None
        session.expunge(row)
        return row


def test_a_worker_killed_between_claim_and_send_redelivers_after_restart(
    fresh: Database,
) -> None:
    with running_receiver() as receiver:
        receiver.hold = threading.Event()
        org = make_org(fresh)
        # The worker runs on the wall clock: the delivery is due now.
        written = utc_now()
        with fresh.transaction() as session:
            create_endpoint(
                session, org.id, {"webhook_url": receiver.url, "signature_algo": "hmac"}, written
            )
            enqueue(session, org.id, "customer.created", "customer", {"lago_id": "c-1"}, written)
        worker = subprocess.Popen(
            [sys.executable, "-m", "meterbill", "worker", "--interval", "3600"],
            env={**os.environ, "METERBILL_DATABASE_URL": fresh.url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # The worker has claimed the row and its POST is waiting for an answer.
            assert receiver.arrived.wait(timeout=120), "the worker sent nothing"
            os.kill(worker.pid, signal.SIGKILL)
            assert worker.wait(timeout=30) == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
            receiver.hold.set()

        leased = _row(fresh)
        # Nothing recorded: still due, no attempt counted, held until the lease ends.
        assert (leased.status, leased.attempts, leased.http_status) == ("pending", 0, None)
        lease_end = leased.next_attempt_at
        assert lease_end > written + DeliveryOptions().lease - timedelta(minutes=1)

        # A worker started again sends nothing while the lease holds...
        options = DeliveryOptions()
        assert deliver_due(fresh, lease_end - timedelta(seconds=1), options).sent == 0
        assert len(receiver.received) == 1
        # ...and the same delivery once it has run out.
        assert deliver_due(fresh, lease_end + timedelta(seconds=1), options).sent == 1

    first, second = receiver.received
    assert first.unique_key == second.unique_key == str(leased.id)
    assert first.body == second.body
    done = _row(fresh)
    assert (done.status, done.attempts, done.http_status) == ("succeeded", 1, 200)
