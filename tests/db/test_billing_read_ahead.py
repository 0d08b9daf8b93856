"""A billing batch reads its usage ahead, one store call per metric, filters and grouping
keys (usage/batch.py, EventStore.aggregate_many), and bills the fees the per-charge
reads gave: on SQLite, PostgreSQL and ClickHouse."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from meterbill import event_store
from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events
from meterbill.invoices.models import Fee, Invoice
from meterbill.subscriptions.models import Subscription
from meterbill.usage.aggregation import ALL_VALUES, FilterSpec, MetricSpec, Window
from tests.conftest import Org
from tests.db.test_current_usage import Setup, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True


class Recording:
    """The session's store, noting which subscriptions were aggregated one by one."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.one_by_one: list[str] = []
        self.together: list[tuple[str, int]] = []

    def aggregate(self, session: Any, window: Window, *rest: Any) -> Any:
        self.one_by_one.append(window.external_subscription_id)
        return self.store.aggregate(session, window, *rest)

    def aggregate_many(
        self, session: Any, windows: Sequence[Window], metric: MetricSpec, *rest: Any
    ) -> Any:
        self.together.append((metric.code, len(windows)))
        return self.store.aggregate_many(session, windows, metric, *rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def recording(database: Database) -> Iterator[Recording]:
    with database.transaction(write=False) as session:
        original = event_store.store_for(session)
    wrapper = Recording(original)
    event_store.use(database.engine, wrapper)
    try:
        yield wrapper
    finally:
        event_store.use(database.engine, original)


def _setup(database: Database, org: Org) -> Setup:
    setup = Setup(database, org)
    calls = setup.metric("calls")
    gb = setup.metric("gb", "sum_agg", field_name="gb",
                      filters=[{"key": "region", "values": ["eu", "us"]}])  # fmt: skip
    peak = setup.metric("peak", "max_agg", field_name="v")
    level = setup.metric("level", "latest_agg", field_name="v")
    seats = setup.metric("seats", "sum_agg", field_name="n", recurring=True)
    users = setup.metric("users", "unique_count_agg", field_name="u")
    setup.plan("p", [
        {"billable_metric_id": calls, "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": gb, "charge_model": "standard", "properties": {"amount": "0.5"},
         "filters": [{"values": {"region": ["eu"]},
                      "properties": {"amount": "2", "grouped_by": ["country"]}}]},
        {"billable_metric_id": peak, "charge_model": "standard", "properties": {"amount": "3"}},
        {"billable_metric_id": level, "charge_model": "standard", "properties": {"amount": "4"}},
        {"billable_metric_id": seats, "charge_model": "standard",
         "properties": {"amount": "10"}},
    ])  # fmt: skip
    setup.plan("a", [
        {"billable_metric_id": calls, "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": gb, "charge_model": "standard",
         "properties": {"amount": "1", "grouped_by": ["country"]}},
        {"billable_metric_id": users, "charge_model": "standard", "properties": {"amount": "1"}},
    ])  # fmt: skip
    for name in ("cus1", "cus2", "cus3"):
        setup.customer(name, timezone="UTC")
    # Calendar from January 1 (two billing days due at once: Feb 1 and Mar 1), calendar
    # from the middle of an hour on Feb 10, anniversary from Jan 20 (billed Feb 20).
    setup.subscribe("cus1", "p", "sub1", utc(2024, 1, 1))
    setup.subscribe("cus2", "p", "sub2", utc(2024, 2, 10, 10, 30))
    setup.subscribe("cus3", "a", "sub3", utc(2024, 1, 20), billing_time="anniversary")
    last_second = utc(2024, 1, 31, 23, 59, 59) + timedelta(milliseconds=500)
    setup.events("sub1", "calls", *[(at, {}) for at in (
        utc(2024, 1, 5), last_second, utc(2024, 2, 1), utc(2024, 2, 14))])  # fmt: skip
    setup.events(
        "sub1", "gb",
        (utc(2024, 1, 3), {"gb": 4, "region": "eu", "country": "fr"}),
        (utc(2024, 1, 4), {"gb": 6, "region": "us"}),
        (utc(2024, 2, 2), {"gb": "1.5", "region": "eu", "country": "de"}),
        (utc(2024, 2, 3), {"gb": 2, "region": "eu", "country": "fr"}),
        (utc(2024, 2, 4), {"gb": 10}),
    )  # fmt: skip
    setup.events("sub1", "peak", (utc(2024, 1, 6), {"v": 7}), (utc(2024, 1, 7), {"v": 3}),
                 (utc(2024, 2, 9), {"v": 2}))  # fmt: skip
    setup.events("sub1", "level", (utc(2024, 1, 8), {"v": 5}), (utc(2024, 1, 9), {"v": 2}))
    setup.events("sub1", "seats", (utc(2024, 1, 10), {"n": 3}), (utc(2024, 2, 11), {"n": 2}))
    sub2_calls = (utc(2024, 2, 10, 10, 15), utc(2024, 2, 10, 10, 45), utc(2024, 2, 29, 23, 59, 59))
    setup.events("sub2", "calls", *[(at, {}) for at in sub2_calls])
    setup.events("sub2", "gb", (utc(2024, 2, 12), {"gb": 3, "region": "eu", "country": "fr"}))
    setup.events("sub2", "seats", (utc(2024, 2, 15), {"n": 1}))
    setup.events("sub3", "calls", *[(at, {}) for at in (
        utc(2024, 1, 19), utc(2024, 1, 25), utc(2024, 2, 19, 23))])  # fmt: skip
    setup.events(
        "sub3", "gb",
        (utc(2024, 1, 21), {"gb": 5, "country": "fr"}),
        (utc(2024, 1, 22), {"gb": 1, "country": "fr"}),
        (utc(2024, 2, 1), {"gb": 2}),
    )  # fmt: skip
    setup.events("sub3", "users", (utc(2024, 1, 21), {"u": "a"}), (utc(2024, 1, 23), {"u": "b"}),
                 (utc(2024, 1, 24), {"u": "a"}))  # fmt: skip
    # No plan: only read. A total beyond what a rollup keeps (events/rollups.py) is
    # scanned whole.
    six = "6" + "0" * 22  # 6 × 10^22: one fits, two do not
    big = [EventInput(f"big{index}", "big", "gb", utc(2024, 1, 12, 5, index), {"gb": six}, None)
           for index in range(2)]  # fmt: skip
    with database.transaction() as session:
        insert_events(session, org.id, big, utc(2024, 1, 12))
    return setup


FeeLine = tuple[str, date, str, bool, dict[str, Any], str, int, int]


def _charge_fees(database: Database, org: Org) -> list[FeeLine]:
    """(subscription, billing date, metric, filtered, grouped_by, units, events, cents)."""
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(Subscription.external_id, Invoice.billing_date, Fee)
            .join(Invoice, Invoice.id == Fee.invoice_id)
            .join(Subscription, Subscription.id == Fee.subscription_id)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(Fee.organization_id == org.id, Fee.fee_type == "charge")
        ).all()
        return sorted((
            (external, day, fee.item_code, fee.charge_filter_id is not None, fee.grouped_by,
             format(fee.units.normalize(), "f"), fee.events_count, fee.amount_cents)
            for external, day, fee in rows
        ), key=repr)  # fmt: skip


def test_a_batch_bills_the_usage_it_read_ahead(
    database: Database, org: Org, recording: Recording
) -> None:
    _setup(database, org)
    tick(database, utc(2024, 3, 1, 1))
    feb1, mar1, feb20 = date(2024, 2, 1), date(2024, 3, 1), date(2024, 2, 20)
    fr, de = {"country": "fr"}, {"country": "de"}
    assert _charge_fees(database, org) == [
        # January: the event in the period's last half second counts; the recurring seats
        # count the history; the latest level is 2.
        ("sub1", feb1, "calls", False, {}, "2", 2, 200),
        ("sub1", feb1, "gb", False, {}, "6", 1, 300),
        ("sub1", feb1, "gb", True, fr, "4", 1, 800),
        ("sub1", feb1, "level", False, {}, "2", 2, 800),
        ("sub1", feb1, "peak", False, {}, "7", 2, 2_100),
        ("sub1", feb1, "seats", False, {}, "3", 1, 3_000),
        # February: no level event, no level fee; seats carried 3 + 2.
        ("sub1", mar1, "calls", False, {}, "2", 2, 200),
        ("sub1", mar1, "gb", False, {}, "10", 1, 500),
        ("sub1", mar1, "gb", True, de, "1.5", 1, 300),
        ("sub1", mar1, "gb", True, fr, "2", 1, 400),
        ("sub1", mar1, "peak", False, {}, "2", 1, 600),
        ("sub1", mar1, "seats", False, {}, "5", 2, 5_000),
        # From 10:30 on Feb 10: the call at 10:15 is before the subscription.
        ("sub2", mar1, "calls", False, {}, "2", 2, 200),
        ("sub2", mar1, "gb", True, fr, "3", 1, 600),
        ("sub2", mar1, "seats", False, {}, "1", 1, 1_000),
        # Jan 20 to Feb 19: the call of Jan 19 is out; groups by country; a and b.
        ("sub3", feb20, "calls", False, {}, "2", 2, 200),
        ("sub3", feb20, "gb", False, fr, "6", 2, 600),
        ("sub3", feb20, "gb", False, {"country": None}, "2", 1, 200),
        ("sub3", feb20, "users", False, {}, "2", 3, 200),
    ]
    # Every charge's usage came from the read ahead, none from a read of its own.
    ours = {"sub1", "sub2", "sub3"}
    assert not ours & set(recording.one_by_one)
    assert recording.together


def _windows(org: Org) -> list[Window]:
    def window(sub: str, start: datetime, end: datetime, days: int) -> Window:
        return Window(org.id, sub, start, end, days)

    return [
        window("sub1", utc(2024, 1, 1), utc(2024, 1, 31, 23, 59, 59), 31),
        window("sub1", utc(2024, 2, 1), utc(2024, 2, 29, 23, 59, 59), 29),
        window("sub2", utc(2024, 2, 10, 10, 30), utc(2024, 2, 29, 23, 59, 59), 29),
        # Shorter than an hour, inside one.
        window("sub2", utc(2024, 2, 10, 10, 40), utc(2024, 2, 10, 10, 50, 59), 29),
        window("sub3", utc(2024, 1, 20), utc(2024, 2, 19, 23, 59, 59), 31),
        window("nobody", utc(2024, 1, 1), utc(2024, 1, 31, 23, 59, 59), 31),
        window("big", utc(2024, 1, 1), utc(2024, 1, 31, 23, 59, 59), 31),
    ]


@pytest.mark.parametrize(
    ("code", "kind", "field", "recurring"),
    [
        ("calls", "count_agg", None, False),
        ("gb", "sum_agg", "gb", False),
        ("gb", "sum_agg", "gb", True),
        ("peak", "max_agg", "v", False),
        ("level", "latest_agg", "v", False),
        ("seats", "sum_agg", "n", True),
        ("users", "unique_count_agg", "u", False),
        ("gb", "weighted_sum_agg", "gb", False),
    ],
)
def test_each_window_read_together_is_the_window_read_alone(
    database: Database, org: Org, code: str, kind: str, field: str | None, recurring: bool
) -> None:
    _setup(database, org)
    metric = MetricSpec(code, kind, field, recurring=recurring)
    eu = FilterSpec("eu", {"region": ["eu"]}, 0)
    anywhere = FilterSpec("anywhere", {"region": [ALL_VALUES]}, 1)
    shapes: list[tuple[list[FilterSpec], list[str]]] = [
        ([], []), ([eu], []), ([], ["country"]), ([eu, anywhere], ["country"]),
    ]  # fmt: skip
    windows = _windows(org)
    if kind == "weighted_sum_agg":
        # Its area of 10^23-sized levels overflows the relational reading alone as well.
        windows = [window for window in windows if window.external_subscription_id != "big"]
    with database.transaction(write=False) as session:
        store = event_store.store_for(session)
        for filters, keys in shapes:
            together = store.aggregate_many(session, windows, metric, filters, keys)
            alone = {w: store.aggregate(session, w, metric, filters, keys) for w in windows}
            assert _plain(together) == _plain(alone), (filters, keys)


def _plain(found: dict[Window, dict[Any, Any]]) -> dict[Any, Any]:
    # Units as text: the same figure written the same way.
    return {
        (w.external_subscription_id, w.start): {
            key: (str(usage.units), usage.events_count) for key, usage in buckets.items()
        }
        for w, buckets in found.items()
    }


def test_the_sum_read_together_is_exact(database: Database, org: Org) -> None:
    _setup(database, org)
    [january, february, *_rest] = _windows(org)
    with database.transaction(write=False) as session:
        store = event_store.store_for(session)
        found = store.aggregate_many(
            session, [january, february], MetricSpec("gb", "sum_agg", "gb"), [], []
        )
    assert {w.start.month: {k: (u.units, u.events_count) for k, u in b.items()}
            for w, b in found.items()} == {
        1: {(None, ()): (Decimal(10), 2)},
        2: {(None, ()): (Decimal("13.5"), 3)},
    }  # fmt: skip
