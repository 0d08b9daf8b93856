"""Liveness and readiness.

Live: the process answers. Ready: it can do its work, so a load balancer may send it
requests: the database answers, the event store answers, and the database's schema is at
the migrations this code was written for (a process started beside a database not yet
migrated, or an older process beside a newer schema, is not ready).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from alembic.script import ScriptDirectory
from sqlalchemy import text

from meterbill.core.db import Database
from meterbill.migrations.runner import alembic_config


@functools.cache
def expected_revisions() -> frozenset[str]:
    """The heads of the migrations shipped with this code (read once: 0.1 s)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


@dataclass
class Readiness:
    db: Database
    expected: frozenset[str]
    # Further checks by name (the event store's, when it is not the database): each
    # returns None when fine, else the reason.
    checks: dict[str, Callable[[], str | None]] = field(default_factory=dict)

    def report(self) -> tuple[bool, dict[str, str]]:
        """Whether ready, and each check's state ("ok" or why not)."""
        states: dict[str, str] = {}
        try:
            with self.db.transaction(write=False) as session:
                current = set(session.scalars(text("SELECT version_num FROM alembic_version")))
            states["database"] = "ok"
            if current == self.expected:
                states["migrations"] = "ok"
            else:
                states["migrations"] = (
                    f"database at {', '.join(sorted(current)) or 'no revision'}, "
                    f"code expects {', '.join(sorted(self.expected))}"
                )
        except Exception as error:
            states["database"] = f"unreachable: {type(error).__name__}"
            states["migrations"] = "unknown"
        # Events are in the database unless their store answers a ping of its own.
        if "event_store" not in self.checks:
            states["event_store"] = self._event_store(states["database"])
        for name, check in self.checks.items():
            try:
                problem = check()
            except Exception as error:
                problem = f"unreachable: {type(error).__name__}"
            states[name] = problem or "ok"
        return all(state == "ok" for state in states.values()), states

    def _event_store(self, database: str) -> str:
        from meterbill.event_store import store_for

        if database != "ok":
            return database
        try:
            with self.db.transaction(write=False) as session:
                ping = getattr(store_for(session), "ping", None)
                if ping is not None:
                    ping()
        except Exception as error:
            return f"unreachable: {type(error).__name__}"
        return "ok"
