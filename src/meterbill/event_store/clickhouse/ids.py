"""Event ids for the ClickHouse store: unique across every process that writes to it,
growing with arrival.

An id orders the events of one instant (usage counts them in (timestamp, id) order) and
names an event on the events page, so two processes must never hand out the same one.
Both databases count them (migration 0024, starting where the clock-based ids used
before stood):

- PostgreSQL: blocks of BLOCK ids from the sequence `clickhouse_event_ids`. nextval is
  atomic across processes and outside transactions: writers of other organizations
  never wait for each other, and a rolled-back batch's ids are never handed out again.
- SQLite: the one-row table `clickhouse_event_ids`, moved on in the write transaction
  (there is one writer at a time anyway); a rolled-back batch gives its ids back, and
  nothing was stored with them.

An estimate's event (never stored) takes REHEARSAL_ID: after every stored event of
its instant, as a new event would be.
"""

from __future__ import annotations

import threading

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from meterbill.events.models import clickhouse_event_ids

BLOCK = 1024  # the sequence's increment (migration 0024)
REHEARSAL_ID = 2**63 - 1


class EventIds:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # PostgreSQL: per database, what is left of the last block this process took.
        self._left: dict[str, range] = {}

    def take(self, session: Session, count: int) -> list[int]:
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            return self._from_sequence(session, bind.url.render_as_string(), count)
        last = session.execute(
            update(clickhouse_event_ids)
            .values(last=clickhouse_event_ids.c.last + count)
            .returning(clickhouse_event_ids.c.last)
        ).scalar_one()
        return list(range(last - count + 1, last + 1))

    def _from_sequence(self, session: Session, database: str, count: int) -> list[int]:
        with self._lock:
            left = self._left.get(database, range(0))
            taken = list(left[:count])
            left = left[count:]
            missing = count - len(taken)
            if missing:
                starts = session.execute(
                    text("SELECT nextval('clickhouse_event_ids') FROM generate_series(1, :n)"),
                    {"n": -(-missing // BLOCK)},
                ).scalars()
                for start in sorted(starts):
                    needed = count - len(taken)
                    block = range(start, start + BLOCK)
                    taken.extend(block[:needed])
                    left = block[needed:]
            self._left[database] = left
            return taken
