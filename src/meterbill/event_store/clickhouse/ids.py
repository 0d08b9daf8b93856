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

from sqlalchemy import text
from sqlalchemy.orm import Session

BLOCK = 1024  # the sequence's increment (migration 0024)
REHEARSAL_ID = 2**63 - 1


class EventIds:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # PostgreSQL: per database, what is left of the blocks this process took.
        self._blocks: dict[str, list[range]] = {}

    def take(self, session: Session, count: int) -> list[int]:
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            return self._from_sequence(session, bind.url.render_as_string(), count)
        last = session.execute(
            text("UPDATE clickhouse_event_ids SET last = last + :n RETURNING last"),
            {"n": count},
        ).scalar_one()
        return list(range(last - count + 1, last + 1))

    def _from_sequence(self, session: Session, database: str, count: int) -> list[int]:
        with self._lock:
            free = self._blocks.setdefault(database, [])
            missing = count - sum(len(block) for block in free)
            if missing > 0:
                starts = session.execute(
                    text("SELECT nextval('clickhouse_event_ids') FROM generate_series(1, :n)"),
                    {"n": -(-missing // BLOCK)},
                ).scalars()
                free.extend(range(start, start + BLOCK) for start in sorted(starts))
            taken: list[int] = []
            while len(taken) < count:
                block = free[0]
                used = block[: count - len(taken)]
                taken.extend(used)
                if len(used) == len(block):
                    free.pop(0)
                else:
                    free[0] = block[len(used) :]
            return taken
