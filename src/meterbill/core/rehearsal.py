"""Rehearsals: the code that bills for real, run as a dry run and rolled back (previews).

A rehearsal is one transaction, rolled back at the end; the clock's many transactions
become savepoints of it. How it lives beside real work on one database:

- It takes no row lock (`for_update`): it looks at one customer and keeps nothing. A
  lock it took would hold until its rollback: real billing would wait for it, or pass
  over what it holds (SKIP LOCKED) and bill nothing; so would the next rehearsal. Nor
  does it number invoices (invoices/lifecycle.py): numbers are unique per organization.
- Rehearsals of one customer run one after another (`Rehearsal.one_at_a_time`): they
  write the same rows, and would otherwise wait for each other row by row, in orders
  that differ from one request to the next (deadlocks).
- It gives way to real writers (PostgreSQL): it waits for a row another transaction
  holds `YIELD_AFTER_MS` at most (a tenth of the server's deadlock_timeout if that is
  less: well before PostgreSQL looks for deadlocks), then starts again from scratch
  (`rehearse`). Real billing may wait for a running rehearsal, but a deadlock between
  them ends with the rehearsal giving way, not with real billing aborted. The last
  attempt waits as long as it takes: a long billing run delays a preview, never fails it.
- SQLite has one writer at a time in the process (core/db.py): rehearsals and real
  writers take turns, whole.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from meterbill.core.db import Database

REHEARSAL_KEY = "meterbill.rehearsal"
# How long a rehearsal waits for a row another transaction holds before it gives way.
YIELD_AFTER_MS = 100
ATTEMPTS = 10
# Races lost to another transaction: a row held too long, a unique key it wrote
# meanwhile (real billing of the same period committed), a deadlock, a serialization.
_RACES = frozenset({"55P03", "23505", "40P01", "40001"})

Q = TypeVar("Q", bound=Select[Any])
T = TypeVar("T")


def rehearsing(session: Session) -> bool:
    """Whether `session` belongs to a rehearsal."""
    return bool(session.info.get(REHEARSAL_KEY))


def for_update(session: Session, query: Q, **options: Any) -> Q:
    """`query` locking its rows (`with_for_update(**options)`), except in a rehearsal."""
    return query if rehearsing(session) else query.with_for_update(**options)


class Rehearsal:
    """Transactions that are savepoints of one outer transaction, which is rolled back.

    Code written as many transactions (the clock) runs unchanged as a dry run.
    """

    def __init__(self, session: Session, *, patient: bool) -> None:
        self.session = session
        self.patient = patient
        self._postgresql = session.get_bind().dialect.name == "postgresql"

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        with self.session.begin_nested():
            yield self.session

    def one_at_a_time(self, key: uuid.UUID) -> None:
        """From here on no other rehearsal of `key` (a customer) runs beside this one.

        One lock, taken before any write: one order. Waiting for the rehearsal before
        is no race lost: it has no time limit. (SQLite already runs one at a time.)
        """
        if not self._postgresql:
            return
        self.session.execute(text("SET LOCAL lock_timeout = 0"))
        number = int.from_bytes(key.bytes[:8], "big", signed=True)
        self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": number})
        self.give_way()

    def give_way(self) -> None:
        """Row locks held by others are waited for a short while only (unless patient)."""
        if self._postgresql and not self.patient:
            self.session.execute(_GIVE_WAY, {"most": YIELD_AFTER_MS})


# lock_timeout for this transaction, in milliseconds (0 would mean no limit).
_GIVE_WAY = text(
    "SELECT set_config('lock_timeout', greatest(1, least(:most, setting::int / 10))::text, true)"
    " FROM pg_settings WHERE name = 'deadlock_timeout'"
)


class _RolledBack(Exception):
    pass


def rehearse(db: Database, act: Callable[[Rehearsal], T]) -> T:
    """Run `act` in one transaction and roll everything it wrote back.

    `act` must turn what it wants to keep into plain values: the rows are gone after.
    When it loses a race with another transaction it runs again from scratch, and then
    reads what that one committed.
    """
    for attempt in range(1, ATTEMPTS + 1):
        patient = attempt == ATTEMPTS
        try:
            return _rehearse_once(db, act, patient)
        except DBAPIError as error:
            code = getattr(error.orig, "sqlstate", None)
            if patient or code not in _RACES:
                raise
    raise AssertionError("unreachable")


def _rehearse_once(db: Database, act: Callable[[Rehearsal], T], patient: bool) -> T:
    outcome: list[T] = []
    try:
        with db.transaction(yielding=True) as session:
            session.info[REHEARSAL_KEY] = True
            rehearsal = Rehearsal(session, patient=patient)
            rehearsal.give_way()
            outcome.append(act(rehearsal))
            raise _RolledBack
    except _RolledBack:
        pass
    return outcome[0]
