"""Aggregation in the database, on SQLite and PostgreSQL, with exact expected units."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from meterbill.core.db import Database
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events
from meterbill.usage.aggregation import FilterSpec, MetricSpec, Window, aggregate
from tests.conftest import Org

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True
CLICKHOUSE_HTTP = True

AUGUST = datetime(2023, 8, 1, tzinfo=UTC)
WINDOW_END = datetime(2023, 8, 31, 23, 59, 59, tzinfo=UTC)
_ids = itertools.count()


def add_events(database: Database, org: Org, *events: tuple[datetime, dict[str, Any]],
               code: str = "m", subscription: str = "sub") -> None:  # fmt: skip
    # Through ingestion, so that the hourly rollups are kept as in production.
    with database.transaction() as session:
        insert_events(
            session,
            org.id,
            [
                EventInput(f"t{next(_ids)}", subscription, code, timestamp, properties, None)
                for timestamp, properties in events
            ],
            AUGUST,
        )


def run(database: Database, org: Org, metric: MetricSpec, filters: Any = (), groups: Any = (),
        start: datetime = AUGUST) -> dict[Any, tuple[Decimal, int]]:  # fmt: skip
    window = Window(org.id, "sub", start, WINDOW_END, 31)
    with database.transaction(write=False) as session:
        result = aggregate(session, window, metric, filters, groups)
    return {key: (usage.units, usage.events_count) for key, usage in result.items()}


def at(hours: float = 0, days: int = 0) -> datetime:
    return AUGUST + timedelta(days=days, hours=hours)


def test_count_ignores_other_codes_subscriptions_and_times(database: Database, org: Org) -> None:
    add_events(database, org, (at(1), {}), (at(2), {}), (at(days=30, hours=23.9), {}))
    add_events(database, org, (at(1), {}), code="other")
    add_events(database, org, (at(1), {}), subscription="other")
    add_events(
        database, org, (AUGUST - timedelta(seconds=1), {}), (WINDOW_END + timedelta(seconds=1), {})
    )
    assert run(database, org, MetricSpec("m", "count_agg", None)) == {(None, ()): (Decimal(3), 3)}


def test_sum_is_exact_and_skips_non_numbers(database: Database, org: Org) -> None:
    add_events(
        database, org,
        (at(1), {"v": "12345678901234.123456789"}), (at(2), {"v": "0.000000001"}),
        (at(3), {"v": "-2.5"}), (at(4), {"v": "1e3"}), (at(5), {"v": "abc"}), (at(6), {}),
    )  # fmt: skip
    [(units, count)] = run(database, org, MetricSpec("m", "sum_agg", "v")).values()
    assert units == Decimal("12345678901234.123456789") + Decimal("0.000000001") - Decimal("2.5")
    assert count == 6


def test_recurring_sum_carries_history(database: Database, org: Org) -> None:
    add_events(database, org, (AUGUST - timedelta(days=60), {"v": 5}), (at(3), {"v": 2}))
    # The carried event counts too (billing.md E10: count 4 with two carried events).
    assert run(database, org, MetricSpec("m", "sum_agg", "v", recurring=True)) == {
        (None, ()): (Decimal(7), 2)
    }


def test_max_and_latest(database: Database, org: Org) -> None:
    add_events(database, org, (at(1), {"v": 3}), (at(5), {"v": "9.5"}), (at(3), {"v": 1}),
               (at(6), {"v": "x"}))  # fmt: skip
    assert run(database, org, MetricSpec("m", "max_agg", "v"))[(None, ())] == (Decimal("9.5"), 4)
    assert run(database, org, MetricSpec("m", "latest_agg", "v"))[(None, ())] == (
        Decimal("9.5"), 4,
    )  # fmt: skip
    add_events(database, org, (at(7), {"v": -4}))
    # A negative latest value counts as zero.
    assert run(database, org, MetricSpec("m", "latest_agg", "v"))[(None, ())] == (Decimal(0), 5)


def test_unique_count_follows_adds_and_removes(database: Database, org: Org) -> None:
    add_events(
        database, org,
        (at(1), {"id": "a"}), (at(2), {"id": "b"}), (at(3), {"id": "a"}),
        (at(4), {"id": "b", "operation_type": "remove"}),
        (at(5), {"id": "c", "operation_type": "remove"}),
        (at(6), {"id": "d", "operation_type": "add"}),
    )  # fmt: skip
    assert run(database, org, MetricSpec("m", "unique_count_agg", "id"))[(None, ())] == (
        Decimal(2), 6,
    )  # fmt: skip


def test_unique_count_value_added_back_after_a_remove(database: Database, org: Org) -> None:
    # The add that follows the remove carries no operation_type: it is the latest.
    add_events(
        database, org,
        (at(1), {"id": "a"}), (at(2), {"id": "a", "operation_type": "remove"}),
        (at(3), {"id": "a"}), (at(4), {"id": "b"}),
        (at(5), {"id": "b", "operation_type": "remove"}),
    )  # fmt: skip
    assert run(database, org, MetricSpec("m", "unique_count_agg", "id"))[(None, ())] == (
        Decimal(1), 5,
    )  # fmt: skip


def test_weighted_sum_worked_example(database: Database, org: Org) -> None:
    # billing.md E9: (2×3600 + 5×1800 + 6×1800 + 2×7200 + 0×3600 + 10×1800) / (31×86400).
    add_events(
        database, org,
        (at(0), {"v": 2}), (at(1), {"v": 3}), (at(1.5), {"v": 1}), (at(2), {"v": -4}),
        (at(4), {"v": -2}), (at(5), {"v": 10}), (at(5.5), {"v": -10}),
    )  # fmt: skip
    [(units, count)] = run(database, org, MetricSpec("m", "weighted_sum_agg", "v")).values()
    assert units == (Decimal(59400) / Decimal(2678400)).quantize(Decimal("1E-20"))
    assert units.quantize(Decimal("0.00001")) == Decimal("0.02218")
    assert count == 7


def test_weighted_sum_single_event_at_start(database: Database, org: Org) -> None:
    add_events(database, org, (at(0), {"v": 1000}))
    assert run(database, org, MetricSpec("m", "weighted_sum_agg", "v"))[(None, ())][0] == Decimal(
        1000
    )


def test_recurring_weighted_sum_starts_from_the_previous_level(
    database: Database, org: Org
) -> None:
    add_events(
        database, org, (AUGUST - timedelta(days=3), {"v": 10}), (at(days=15, hours=12), {"v": -10})
    )
    units = run(database, org, MetricSpec("m", "weighted_sum_agg", "v", recurring=True))
    # Level 10 for the first 15.5 days of 31, then 0.
    assert units[(None, ())][0] == Decimal(5)


def test_filters_put_each_event_in_its_most_specific_bucket(database: Database, org: Org) -> None:
    add_events(
        database, org,
        (at(1), {"cloud": "aws", "region": "us"}), (at(2), {"cloud": "aws", "region": "eu"}),
        (at(3), {"cloud": "gcp", "region": "us"}), (at(4), {"cloud": "azure"}), (at(5), {}),
    )  # fmt: skip
    filters = [
        FilterSpec("aws", {"cloud": ["aws"]}, 0),
        FilterSpec("aws-us", {"cloud": ["aws"], "region": ["us"]}, 1),
        FilterSpec("any-cloud-us", {"cloud": ["__ALL_FILTER_VALUES__"], "region": ["us"]}, 2),
    ]
    assert run(database, org, MetricSpec("m", "count_agg", None), filters) == {
        ("aws-us", ()): (Decimal(1), 1),
        ("aws", ()): (Decimal(1), 1),
        ("any-cloud-us", ()): (Decimal(1), 1),
        (None, ()): (Decimal(2), 2),
    }


def test_grouping_keys(database: Database, org: Org) -> None:
    add_events(
        database, org,
        (at(1), {"user": "alice", "v": 1}), (at(2), {"user": "alice", "v": 2}),
        (at(3), {"user": "bob", "v": 5}), (at(4), {"v": 7}),
    )  # fmt: skip
    assert run(database, org, MetricSpec("m", "sum_agg", "v"), groups=["user"]) == {
        (None, ("alice",)): (Decimal(3), 2),
        (None, ("bob",)): (Decimal(5), 1),
        (None, (None,)): (Decimal(7), 1),
    }


@pytest.mark.parametrize(
    ("function", "precision", "expected"),
    [("round", 1, "1.3"), ("ceil", 0, "2"), ("floor", 0, "1"), ("round", -1, "0")],
)
def test_rounding(
    database: Database, org: Org, function: str, precision: int, expected: str
) -> None:
    add_events(database, org, (at(1), {"v": "1.25"}))
    metric = MetricSpec(
        "m", "sum_agg", "v", rounding_function=function, rounding_precision=precision
    )
    assert run(database, org, metric)[(None, ())][0] == Decimal(expected)


def test_counts_and_sums_of_several_codes_from_a_window_starting_mid_hour(
    database: Database, org: Org
) -> None:
    # The window starts at 10:30: 10:00-11:00 is a partial hour (read event by event),
    # the rest whole hours (the hourly sums on ClickHouse and in the rollups).
    add_events(
        database, org,
        (at(10.25), {"v": 1}), (at(10.75), {"v": 2}), (at(13), {"v": "4.5"}),
        (at(13 + 1 / 3), {"v": "x"}), (WINDOW_END + timedelta(microseconds=500_000), {"v": 8}),
    )  # fmt: skip
    add_events(database, org, (at(11), {"w": 3}), (at(10 + 2 / 3), {"w": 7}), code="n")
    window = Window(org.id, "sub", at(10.5), WINDOW_END, 31)
    metrics = [
        MetricSpec("m", "count_agg", None), MetricSpec("m", "sum_agg", "v"),
        MetricSpec("n", "sum_agg", "w"), MetricSpec("n", "count_agg", None),
        MetricSpec("n", "sum_agg", "v"), MetricSpec("absent", "count_agg", None),
    ]  # fmt: skip
    # One transaction, as the current usage of a plan reads its charges.
    with database.transaction(write=False) as session:
        found = [aggregate(session, window, metric) for metric in metrics]
    figures = [{key: (usage.units, usage.events_count) for key, usage in f.items()} for f in found]
    assert figures == [
        {(None, ()): (Decimal(4), 4)},  # 10:45, 13:00, 13:20, 23:59:59.5 on the 31st
        {(None, ()): (Decimal("14.5"), 4)},  # 2 + 4.5 + 8; "x" counted, not summed
        {(None, ()): (Decimal(10), 2)},  # 7 at 10:40, 3 at 11:00
        {(None, ()): (Decimal(2), 2)},
        {(None, ()): (Decimal(0), 2)},  # no "v" on code n
        {},
    ]


def test_a_session_sees_events_committed_after_its_previous_transaction(
    database: Database, org: Org
) -> None:
    window = Window(org.id, "sub", AUGUST, WINDOW_END, 31)
    metric = MetricSpec("m", "sum_agg", "v")
    add_events(database, org, (at(1), {"v": 2}))
    with Session(database.engine, expire_on_commit=False) as session:
        with session.begin():
            assert aggregate(session, window, metric)[(None, ())].units == Decimal(2)
        add_events(database, org, (at(2), {"v": 3}))
        with session.begin():
            usage = aggregate(session, window, metric)[(None, ())]
    assert (usage.units, usage.events_count) == (Decimal(5), 2)
