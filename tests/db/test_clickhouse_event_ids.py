"""ClickHouse event ids: several processes writing to one store never hand out the same
id (each process has its own EventIds, as each has its own store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterbill.core.db import Database
from meterbill.event_store.clickhouse.ids import EventIds
from meterbill.events.schemas import EventInput
from meterbill.events.service import NewEvent
from tests.conftest import CLICKHOUSE, Org, clickhouse_store

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_processes_never_hand_out_the_same_id(database: Database) -> None:
    first, second = EventIds(), EventIds()
    takes = [(first, 100_000), (second, 10), (first, 2_000), (second, 1_500), (first, 1)]
    by_process: dict[int, list[int]] = {id(first): [], id(second): []}
    for ids, count in takes:
        with database.transaction() as session:
            taken = ids.take(session, count)
        assert len(taken) == count
        by_process[id(ids)].extend(taken)
    every = by_process[id(first)] + by_process[id(second)]
    assert len(set(every)) == 103_511
    # Within a process, ids grow with arrival (they break ties between events of one
    # instant in the order they came).
    for taken in by_process.values():
        assert taken == sorted(taken)
        assert len(set(taken)) == len(taken)


@pytest.mark.skipif(not CLICKHOUSE, reason="chdb is not installed")
def test_events_stored_by_two_processes_have_distinct_ids(database: Database, org: Org) -> None:
    from meterbill.event_store.clickhouse.store import ClickHouseEventStore

    connection = clickhouse_store().connection
    one, other = ClickHouseEventStore(connection), ClickHouseEventStore(connection)

    def events(prefix: str, count: int) -> list[NewEvent]:
        return [
            NewEvent(
                org.id,
                EventInput(
                    f"{prefix}{index}", "sub_ids", "calls",
                    NOW - timedelta(seconds=index % 60), {}, None,
                ),
                NOW,
            )
            for index in range(count)
        ]  # fmt: skip

    for store, prefix, count in [(one, "a", 3_000), (other, "b", 500), (one, "c", 200)]:
        with database.transaction() as session:
            _stored, duplicates = store.insert_many(session, events(prefix, count))
        assert duplicates == set()
    [[stored, distinct]] = connection.query(
        "SELECT count(), uniqExact(id) FROM events WHERE organization_id = {org:UUID}",
        {"org": str(org.id)},
    )
    assert (int(stored), int(distinct)) == (3_700, 3_700)
