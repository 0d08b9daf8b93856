"""Aggregating a subscription's events for one metric, in the database.

Every aggregation returns units per bucket: a bucket is a charge filter (or the
default bucket of events matching none) crossed with the values of the charge's
grouping keys. Nothing here loads events into Python; each aggregation is one
SQL statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from meterbill.event_store import store_for
from meterbill.events.models import Event, EventRollup
from meterbill.events.rollups import COUNT_PROPERTY, hour_of, range_totals, range_totals_many
from meterbill.usage import batch
from meterbill.usage.sql import Dialect

ALL_VALUES = "__ALL_FILTER_VALUES__"
BucketKey = tuple[str | None, tuple[str | None, ...]]


@dataclass(frozen=True)
class FilterSpec:
    """A charge filter: its id and the property values it accepts."""

    id: str
    values: dict[str, list[str]]
    position: int = 0

    def specificity(self) -> tuple[int, float, int]:
        # More keys first, then fewer accepted values ("all" accepts the most), then age.
        width = sum(
            float("inf") if items == [ALL_VALUES] else len(items) for items in self.values.values()
        )
        return (-len(self.values), width, self.position)


@dataclass(frozen=True)
class MetricSpec:
    code: str
    aggregation_type: str
    field_name: str | None
    recurring: bool = False
    rounding_function: str | None = None
    rounding_precision: int | None = None


@dataclass(frozen=True)
class Window:
    """One subscription's events from `start` to the end of the second `end`."""

    organization_id: uuid.UUID
    external_subscription_id: str
    start: datetime
    end: datetime
    duration_days: int
    # Only events up to this one in (timestamp, id) order: a pay-in-advance fee prices
    # the usage just before and just after its event, ties in time broken by arrival.
    through: tuple[datetime, int] | None = None


@dataclass
class BucketUsage:
    units: Decimal
    events_count: int


def _bucket_expression(dialect: Dialect, filters: Sequence[FilterSpec]) -> ColumnElement[Any]:
    if not filters:
        return literal(None, type_=None).label("bucket")  # type: ignore[arg-type]
    whens = []
    for spec in sorted(filters, key=FilterSpec.specificity):
        conditions = []
        for key, items in spec.values.items():
            prop = dialect.prop(key)
            conditions.append(prop.is_not(None) if items == [ALL_VALUES] else prop.in_(items))
        whens.append((and_(*conditions), literal(spec.id)))
    return case(*whens, else_=None).label("bucket")


def _events(
    dialect: Dialect,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
    *,
    since: datetime | None,
) -> Select[Any]:
    value = dialect.prop(metric.field_name) if metric.field_name else literal(None)
    number = dialect.numeric_prop(metric.field_name) if metric.field_name else literal(None)
    columns = [
        Event.id.label("id"),
        Event.timestamp.label("ts"),
        value.label("value"),
        number.label("number"),
        _bucket_expression(dialect, filters),
        *(dialect.prop(key).label(f"g{index}") for index, key in enumerate(group_keys)),
    ]
    if metric.aggregation_type == "unique_count_agg":
        columns.append(dialect.prop("operation_type").label("operation"))
    conditions = [
        Event.organization_id == window.organization_id,
        Event.external_subscription_id == window.external_subscription_id,
        Event.code == metric.code,
        # Periods end at hh:59:59; an event stamped within that last second (events
        # carry milliseconds) belongs to it, not to a gap before the next period.
        Event.timestamp < window.end + timedelta(seconds=1),
    ]
    if since is not None:
        conditions.append(Event.timestamp >= since)
    if window.through is not None:
        instant, event_id = window.through
        conditions.append(
            or_(
                Event.timestamp < instant,
                and_(Event.timestamp == instant, Event.id <= event_id),
            )
        )
    return select(*columns).where(*conditions)


def sql_aggregate(
    session: Session,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, BucketUsage]:
    """Units and event counts per bucket for the window."""
    dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    kind = metric.aggregation_type
    history = metric.recurring and kind in ("sum_agg", "unique_count_agg")
    if kind in ("count_agg", "sum_agg") and not filters and not group_keys and not window.through:
        return _from_rollups(session, dialect, window, metric, history)
    events = _events(
        dialect, window, metric, filters, group_keys, since=None if history else window.start
    ).subquery()
    groups = [events.c[f"g{index}"] for index in range(len(group_keys))]
    keys = [events.c.bucket, *groups]
    in_window = events.c.ts >= window.start
    valid = events.c.number.is_not(None)
    number = events.c.number
    # A recurring sum reads its whole history, and counts it too (Lago's sum has no
    # lower bound for a recurring metric, billing.md E10).
    counted = (
        func.count()
        if history and kind == "sum_agg"
        else func.count(case((in_window, 1), else_=None))
    )

    if kind == "count_agg":
        rows = session.execute(select(*keys, func.count(), counted).group_by(*keys)).all()
    elif kind == "sum_agg":
        rows = session.execute(select(*keys, dialect.sum(number), counted).group_by(*keys)).all()
    elif kind == "max_agg":
        rows = session.execute(select(*keys, dialect.max(number), counted).group_by(*keys)).all()
    elif kind == "latest_agg":
        rows = _latest(session, events, keys, valid)
    elif kind == "unique_count_agg":
        rows = _unique_count(session, events, keys, in_window)
    elif kind == "weighted_sum_agg":
        rows = _weighted_sum(session, dialect, window, metric, filters, group_keys, events, keys)
    else:
        raise ValueError(f"aggregation {kind} is not supported")

    result: dict[BucketKey, BucketUsage] = {}
    for row in rows:
        *key_values, units, count = row
        units = Decimal(str(units)) if units is not None else Decimal(0)
        if kind == "latest_agg" and units < 0:
            units = Decimal(0)
        result[(key_values[0], tuple(key_values[1:]))] = BucketUsage(
            units=apply_rounding(units, metric), events_count=int(count or 0)
        )
    return result


def sql_aggregate_many(
    session: Session,
    windows: Sequence[Window],
    metric: MetricSpec,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[Window, dict[BucketKey, BucketUsage]]:
    """`sql_aggregate` of each window: an unfiltered count or sum from the rollups of the
    windows that share their bounds together (a billing batch's subscriptions mostly
    do), in one query per range; any other aggregation window by window."""
    kind = metric.aggregation_type
    rolled = kind in ("count_agg", "sum_agg") and not filters and not group_keys
    result: dict[Window, dict[BucketKey, BucketUsage]] = {}
    alike: dict[tuple[uuid.UUID, datetime, datetime], list[Window]] = {}
    # A subscription twice in one range (two durations) is read alone the second time.
    listed: set[tuple[tuple[uuid.UUID, datetime, datetime], str]] = set()
    for window in dict.fromkeys(windows):
        bounds = (window.organization_id, window.start, window.end)
        subscription = window.external_subscription_id
        if rolled and window.through is None and (bounds, subscription) not in listed:
            alike.setdefault(bounds, []).append(window)
            listed.add((bounds, subscription))
        else:
            result[window] = sql_aggregate(session, window, metric, filters, group_keys)
    if alike:
        dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
        for group in alike.values():
            for first in range(0, len(group), ROLLED_TOGETHER):
                chunk = group[first : first + ROLLED_TOGETHER]
                result.update(_from_rollups_many(session, dialect, chunk, metric))
    return result


# Subscriptions one rollup query lists at most.
ROLLED_TOGETHER = 500


def _from_rollups_many(
    session: Session, dialect: Dialect, windows: Sequence[Window], metric: MetricSpec
) -> dict[Window, dict[BucketKey, BucketUsage]]:
    """`_from_rollups` of windows with the same organization and bounds."""
    summed = metric.aggregation_type == "sum_agg" and metric.field_name
    history = metric.recurring and metric.aggregation_type == "sum_agg"
    first = windows[0]
    by_subscription = {window.external_subscription_id: window for window in windows}

    def edge_totals_many(
        low: datetime, high: datetime, subscriptions: Sequence[str]
    ) -> dict[str, tuple[int, Decimal]]:
        if not subscriptions:
            return {}
        total_column = (
            dialect.sum(dialect.numeric_prop(metric.field_name))  # type: ignore[arg-type]
            if summed
            else literal(0)
        )
        rows = session.execute(
            select(Event.external_subscription_id, func.count(), total_column)
            .where(
                Event.organization_id == first.organization_id,
                Event.external_subscription_id.in_(list(subscriptions)),
                Event.code == metric.code,
                Event.timestamp >= low,
                Event.timestamp < high,
            )
            .group_by(Event.external_subscription_id)
        ).all()
        return {sub: (int(count or 0), Decimal(str(total or 0))) for sub, count, total in rows}

    totals = range_totals_many(
        session,
        first.organization_id,
        list(by_subscription),
        metric.code,
        metric.field_name if metric.aggregation_type == "sum_agg" else None,
        None if history else first.start,
        first.end,
        edge_totals_many,
    )
    result: dict[Window, dict[BucketKey, BucketUsage]] = {}
    for subscription, window in by_subscription.items():
        count, total = totals[subscription]
        if count == 0 and not history:
            result[window] = {}
            continue
        units = Decimal(count) if metric.aggregation_type == "count_agg" else total
        result[window] = {
            (None, ()): BucketUsage(units=apply_rounding(units, metric), events_count=count)
        }
    return result


def _latest(session: Session, events: Any, keys: list[Any], valid: Any) -> list[Any]:
    ranked = (
        select(
            *keys,
            events.c.value,
            func.row_number()
            .over(partition_by=keys, order_by=(events.c.ts.desc(), events.c.id.desc()))
            .label("rank"),
        )
        .where(valid)
        .subquery()
    )
    counts = select(*keys, func.count().label("n")).group_by(*keys).subquery()
    latest_keys = [ranked.c[key.name] for key in keys]
    count_keys = [counts.c[key.name] for key in keys]
    joined = and_(*(_same(a, b) for a, b in zip(latest_keys, count_keys, strict=True)))
    return list(
        session.execute(
            select(*count_keys, ranked.c.value, counts.c.n).select_from(
                counts.outerjoin(ranked, and_(joined, ranked.c.rank == 1))
            )
        ).all()
    )


def _same(left: Any, right: Any) -> ColumnElement[bool]:
    # Buckets and group values may be NULL; NULL matches NULL here.
    return or_(left == right, and_(left.is_(None), right.is_(None)))


def _unique_count(session: Session, events: Any, keys: list[Any], in_window: Any) -> list[Any]:
    """Distinct values whose latest operation is an add (Lago's add/remove semantics)."""
    ranked = (
        select(
            *keys,
            events.c.operation,
            func.row_number()
            .over(
                partition_by=[*keys, events.c.value],
                order_by=(events.c.ts.desc(), events.c.id.desc()),
            )
            .label("rank"),
        )
        .where(events.c.value.is_not(None))
        .subquery()
    )
    ranked_keys = [ranked.c[key.name] for key in keys]
    added = func.count(
        case(
            (
                and_(
                    ranked.c.rank == 1,
                    or_(ranked.c.operation.is_(None), ranked.c.operation != "remove"),
                ),
                1,
            ),
            else_=None,
        )
    )
    units = dict(
        ((row[0], tuple(row[1:-1])), row[-1])
        for row in session.execute(select(*ranked_keys, added).group_by(*ranked_keys)).all()
    )
    counts = session.execute(
        select(*keys, func.count(case((in_window, 1), else_=None))).group_by(*keys)
    ).all()
    return [(*row[:-1], units.get((row[0], tuple(row[1:-1])), 0), row[-1]) for row in counts]


def _weighted_sum(
    session: Session,
    dialect: Dialect,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
    events: Any,
    keys: list[Any],
) -> list[Any]:
    """The time-weighted average level over the window.

    Each event is a change of level, so the area under the level curve is
    Σ value × (window end − event time) plus the initial level × window length.
    """
    end = window.end + timedelta(seconds=1)
    end_epoch = dialect.literal_number(Decimal(str(end.timestamp())))
    valid = dialect.is_number(events.c.value)
    seconds_left = dialect.subtract(end_epoch, dialect.epoch(events.c.ts))
    area = dialect.product_sum(
        case((valid, dialect.number(events.c.value)), else_=None), seconds_left
    )
    rows = session.execute(select(*keys, area, func.count()).group_by(*keys)).all()
    initial: dict[BucketKey, Decimal] = {}
    if metric.recurring:
        before = (
            _events(dialect, window, metric, filters, group_keys, since=None)
            .where(Event.timestamp < window.start)
            .subquery()
        )
        before_keys = [before.c.bucket, *(before.c[f"g{i}"] for i in range(len(group_keys)))]
        before_number = before.c.number
        for row in session.execute(
            select(*before_keys, dialect.sum(before_number)).group_by(*before_keys)
        ).all():
            initial[(row[0], tuple(row[1:-1]))] = Decimal(str(row[-1] or 0))
    length = Decimal(str((end - window.start).total_seconds()))
    denominator = Decimal(window.duration_days * 86400)
    result = []
    seen = set()
    for row in rows:
        key = (row[0], tuple(row[1:-2]))
        seen.add(key)
        total = Decimal(str(row[-2] or 0)) + initial.get(key, Decimal(0)) * length
        result.append((*row[:-2], (total / denominator).quantize(Decimal("1E-20")), row[-1]))
    for key, level in initial.items():
        if key not in seen:
            result.append(
                (key[0], *key[1], (level * length / denominator).quantize(Decimal("1E-20")), 0)
            )
    return result


def apply_rounding(units: Decimal, metric: MetricSpec) -> Decimal:
    """Lago's optional rounding of aggregated units (precision may be negative)."""
    if metric.rounding_function is None:
        return units
    exponent = Decimal(1).scaleb(-(metric.rounding_precision or 0))
    mode = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}[
        metric.rounding_function
    ]
    return units.quantize(exponent, rounding=mode)


def sql_dynamic_amounts(
    session: Session,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, Decimal]:
    """Σ precise_total_amount_cents per bucket, for dynamic charges."""
    dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    events = (
        _events(dialect, window, metric, filters, group_keys, since=window.start)
        .add_columns(Event.precise_total_amount_cents.label("precise"))
        .subquery()
    )
    keys = [events.c.bucket, *(events.c[f"g{i}"] for i in range(len(group_keys)))]
    rows = session.execute(select(*keys, dialect.sum(events.c.precise)).group_by(*keys)).all()
    return {(row[0], tuple(row[1:-1])): Decimal(str(row[-1] or 0)) for row in rows}


def sql_event_values(
    session: Session,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, list[Decimal]]:
    """Per-event values in time order, per bucket.

    Only the percentage model's free units and per-transaction bounds need them; it
    is the one place where a period's events are read one by one.
    """
    dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    events = _events(dialect, window, metric, filters, group_keys, since=window.start).subquery()
    keys = [events.c.bucket, *(events.c[f"g{i}"] for i in range(len(group_keys)))]
    rows = session.execute(
        select(*keys, events.c.number)
        .where(events.c.number.is_not(None))
        .order_by(events.c.ts, events.c.id)
    ).all()
    values: dict[BucketKey, list[Decimal]] = {}
    for row in rows:
        values.setdefault((row[0], tuple(row[1:-1])), []).append(Decimal(str(row[-1])))
    return values


def sql_unique_value_events(
    session: Session,
    window: Window,
    metric: MetricSpec,
    timezone: str,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, dict[str, list[tuple[date, bool, int]]]]:
    """Per bucket and value, its operations up to the window's end in time order: (local
    day, whether it adds, its rank among all the events read). A prorated unique count
    weighs each value by its active days; the whole history is read, event by event."""
    dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    events = _events(dialect, window, metric, filters, group_keys, since=None).subquery()
    keys = [events.c.bucket, *(events.c[f"g{i}"] for i in range(len(group_keys)))]
    day = dialect.local_date(events.c.ts, timezone)
    rows = session.execute(
        select(*keys, events.c.value, events.c.operation, day)
        .where(events.c.value.is_not(None))
        .order_by(events.c.ts, events.c.id)
    ).all()
    found: dict[BucketKey, dict[str, list[tuple[date, bool, int]]]] = {}
    for rank, row in enumerate(rows):
        *key_values, value, operation, raw_day = row
        local = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        bucket = found.setdefault((key_values[0], tuple(key_values[1:])), {})
        bucket.setdefault(str(value), []).append((local, operation != "remove", rank))
    return found


def active_ratio(
    operations: Sequence[tuple[date, bool, int]], first_day: date, last_day: date, duration: int
) -> tuple[Decimal, list[tuple[int, int, Decimal]]]:
    """A value's share of the period (days active / duration) as Lago counts it, and its
    steps: (rank, +1, the days of one stay / duration) when it comes, (rank, -1, 0) when it
    goes.

    A remove followed the same day by an add is ignored; repeated operations count once
    (a first remove not at all); a stay counts from its add (or the period's first day)
    through the day of its remove, that day included (or the period's last day). A stay
    over before the period leaves no step.
    """
    kept: list[tuple[date, bool, int]] = []
    for index, (day, adds, rank) in enumerate(operations):
        if not adds and any(
            later_adds and later_day == day for later_day, later_adds, _ in operations[index + 1 :]
        ):
            continue
        previous_adds = kept[-1][1] if kept else False
        if adds != previous_adds:
            kept.append((day, adds, rank))
    total = Decimal(0)
    steps: list[tuple[int, int, Decimal]] = []
    skip_remove = False
    for index, (day, adds, rank) in enumerate(kept):
        if not adds:
            if not skip_remove:
                steps.append((rank, -1, Decimal(0)))
            skip_remove = False
            continue
        ends = kept[index + 1][0] if index + 1 < len(kept) else last_day
        days = 0 if ends < first_day else max((ends - max(day, first_day)).days + 1, 0)
        if days == 0:
            skip_remove = True
            continue
        share = Decimal(days) / Decimal(duration)
        total += share
        steps.append((rank, 1, share))
    return total, steps


def sql_daily_sums(
    session: Session,
    window: Window,
    metric: MetricSpec,
    timezone: str,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, list[tuple[date, Decimal]]]:
    """Σ values per local day of the window, per bucket (at most one row a day).

    Prorated charges weigh each day's additions by the days left in the period.
    """
    dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    events = _events(dialect, window, metric, filters, group_keys, since=window.start).subquery()
    keys = [events.c.bucket, *(events.c[f"g{i}"] for i in range(len(group_keys)))]
    day = dialect.local_date(events.c.ts, timezone).label("day")
    rows = session.execute(
        select(*keys, day, dialect.sum(events.c.number)).group_by(*keys, day)
    ).all()
    sums: dict[BucketKey, list[tuple[date, Decimal]]] = {}
    for row in rows:
        value = row[-1]
        if value is None:
            continue
        raw_day = row[-2]
        local = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day))
        sums.setdefault((row[0], tuple(row[1:-2])), []).append((local, Decimal(str(value))))
    return sums


def _from_rollups(
    session: Session, dialect: Dialect, window: Window, metric: MetricSpec, history: bool
) -> dict[BucketKey, BucketUsage]:
    """Counts and sums read from hourly rollups, with the partial hours scanned."""

    summed = metric.aggregation_type == "sum_agg" and metric.field_name

    def edge_totals(low: datetime, high: datetime) -> tuple[int, Decimal]:
        total_column = (
            dialect.sum(dialect.numeric_prop(metric.field_name))  # type: ignore[arg-type]
            if summed
            else literal(0)
        )
        count, total = session.execute(
            select(func.count(), total_column).where(
                Event.organization_id == window.organization_id,
                Event.external_subscription_id == window.external_subscription_id,
                Event.code == metric.code,
                Event.timestamp >= low,
                Event.timestamp < high,
            )
        ).one()
        return int(count or 0), Decimal(str(total or 0))

    def totals(start: datetime | None) -> tuple[int, Decimal]:
        return range_totals(
            session,
            window.organization_id,
            window.external_subscription_id,
            metric.code,
            metric.field_name if metric.aggregation_type == "sum_agg" else None,
            start,
            window.end,
            edge_totals,
        )

    count, total = totals(window.start)
    if history:
        count, total = totals(None)
    if count == 0 and not history:
        return {}
    units = Decimal(count) if metric.aggregation_type == "count_agg" else total
    return {(None, ()): BucketUsage(units=apply_rounding(units, metric), events_count=count)}


def sql_daily_units(
    session: Session, window: Window, metrics: Sequence[MetricSpec], timezone: str
) -> dict[str, dict[date, Decimal]]:
    """Per metric code, what each local day of the window adds, for a usage chart: the
    events' count (count_agg), the sum of their values (sum_agg), else the number of
    events.

    Every event of a metric's code falls in some bucket of a charge, so a day's figure
    is the charge's whatever its filters and groups. Counts and sums read whole hours
    from the rollups as `aggregate` does (one query for all the metrics), and scan only
    the partial hours at the edges; a time zone whose days do not begin on a UTC hour,
    or an hour whose sum no rollup holds, scans the window's events by day.
    """
    dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    stop = window.end + timedelta(seconds=1)

    def summed(metric: MetricSpec) -> bool:
        return metric.aggregation_type == "sum_agg" and metric.field_name is not None

    def scan(metric: MetricSpec, low: datetime, high: datetime) -> dict[date, Decimal]:
        number = (
            dialect.numeric_prop(metric.field_name)  # type: ignore[arg-type]
            if summed(metric)
            else literal(None)
        )
        day = dialect.local_date(Event.timestamp, timezone).label("day")
        figure = dialect.sum(number) if summed(metric) else func.count()
        rows = session.execute(
            select(day, figure)
            .where(
                Event.organization_id == window.organization_id,
                Event.external_subscription_id == window.external_subscription_id,
                Event.code == metric.code,
                Event.timestamp >= low,
                Event.timestamp < high,
            )
            .group_by(day)
        ).all()
        return {_as_date(raw): Decimal(str(value or 0)) for raw, value in rows}

    first_full = hour_of(window.start + timedelta(hours=1) - timedelta(microseconds=1))
    last_full = hour_of(stop)
    day_of = _local_days(first_full, last_full, timezone) if first_full < last_full else None
    rolled = {
        metric.code: metric
        for metric in metrics
        if metric.aggregation_type in ("count_agg", "sum_agg") and day_of
    }
    result: dict[str, dict[date, Decimal]] = {code: {} for code in rolled}
    wanted = {(m.code, m.field_name if summed(m) else COUNT_PROPERTY): m for m in rolled.values()}
    unreadable: set[str] = set()
    if rolled and day_of:
        rows = session.execute(
            select(
                EventRollup.code,
                EventRollup.property,
                EventRollup.hour,
                EventRollup.events_count,
                EventRollup.total,
            ).where(
                EventRollup.organization_id == window.organization_id,
                EventRollup.external_subscription_id == window.external_subscription_id,
                EventRollup.code.in_(list(rolled)),
                EventRollup.property.in_({name for _code, name in wanted}),
                EventRollup.hour >= first_full,
                EventRollup.hour < last_full,
            )
        ).all()
        for code, name, hour, events_count, total in rows:
            metric = wanted.get((code, name))
            if metric is None:
                continue
            if events_count < 0:
                unreadable.add(code)
                continue
            day = day_of[_aware(hour)]
            figure = Decimal(str(total)) if summed(metric) else Decimal(events_count)
            days = result[code]
            days[day] = days.get(day, Decimal(0)) + figure
    for metric in metrics:
        if metric.code not in rolled or metric.code in unreadable:
            result[metric.code] = scan(metric, window.start, stop)
            continue
        for low, high in ((window.start, first_full), (last_full, stop)):
            if low < high:
                days = result[metric.code]
                for day, figure in scan(metric, low, high).items():
                    days[day] = days.get(day, Decimal(0)) + figure
    return result


@lru_cache(maxsize=256)
def _local_days(first: datetime, last: datetime, timezone: str) -> dict[datetime, date] | None:
    """The local day of every hour from `first` to `last` (excluded), or None when one
    of them does not begin a local hour (a zone offset by a fraction of an hour). Pure,
    so remembered: the charges of a page share one window."""
    zone = ZoneInfo(timezone)
    days = {}
    moment = first
    while moment < last:
        local = moment.astimezone(zone)
        if local.minute or local.second:
            return None
        days[moment] = local.date()
        moment += timedelta(hours=1)
    return days


def _as_date(raw: Any) -> date:
    return raw if isinstance(raw, date) else date.fromisoformat(str(raw))


def _aware(moment: datetime) -> datetime:
    # SQLite hands stored instants back naive (they are UTC).
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# What callers use: the session's event store answers (event_store.store_for).


def aggregate(
    session: Session,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, BucketUsage]:
    """Units and event counts per bucket for the window (read ahead for a billing batch,
    usage/batch.py, or now)."""
    found = batch.remembered(session, window, metric, filters, group_keys)
    if found is not None:
        return found
    return store_for(session).aggregate(session, window, metric, filters, group_keys)


def dynamic_amounts(
    session: Session,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, Decimal]:
    return store_for(session).dynamic_amounts(session, window, metric, filters, group_keys)


def event_values(
    session: Session,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, list[Decimal]]:
    return store_for(session).event_values(session, window, metric, filters, group_keys)


def unique_value_events(
    session: Session,
    window: Window,
    metric: MetricSpec,
    timezone: str,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, dict[str, list[tuple[date, bool, int]]]]:
    return store_for(session).unique_value_events(
        session, window, metric, timezone, filters, group_keys
    )


def daily_sums(
    session: Session,
    window: Window,
    metric: MetricSpec,
    timezone: str,
    filters: Sequence[FilterSpec] = (),
    group_keys: Sequence[str] = (),
) -> dict[BucketKey, list[tuple[date, Decimal]]]:
    return store_for(session).daily_sums(session, window, metric, timezone, filters, group_keys)


def daily_units(
    session: Session, window: Window, metrics: Sequence[MetricSpec], timezone: str
) -> dict[str, dict[date, Decimal]]:
    return store_for(session).daily_units(session, window, metrics, timezone)
