"""Group commit for single-event requests.

Each POST /events waits for its event to be committed (a 200 means durable), but
concurrent requests share one transaction: a writer thread takes every event
queued while the previous commit was running, inserts them in one statement and
commits once. Under load, one commit serves many requests; alone, a request
costs one commit as before.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from meterbill.core.db import Database
from meterbill.events.schemas import EventInput
from meterbill.events.service import StoredEvent, insert_events

logger = logging.getLogger("meterbill")
MAX_GROUP = 1000


@dataclass
class _Pending:
    organization_id: uuid.UUID
    event: EventInput
    now: datetime
    result: Future[StoredEvent | None]


class GroupCommitter:
    """Inserts events for many concurrent requests in shared transactions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(
        self, organization_id: uuid.UUID, event: EventInput, now: datetime, timeout: float = 30
    ) -> StoredEvent | None:
        """Block until the event is committed; None when it was a duplicate."""
        self._ensure_started()
        pending = _Pending(organization_id, event, now, Future())
        self._queue.put(pending)
        return pending.result.result(timeout=timeout)

    async def submit_async(
        self, organization_id: uuid.UUID, event: EventInput, now: datetime
    ) -> StoredEvent | None:
        """The same for async callers: the request waits without holding a thread."""
        self._ensure_started()
        pending = _Pending(organization_id, event, now, Future())
        self._queue.put(pending)
        return await asyncio.wrap_future(pending.result)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="meterbill-group-commit", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._flush(group)
                    return
                group.append(item)
            self._flush(group)

    def _flush(self, group: list[_Pending]) -> None:
        try:
            outcomes = self._insert(group)
        except Exception as exc:  # answer every waiting request, whatever failed
            logger.exception("group commit failed")
            for pending in group:
                pending.result.set_exception(exc)
            return
        for pending, outcome in zip(group, outcomes, strict=True):
            pending.result.set_result(outcome)

    def _insert(self, group: list[_Pending]) -> list[StoredEvent | None]:
        outcomes: list[StoredEvent | None] = [None] * len(group)
        by_organization: dict[uuid.UUID, list[int]] = {}
        seen: set[tuple[uuid.UUID, str, str]] = set()
        for index, pending in enumerate(group):
            key = (
                pending.organization_id,
                pending.event.external_subscription_id,
                pending.event.transaction_id,
            )
            # Two requests for one transaction in the same group: the first one wins.
            if key not in seen:
                seen.add(key)
                by_organization.setdefault(pending.organization_id, []).append(index)
        with self.db.transaction() as session:
            for organization_id, indexes in by_organization.items():
                stored, duplicates = insert_events(
                    session,
                    organization_id,
                    [group[index].event for index in indexes],
                    group[indexes[0]].now,
                )
                for position, index in enumerate(indexes):
                    if position not in duplicates:
                        outcomes[index] = stored[position]
        return outcomes
