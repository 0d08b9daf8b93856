"""What the metrics read of the database: its pool's use, the queues of background work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, event, func, select

from meterbill.core.db import Database
from meterbill.documents.models import Document
from meterbill.invoices.models import Invoice
from meterbill.operations.telemetry import POOL_IN_USE, POOL_OPEN
from meterbill.webhooks.delivery import DUE_LITERALLY
from meterbill.webhooks.models import Webhook


def _queries(now: datetime) -> dict[str, Select[Any]]:
    """Counted by the indexes the workers claim with (status, then due time)."""
    count = func.count()
    return {
        "webhooks": select(count)
        .select_from(Webhook)
        .where(DUE_LITERALLY, Webhook.next_attempt_at <= now),
        "documents": select(count)
        .select_from(Document)
        .where(Document.status == "pending", Document.next_attempt_at <= now),
        "failed_invoices": select(count).select_from(Invoice).where(Invoice.status == "failed"),
    }


def watch_pool(engine: Engine) -> None:
    """Keep the pool gauges up to date from the pool's own events."""

    def opened(*_: Any) -> None:
        POOL_OPEN.inc()

    def closed(*_: Any) -> None:
        POOL_OPEN.dec()

    def out(*_: Any) -> None:
        POOL_IN_USE.inc()

    def back(*_: Any) -> None:
        POOL_IN_USE.dec()

    event.listen(engine, "connect", opened)
    event.listen(engine, "close", closed)
    event.listen(engine, "close_detached", closed)
    event.listen(engine, "checkout", out)
    event.listen(engine, "checkin", back)
    # What the pool held before it was watched (the engine may have served already):
    # their closing is counted down too.
    pool: Any = engine.pool
    if hasattr(pool, "checkedin") and hasattr(pool, "checkedout"):
        POOL_OPEN.inc(pool.checkedin() + pool.checkedout())
        POOL_IN_USE.inc(pool.checkedout())


def backlog(db: Database, now: datetime) -> dict[str, int]:
    with db.transaction(write=False) as session:
        return {
            queue: int(session.execute(query).scalar_one())
            for queue, query in _queries(now).items()
        }
