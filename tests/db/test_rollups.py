"""Hourly rollups give exactly what scanning the events gives, edges and history included."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.events.models import EventRollup
from meterbill.events.rollups import UNREADABLE
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events
from meterbill.usage.aggregation import FilterSpec, MetricSpec, Window, aggregate
from tests.conftest import Org

START = datetime(2024, 5, 1, tzinfo=UTC)
# A filter no event matches sends every event to the default bucket through the
# scanning path: the reference the rollup path must equal.
SCAN = [FilterSpec("never", {"no-such-key": ["x"]})]


def ingest(database: Database, org: Org, seed: int, count: int) -> None:
    rng = random.Random(seed)
    values = [7, "2.5", "-1", "abc", None, 0.25, "10", 3]
    events = []
    for index in range(count):
        moment = START + timedelta(seconds=rng.randrange(-10 * 86400, 40 * 86400),
                                   microseconds=rng.randrange(0, 10**6, 1000))  # fmt: skip
        properties = {} if rng.random() < 0.1 else {"v": rng.choice(values)}
        events.append(EventInput(f"{seed}-{index}", "sub", "m", moment, properties, None))
    with database.transaction() as session:
        insert_events(session, org.id, events, START)


def both(database: Database, org: Org, window: Window, metric: MetricSpec) -> tuple[object, object]:
    with database.transaction(write=False) as session:
        fast = aggregate(session, window, metric).get((None, ()))
        scanned = aggregate(session, window, metric, SCAN).get((None, ()))
    return fast, scanned


@pytest.mark.parametrize("seed", range(4))
def test_rollups_equal_the_scan(database: Database, org: Org, seed: int) -> None:
    ingest(database, org, seed, 400)
    rng = random.Random(seed + 100)
    for _ in range(12):
        start = START + timedelta(seconds=rng.randrange(0, 20 * 86400))
        end = start + timedelta(seconds=rng.randrange(1, 15 * 86400))
        window = Window(org.id, "sub", start, end, 31)
        for metric in (
            MetricSpec("m", "count_agg", None),
            MetricSpec("m", "sum_agg", "v"),
            MetricSpec("m", "sum_agg", "v", recurring=True),
        ):
            fast, scanned = both(database, org, window, metric)
            assert fast == scanned, (metric, start, end)


def test_hour_boundaries(database: Database, org: Org) -> None:
    moments = [START, START + timedelta(hours=1) - timedelta(microseconds=1000),
               START + timedelta(hours=1), START + timedelta(hours=2, seconds=1)]  # fmt: skip
    events = [EventInput(f"b{i}", "sub", "m", moment, {"v": 1}, None)
              for i, moment in enumerate(moments)]  # fmt: skip
    with database.transaction() as session:
        insert_events(session, org.id, events, START)
    for start, end, expected in (
        # The window's last second includes an event at 00:59:59.999.
        (START, START + timedelta(hours=1) - timedelta(seconds=1), 2),
        (START + timedelta(minutes=30), START + timedelta(hours=2), 2),
        (START + timedelta(hours=1), START + timedelta(hours=3), 2),
        (START, START + timedelta(hours=5), 4),
    ):
        fast, scanned = both(database, org, Window(org.id, "sub", start, end, 1),
                             MetricSpec("m", "sum_agg", "v"))  # fmt: skip
        assert fast == scanned and fast is not None and fast.units == Decimal(expected)


def test_concurrent_ingestion_keeps_rollups_exact(database: Database, org: Org) -> None:
    def write(worker: int) -> None:
        events = [EventInput(f"c{worker}-{i}", "sub", "m", START + timedelta(minutes=i % 120),
                             {"v": 1}, None) for i in range(100)]  # fmt: skip
        with database.transaction() as session:
            insert_events(session, org.id, events, START)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(24)))
    window = Window(org.id, "sub", START, START + timedelta(days=1), 1)
    fast, scanned = both(database, org, window, MetricSpec("m", "sum_agg", "v"))
    assert fast == scanned and fast is not None
    assert (fast.units, fast.events_count) == (Decimal(2400), 2400)


def rollup_rows(database: Database, org: Org, name: str) -> list[tuple[int, Decimal]]:
    with database.transaction(write=False) as session:
        return [
            (row.events_count, row.total)
            for row in session.scalars(
                select(EventRollup)
                .where(EventRollup.organization_id == org.id, EventRollup.property == name)
                .order_by(EventRollup.hour)
            )
        ]


def test_totals_no_rollup_holds_are_scanned_exactly(database: Database, org: Org) -> None:
    """Numbers far beyond NUMERIC(38, 15) (an identifier no metric reads yet) are stored;
    their hour keeps no total, and a sum over them is still the exact one."""
    six = "6" + "0" * 22  # 6 × 10^22: one fits, two do not
    batches = [
        # Hour 1: two in one insert. Hour 2: two inserts, the second meets the first's row.
        [("a1", 1, six), ("a2", 1, six)],
        [("b1", 2, six)],
        [("b2", 2, six)],
        # Hour 3: a single value beyond the column, and a negative one.
        [("c1", 3, "1" + "0" * 30), ("c2", 3, -(10**18)), ("c3", 3, "0.5")],
        # Hour 4: values that fit, on both sides of zero.
        [("d1", 4, 7), ("d2", 4, "-2.25")],
    ]
    for batch in batches:
        events = [EventInput(tx, "sub", "m", START + timedelta(hours=hour, minutes=5),
                             {"v": value}, None) for tx, hour, value in batch]  # fmt: skip
        with database.transaction() as session:
            insert_events(session, org.id, events, START)
    assert rollup_rows(database, org, "v") == [
        (UNREADABLE, 0),
        (UNREADABLE, 0),
        (UNREADABLE, 0),
        (2, Decimal("4.75")),
    ]
    # 4 × 6·10^22 + 10^30 − 10^18 + 0.5 + 4.75
    expected = Decimal("1000000239999000000000000000005.25")
    for start, end, units in (
        (START, START + timedelta(days=1), expected),
        # Only hour 4 is read from a rollup, whole hours 1 to 3 and the edges are scanned.
        (START + timedelta(hours=4), START + timedelta(days=1), Decimal("4.75")),
        # Hour 2 whole (both of its events), hour 1's only event before the window.
        (START + timedelta(hours=1, minutes=30), START + timedelta(hours=3), 2 * Decimal(six)),
    ):
        window = Window(org.id, "sub", start, end, 1)
        fast, scanned = both(database, org, window, MetricSpec("m", "sum_agg", "v"))
        assert fast == scanned and fast is not None and fast.units == units, (start, end)
    history = Window(org.id, "sub", START + timedelta(hours=5), START + timedelta(days=1), 1)
    fast, scanned = both(database, org, history, MetricSpec("m", "sum_agg", "v", recurring=True))
    assert fast == scanned and fast is not None and fast.units == expected


def test_sums_beyond_28_digits_stay_exact(database: Database, org: Org) -> None:
    """Python's default decimal context keeps 28 digits; SQLite's sums used it."""
    value = "12345678901234567890.123456789012345"
    # 00:20 and 00:50 are scanned (the window starts at 00:10); 01:40 is in a rollup.
    events = [EventInput(f"e{minutes}", "sub", "m", START + timedelta(minutes=minutes),
                         {"v": value}, None) for minutes in (20, 50, 100)]  # fmt: skip
    with database.transaction() as session:
        insert_events(session, org.id, events, START)
    for end in (START + timedelta(hours=2), START + timedelta(days=1)):
        window = Window(org.id, "sub", START + timedelta(minutes=10), end, 1)
        fast, scanned = both(database, org, window, MetricSpec("m", "sum_agg", "v"))
        assert fast == scanned and fast is not None
        assert fast.units == Decimal("37037036703703703670.370370367037035")
