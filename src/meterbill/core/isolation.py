"""Units of work that fail alone: the clock goes on with the others.

A job of the clock handles many independent units (a subscription to bill, a draft to
finalize, a wallet to top up). One that cannot be done, whatever the reason (data no
column can hold, a bug), must not stop the others: it runs in a savepoint, and its
failure rolls back that unit only, is logged with the unit's ids and the exception, and
is counted in the tick's report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

logger = logging.getLogger("meterbill.clock")

# Enough to name the cause; a database error's full text repeats the statement.
MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class Failure:
    """A unit of work a tick could not do: the job, the ids of what it was working on."""

    job: str
    ids: dict[str, str]
    error: str


def describe(error: BaseException) -> str:
    """`Type: message`, a database error by its driver's first line (no SQL, no values)."""
    cause: BaseException = error
    if isinstance(error, StatementError) and error.orig is not None:
        cause = error.orig
    lines = str(cause).strip().splitlines()
    message = f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return message[:MESSAGE_LIMIT]


def note(failures: list[Failure], job: str, error: BaseException, **ids: object) -> Failure:
    """Log a failed unit with its ids and traceback, and add it to `failures` (ids given
    as None are left out)."""
    named_ids = {key: str(value) for key, value in ids.items() if value is not None}
    failure = Failure(job, named_ids, describe(error))
    named = ", ".join(f"{key}={value}" for key, value in failure.ids.items())
    logger.error("%s failed for %s: %s", job, named or "-", failure.error, exc_info=error)
    failures.append(failure)
    return failure


@contextmanager
def isolated(session: Session, failures: list[Failure], job: str, **ids: object) -> Iterator[None]:
    """Run the block in a savepoint; if it raises, roll the block back, note the failure
    and carry on after it (the exception does not propagate)."""
    try:
        with session.begin_nested():
            yield
    except Exception as error:
        note(failures, job, error, **ids)
