"""Group commit for event ingestion.

Each POST /events or /events/batch waits for its events to be committed (a 200
means durable), but concurrent requests share one transaction: a writer thread
takes every request queued while the previous commit was running, inserts them
and commits once. Under load, one commit serves many requests; alone, a request
costs one commit as before. A batch stays all-or-nothing inside the shared
transaction through its own savepoint.

One request must never fail another: parse_event refuses what a database would,
before a request is queued. Should a shared transaction fail all the same (a row
validation did not foresee), each of its requests is retried alone, in its own
transaction, and only a request that fails alone gets the error.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from meterbill.core.db import Database
from meterbill.event_store import store_of
from meterbill.events.schemas import EventInput
from meterbill.events.service import (
    EventKey,
    NewEvent,
    StoredEvent,
    database_refusal,
    insert_events,
    insert_many,
)
from meterbill.operations.telemetry import observe_group

logger = logging.getLogger("meterbill")
# Properties are up to 64 KiB an event: a group also stops at this many bytes of them,
# so that one statement never carries hundreds of MiB.
MAX_GROUP_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """What happened to one request: its stored events, or the positions refused."""

    stored: list[StoredEvent] = field(default_factory=list)
    duplicates: set[int] = field(default_factory=set)


@dataclass
class Pending:
    """One request waiting for its events to be committed."""

    organization_id: uuid.UUID
    events: list[EventInput]
    now: datetime
    atomic: bool
    result: Future[Outcome]
    size: int = 0  # bytes of properties JSON


class GroupCommitter:
    """Inserts the events of many concurrent requests in shared transactions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # The store's own size: ClickHouse wants larger groups than a relational database.
        self.max_events = store_of(db.engine).group_events
        self._queue: queue.Queue[Pending | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def submit(
        self,
        organization_id: uuid.UUID,
        events: list[EventInput],
        now: datetime,
        *,
        atomic: bool,
    ) -> Outcome:
        """Wait, without holding a thread, until the events are committed or refused.

        A non-atomic request carries exactly one event (POST /events).
        """
        self._ensure_started()
        size = sum(len(event.properties_json or "") for event in events)
        request = Pending(organization_id, events, now, atomic, Future(), size)
        self._queue.put(request)
        return await asyncio.wrap_future(request.result)

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
            group, events, size = [first], len(first.events), first.size
            while events < self.max_events and size < MAX_GROUP_BYTES:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    commit(self.db, group)
                    return
                group.append(item)
                events += len(item.events)
                size += item.size
            observe_group(len(group), events)
            commit(self.db, group)


class PartlyDuplicate(Exception):
    """A batch of the group met a stored duplicate after some of its events were inserted:
    the group is done again with a savepoint per batch."""


def commit(db: Database, group: list[Pending]) -> None:
    """Insert the group's events in one transaction and answer every request.

    Should the transaction fail, each request is retried alone; only one that fails
    alone gets an error.
    """
    try:
        try:
            with db.transaction() as session:
                outcomes = _insert_group(session, group)
        except PartlyDuplicate:
            with db.transaction() as session:
                outcomes = _insert_group_by_batch(session, group)
    except Exception as exc:  # every waiting request must get an answer
        if len(group) == 1:
            _fail(group[0], exc)
            return
        # No savepoint per request in the shared transaction (each costs a round trip):
        # the rare failure pays instead, with one transaction per request.
        logger.warning(
            "group commit of %d requests failed (%s); retrying them one by one",
            len(group),
            type(exc).__name__,
        )
        for request in group:
            commit(db, [request])
        return
    for request, outcome in zip(group, outcomes, strict=True):
        request.result.set_result(outcome)


def _fail(request: Pending, error: Exception) -> None:
    refusal = database_refusal(error, batch=request.atomic)
    if refusal is None:
        logger.error("event insert failed", exc_info=error)
        request.result.set_exception(error)
    else:
        # The driver's message, without the statement and its parameters.
        logger.warning("the database refused a request's events: %s", getattr(error, "orig", error))
        request.result.set_exception(refusal)


def _keys(request: Pending) -> list[EventKey]:
    return [
        (request.organization_id, event.external_subscription_id, event.transaction_id)
        for event in request.events
    ]


def _insert_group(session: Session, group: list[Pending]) -> list[Outcome]:
    """Every request's events in one statement (the usual case: nothing is a duplicate).

    A transaction id met twice in the group goes to the first request that sent it. A
    batch whose events are all stored already (a client's retry) is refused as it is; one
    that is only partly stored raises PartlyDuplicate, since its new events were inserted
    and a batch is all or nothing.
    """
    outcomes: list[Outcome | None] = [None] * len(group)
    taken: set[EventKey] = set()
    items: list[NewEvent] = []
    slices: dict[int, tuple[int, int]] = {}
    for position, request in enumerate(group):
        request_keys = _keys(request)
        clashes = {index for index, key in enumerate(request_keys) if key in taken}
        if clashes:
            outcomes[position] = Outcome(duplicates=clashes)
            continue
        taken.update(request_keys)
        slices[position] = (len(items), len(items) + len(request.events))
        items.extend(NewEvent(request.organization_id, e, request.now) for e in request.events)
    stored, duplicates = insert_many(session, items)
    for position, (start, stop) in slices.items():
        refused = {index - start for index in duplicates if start <= index < stop}
        if not refused:
            outcomes[position] = Outcome(stored=stored[start:stop])
        elif len(refused) == stop - start:
            outcomes[position] = Outcome(duplicates=refused)
        else:
            raise PartlyDuplicate
    return [outcome or Outcome() for outcome in outcomes]


def _insert_group_by_batch(session: Session, group: list[Pending]) -> list[Outcome]:
    """Batches one by one under savepoints; single events together, one insert per organization."""
    outcomes: list[Outcome | None] = [None] * len(group)
    taken: set[EventKey] = set()
    for position, request in enumerate(group):
        if not request.atomic:
            continue
        request_keys = _keys(request)
        clashes = {index for index, key in enumerate(request_keys) if key in taken}
        if clashes:
            outcomes[position] = Outcome(duplicates=clashes)
            continue
        with session.begin_nested() as savepoint:
            stored, duplicates = insert_events(
                session, request.organization_id, request.events, request.now
            )
            if duplicates:
                savepoint.rollback()
                outcomes[position] = Outcome(duplicates=duplicates)
                continue
        taken.update(request_keys)
        outcomes[position] = Outcome(stored=stored)

    singles: list[int] = []
    for position, request in enumerate(group):
        if request.atomic:
            continue
        [key] = _keys(request)
        if key in taken:
            # The same transaction earlier in this group: the first one wins.
            outcomes[position] = Outcome(duplicates={0})
            continue
        taken.add(key)
        singles.append(position)
    stored, duplicates = insert_many(
        session,
        [NewEvent(group[p].organization_id, group[p].events[0], group[p].now) for p in singles],
    )
    for index, position in enumerate(singles):
        outcomes[position] = (
            Outcome(duplicates={0}) if index in duplicates else Outcome(stored=[stored[index]])
        )
    return [outcome or Outcome() for outcome in outcomes]
