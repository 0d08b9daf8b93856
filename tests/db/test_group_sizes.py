"""The group commit's size is the event store's: requests queued together go into one
transaction up to 2,000 events on a relational database, 10,000 on ClickHouse."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from meterbill.core.db import Database
from meterbill.events.group_commit import GroupCommitter, Pending
from meterbill.events.schemas import EventInput
from meterbill.usage.aggregation import MetricSpec, Window, aggregate
from tests.conftest import Org

EVERY_EVENT_STORE = True

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def groups_so_far() -> float:
    return REGISTRY.get_sample_value("meterbill_group_commit_events_count") or 0.0


def test_requests_queued_together_share_the_stores_group_size(
    database: Database, org: Org, request: pytest.FixtureRequest
) -> None:
    requests = [
        Pending(
            org.id,
            [
                EventInput(f"r{batch}-{index}", "sub_groups", "calls",
                           NOW - timedelta(minutes=index % 90), {}, None)
                for index in range(2_000)
            ],
            NOW,
            True,
            Future(),
        )
        for batch in range(5)
    ]  # fmt: skip
    committer = GroupCommitter(database)
    before = groups_so_far()
    # Queued before the writer starts: it finds them all waiting, as under load.
    for item in requests:
        committer._queue.put(item)
    committer._ensure_started()
    try:
        for item in requests:
            assert len(item.result.result(timeout=120).stored) == 2_000
    finally:
        committer.stop()
    clickhouse = request.node.callspec.params["database"].startswith("clickhouse")
    assert groups_so_far() - before == (1 if clickhouse else 5)
    window = Window(org.id, "sub_groups", NOW - timedelta(days=1), NOW, 1)
    with database.transaction(write=False) as session:
        [count] = aggregate(session, window, MetricSpec("calls", "count_agg", None)).values()
    assert count.units == 10_000
