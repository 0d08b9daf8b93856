"""Group commit: when a shared transaction fails, its requests are retried one by one.

The failing rows here break a real constraint (events of an organization that does
not exist break the foreign key): no validation catches that, and nothing is mocked.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from meterbill.core.db import Database
from meterbill.core.errors import ValidationFailed
from meterbill.events.group_commit import Outcome, Pending, commit
from meterbill.events.models import Event
from meterbill.events.schemas import EventInput
from meterbill.usage.aggregation import MetricSpec, Window, aggregate
from tests.conftest import Org, make_org

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
AT = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def event(transaction_id: str, **properties: Any) -> EventInput:
    return EventInput(transaction_id, "sub", "calls", AT, properties, None)


def pending(organization_id: uuid.UUID, *events: EventInput, atomic: bool = False) -> Pending:
    return Pending(organization_id, list(events), NOW, atomic, Future())


def refusal(request: Pending) -> dict[str, Any]:
    error = request.result.exception()
    assert isinstance(error, ValidationFailed)
    return error.body()


def stored(database: Database, org: Org) -> list[str]:
    with database.transaction(write=False) as session:
        return sorted(
            session.scalars(select(Event.transaction_id).where(Event.organization_id == org.id))
        )


def test_a_request_the_database_refuses_fails_alone(database: Database, org: Org) -> None:
    ghost = uuid.uuid4()  # no such organization
    group = [
        pending(org.id, event("a", gb=1)),
        pending(ghost, event("x")),
        pending(org.id, event("b1", gb=2), event("b2", gb=3), atomic=True),
        pending(ghost, event("y1"), event("y2"), atomic=True),
        pending(org.id, event("a", gb=50)),  # the first request's transaction: refused
        pending(org.id, event("c", gb=4)),
    ]
    commit(database, group)

    ok: list[Outcome] = [group[i].result.result() for i in (0, 2, 5)]
    assert [[item.event.transaction_id for item in o.stored] for o in ok] == [
        ["a"], ["b1", "b2"], ["c"],
    ]  # fmt: skip
    assert group[4].result.result() == Outcome(duplicates={0})
    unprocessable = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}
    assert refusal(group[1]) == {**unprocessable, "error_details": {"event": ["value_is_invalid"]}}
    assert refusal(group[3]) == {**unprocessable, "error_details": {"events": ["value_is_invalid"]}}
    assert stored(database, org) == ["a", "b1", "b2", "c"]
    # The rollups saw each stored event once: 4 events, 1 + 2 + 3 + 4 gigabytes.
    window = Window(org.id, "sub", datetime(2024, 5, 1, tzinfo=UTC), NOW, 31)
    with database.transaction(write=False) as session:
        [count] = aggregate(session, window, MetricSpec("calls", "count_agg", None)).values()
        [total] = aggregate(session, window, MetricSpec("calls", "sum_agg", "gb")).values()
    assert (count.units, total.units, total.events_count) == (4, 10, 4)


def test_a_failing_database_is_an_error_not_a_refusal(fresh: Database, org: Org) -> None:
    """A failure that is not about the rows (here: the table is gone) is no 422."""
    with fresh.transaction() as session:
        session.execute(text("DROP TABLE events"))
    group = [pending(org.id, event("a")), pending(org.id, event("b"))]
    commit(fresh, group)
    for request in group:
        with pytest.raises(DBAPIError):
            request.result.result()


def test_one_statement_for_the_group_keeps_batches_all_or_nothing(
    database: Database, org: Org
) -> None:
    """The group goes in as one statement; a batch that turns out partly stored already
    is refused whole (the group is done again batch by batch), one stored whole is refused
    as it is, and neither disturbs the other requests, of either organization."""
    other_org = make_org(database)
    commit(database, [pending(org.id, event("old1", gb=100), event("old2", gb=200), atomic=True)])
    group = [
        pending(org.id, event("n1", gb=1), event("n2", gb=2), atomic=True),
        pending(org.id, event("old1", gb=7), event("old2", gb=7), atomic=True),  # a retry
        pending(org.id, event("p1", gb=9), event("old2", gb=9), event("p2", gb=9), atomic=True),
        pending(other_org.id, event("old1", gb=3)),  # another organization's key space
        pending(org.id, event("old1", gb=5)),
        pending(org.id, event("s1", gb=4)),
    ]
    commit(database, group)

    outcomes = [request.result.result() for request in group]
    assert [[item.event.transaction_id for item in o.stored] for o in outcomes] == [
        ["n1", "n2"], [], [], ["old1"], [], ["s1"],
    ]  # fmt: skip
    assert [o.duplicates for o in outcomes] == [set(), {0, 1}, {1}, set(), {0}, set()]
    assert stored(database, org) == ["n1", "n2", "old1", "old2", "s1"]
    assert stored(database, other_org) == ["old1"]
    # Rollups count each stored event once: 100 + 200 + 1 + 2 + 4 gigabytes in 5 events.
    window = Window(org.id, "sub", datetime(2024, 5, 1, tzinfo=UTC), NOW, 31)
    with database.transaction(write=False) as session:
        [count] = aggregate(session, window, MetricSpec("calls", "count_agg", None)).values()
        [total] = aggregate(session, window, MetricSpec("calls", "sum_agg", "gb")).values()
    assert (count.units, total.units, total.events_count) == (5, 307, 5)
