"""Document generation in the background of `serve` and `meterbill worker`: its own
thread, so that a slow PDF never holds the billing clock or a webhook delivery."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime

from meterbill.core.db import Database
from meterbill.documents.service import generate_due
from meterbill.documents.storage import Storage

logger = logging.getLogger("meterbill.documents")


class DocumentLoop:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        clock: Callable[[], datetime],
        poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.storage = storage
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="documents", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run(self) -> None:
        rng = random.Random()
        while not self._stop.is_set():
            try:
                report = generate_due(self.db, self.clock(), self.storage, limit=20, rng=rng)
                busy = bool(report.generated or report.failed)
            except Exception:
                logger.exception("document generation step failed")
                busy = False
            if not busy:
                self._stop.wait(self.poll_seconds)
