"""Server SQL for reading a window of events: the same columns the relational scan
(usage.aggregation._events) selects, as ClickHouse expressions with bound parameters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from meterbill.usage.aggregation import ALL_VALUES, FilterSpec, MetricSpec, Window

# A number as the relational scan reads one (usage.sql.NUMBER_PATTERN), within what
# Decimal(76, 30) holds.
INSTANT = "DateTime64(6, 'UTC')"
NUMBER = r"'^-?\\d{1,40}(\\.\\d{1,30})?$'"
# The same test in Python, on the text ingestion stores (ingestion.prop_text).
NUMBER_TEXT = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,30})?")


def instant(moment: datetime) -> str:
    """A parameter of type DateTime64(6, 'UTC')."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Params:
    values: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, kind: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{kind}}}"


def prop(params: Params, key: str) -> str:
    """The property as text, NULL when absent (null values are not stored in props)."""
    bound = params.bind(key, "String")
    return f"if(mapContains(props, {bound}), props[{bound}], NULL)"


def number(text: str) -> str:
    # The pattern guards the conversion (if() evaluates it only where it matched), which
    # is several times faster than toDecimal256OrNull.
    return f"if(match(ifNull({text}, ''), {NUMBER}), toDecimal256(assumeNotNull({text}), 30), NULL)"


def bucket(params: Params, filters: Sequence[FilterSpec]) -> str:
    if not filters:
        return "CAST(NULL, 'Nullable(String)')"
    branches = []
    for spec in sorted(filters, key=FilterSpec.specificity):
        conditions = []
        for key, items in spec.values.items():
            bound = params.bind(key, "String")
            present = f"mapContains(props, {bound})"
            if items == [ALL_VALUES]:
                conditions.append(present)
            else:
                accepted = params.bind([str(item) for item in items], "Array(String)")
                conditions.append(f"({present} AND has({accepted}, props[{bound}]))")
        branches.append(f"({' AND '.join(conditions)}), {params.bind(spec.id, 'String')}")
    return f"CAST(multiIf({', '.join(branches)}, NULL), 'Nullable(String)')"


def _event_columns(
    params: Params, metric: MetricSpec, filters: Sequence[FilterSpec], group_keys: Sequence[str]
) -> list[str]:
    """What aggregation reads of each event: id, ts, value, number, bucket, g0..gN."""
    value = (
        prop(params, metric.field_name) if metric.field_name else "CAST(NULL, 'Nullable(String)')"
    )
    return [
        "id",
        "timestamp AS ts",
        f"{value} AS value",
        f"{number('value')} AS number",
        f"{bucket(params, filters)} AS bucket",
        *(f"{prop(params, key)} AS g{index}" for index, key in enumerate(group_keys)),
    ]


def window_events(
    params: Params,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
    *,
    since: datetime | None,
    before: datetime | None = None,
    extra: Sequence[str] = (),
    rehearsed: Sequence[dict[str, Any]] = (),
) -> str:
    """A subquery: id, ts, value, number, bucket, g0..gN (and operation for unique counts);
    `rehearsed` rows (an estimate's event, never inserted) are read as if stored."""
    columns = [*_event_columns(params, metric, filters, group_keys), *extra]
    if metric.aggregation_type == "unique_count_agg":
        columns.append(f"{prop(params, 'operation_type')} AS operation")
    conditions = [
        f"organization_id = {params.bind(str(window.organization_id), 'UUID')}",
        f"external_subscription_id = {params.bind(window.external_subscription_id, 'String')}",
        f"code = {params.bind(metric.code, 'String')}",
        # Periods end at hh:59:59; the events of that last second belong to them.
        f"timestamp < {params.bind(instant(window.end + timedelta(seconds=1)), INSTANT)}",
    ]
    if since is not None:
        conditions.append(f"timestamp >= {params.bind(instant(since), INSTANT)}")
    if before is not None:
        conditions.append(f"timestamp < {params.bind(instant(before), INSTANT)}")
    if window.through is not None:
        moment, event_id = window.through
        at = params.bind(instant(moment), INSTANT)
        conditions.append(
            f"(timestamp < {at} OR (timestamp = {at} AND id <= {params.bind(event_id, 'UInt64')}))"
        )
    source = with_rehearsed(params, rehearsed)
    return f"(SELECT {', '.join(columns)} FROM {source} WHERE {' AND '.join(conditions)})"


def with_rehearsed(params: Params, rows: Sequence[dict[str, Any]]) -> str:
    """`events`, or `events` and these rows (ingestion.rows' columns, one dict a row)
    bound as literals: the columns a window of events reads."""
    if not rows:
        return "events"
    parts = [f"SELECT {REHEARSED_COLUMNS} FROM events"]
    for row in rows:
        amount = row["precise_total_amount_cents"]
        parts.append(
            f"SELECT {params.bind(row['organization_id'], 'UUID')},"
            f" {params.bind(row['external_subscription_id'], 'String')},"
            f" {params.bind(row['code'], 'String')}, {params.bind(row['timestamp'], INSTANT)},"
            f" {params.bind(row['id'], 'UInt64')},"
            f" mapFromArrays({params.bind(list(row['props']), 'Array(String)')},"
            f" {params.bind(list(row['props'].values()), 'Array(String)')}),"
            + (
                " CAST(NULL, 'Nullable(String)')"
                if amount is None
                else f" CAST({params.bind(amount, 'String')}, 'Nullable(String)')"
            )
        )
    return "(" + " UNION ALL ".join(parts) + ")"


REHEARSED_COLUMNS = (
    "organization_id, external_subscription_id, code, timestamp, id, props,"
    " precise_total_amount_cents"
)


def keys_of(group_keys: Sequence[str]) -> list[str]:
    return ["bucket", *(f"g{index}" for index in range(len(group_keys)))]


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (toUnixTimestamp64Micro of the instant)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def batch_events(
    params: Params,
    organization_id: str,
    subscriptions: Sequence[str],
    metric: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
    *,
    low: datetime | None,
    high: datetime,
) -> str:
    """`window_events` for several subscriptions of one organization at once, between
    `low` and `high` (the union of their windows), plus `w`: the subscription's position
    in `subscriptions` (from 1), by which the caller keeps each one's own window."""
    listed = params.bind(list(subscriptions), "Array(String)")
    # transform looks the position up in a hash table (indexOf walks the array per row).
    positions = params.bind(list(range(1, len(subscriptions) + 1)), "Array(UInt64)")
    columns = [
        *_event_columns(params, metric, filters, group_keys),
        f"transform(external_subscription_id, {listed}, {positions}, toUInt64(0)) AS w",
    ]
    conditions = [
        f"organization_id = {params.bind(organization_id, 'UUID')}",
        f"external_subscription_id IN {listed}",
        f"code = {params.bind(metric.code, 'String')}",
        f"timestamp < {params.bind(instant(high), INSTANT)}",
    ]
    if low is not None:
        conditions.append(f"timestamp >= {params.bind(instant(low), INSTANT)}")
    return f"(SELECT {', '.join(columns)} FROM events WHERE {' AND '.join(conditions)})"
