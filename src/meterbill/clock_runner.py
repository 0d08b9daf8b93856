"""Running the clock on a schedule: in a `serve` process, or in `meterbill worker`.

Every job is idempotent and claims rows with SKIP LOCKED, so any number of processes
may run this loop against one database; each tick uses the wall clock at its start.
"""

from __future__ import annotations

import logging
import threading

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.operations import telemetry
from meterbill.settings import Settings

logger = logging.getLogger("meterbill.clock")


def tick_once(db: Database, settings: Settings | None = None) -> None:
    """One tick. A unit that fails is logged and counted by the tick itself; anything
    that still escapes is logged here, and the next tick tries again (jobs are idempotent)."""
    try:
        report = tick(db, utc_now(), options=(settings or Settings()).clock_options())
    except Exception:
        logger.exception("clock tick failed")
        return
    telemetry.record_tick(report.failures)
    billed = len(report.billing.invoices)
    if billed or report.billing.finalized or report.terminated or report.activated:
        logger.info(
            "clock: %d activated, %d terminated, %d invoices, %d finalized",
            len(report.activated),
            len(report.terminated),
            billed,
            len(report.billing.finalized),
        )
    if report.failures:
        # Each was logged with its ids and traceback as it happened.
        logger.warning("clock: %d failures this tick", len(report.failures))


def run_forever(
    db: Database,
    interval_seconds: float,
    stop: threading.Event,
    settings: Settings | None = None,
) -> None:
    while not stop.is_set():
        tick_once(db, settings)
        stop.wait(interval_seconds)


class BackgroundClock:
    """The clock in a daemon thread of the server process."""

    def __init__(
        self, db: Database, interval_seconds: float, settings: Settings | None = None
    ) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_forever, args=(db, interval_seconds, self._stop, settings), daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
