"""The ClickHouse event store: events and their hourly sums in ClickHouse, every
aggregation pushed down to it as server SQL; the result of each is the relational
store's for the same events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound
from meterbill.core.pagination import Page, PageRequest, build_meta
from meterbill.event_store.clickhouse import ingestion
from meterbill.event_store.clickhouse.connection import Connection
from meterbill.event_store.clickhouse.queries import (
    INSTANT,
    NUMBER,
    Params,
    instant,
    keys_of,
    window_events,
)
from meterbill.events.errors import report_unbillable
from meterbill.events.models import Event
from meterbill.events.rollups import HOUR, hour_of
from meterbill.events.service import EventFilters, NewEvent, StoredEvent, random_uuids
from meterbill.usage.aggregation import (
    BucketKey,
    BucketUsage,
    FilterSpec,
    MetricSpec,
    Window,
    apply_rounding,
)

EVENT_FIELDS = (
    "toString(organization_id), external_subscription_id, code, toString(timestamp), id,"
    " transaction_id, toString(lago_id), properties, precise_total_amount_cents,"
    " toString(created_at)"
)


HOUR_TYPE = "DateTime('UTC')"
# An event's rows in the hourly sums (migrations/0001_events.sql, event_hours_mv): the
# count under property '', then each property whose text is a number.
HOURLY_ITEMS = (
    "arrayConcat([('', '0')], arrayFilter(pair -> pair.1 != '' AND match(pair.2, "
    f"{NUMBER}), arrayZip(mapKeys(props), mapValues(props))))"
)
TOTALS = "meterbill.clickhouse_totals"
# Windows kept per transaction (a billing run reads thousands in one).
TOTALS_KEPT = 64


def _hour_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _decimal(raw: Any) -> Decimal | None:
    return None if raw is None else Decimal(str(raw))


def _moment(raw: str) -> datetime:
    return datetime.fromisoformat(raw + "+00:00")


def _event(row: list[Any]) -> Event:
    (
        organization,
        subscription,
        code,
        stamp,
        event_id,
        transaction,
        lago_id,
        props,
        amount,
        created,
    ) = row
    return Event(
        id=int(event_id),
        lago_id=uuid.UUID(lago_id),
        organization_id=uuid.UUID(organization),
        transaction_id=transaction,
        external_subscription_id=subscription,
        code=code,
        timestamp=_moment(stamp),
        properties=orjson.loads(props),
        precise_total_amount_cents=_decimal(amount),
        created_at=_moment(created),
    )


def _bucket_key(values: Sequence[Any]) -> BucketKey:
    return values[0], tuple(values[1:])


class ClickHouseEventStore:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._ids = ingestion.Ids()

    def _query(self, sql: str, params: Params | dict[str, Any] | None = None) -> list[list[Any]]:
        values = params.values if isinstance(params, Params) else params
        return self.connection.query(sql, values)

    def ping(self) -> None:
        """Raises when ClickHouse does not answer (the readiness probe)."""
        self._query("SELECT 1")

    # Ingestion and lookups.

    def insert_many(
        self, session: Session, items: Sequence[NewEvent]
    ) -> tuple[list[StoredEvent], set[int]]:
        if not items:
            return [], set()
        organization_text: dict[uuid.UUID, str] = {}
        wanted = []
        for item in items:
            organization = organization_text.get(item.organization_id)
            if organization is None:
                organization = organization_text[item.organization_id] = str(item.organization_id)
            wanted.append((organization, item.event.external_subscription_id,
                           item.event.transaction_id))  # fmt: skip
        ingestion.lock_organizations(session, list(organization_text))
        taken = self._stored_keys(wanted) | ingestion.pending_keys(session)
        duplicates = {index for index, key in enumerate(wanted) if key in taken}
        ids = random_uuids(len(items))
        if duplicates:
            fresh = [index for index in range(len(items)) if index not in duplicates]
            fresh_items = [items[i] for i in fresh]
            fresh_ids = [ids[i] for i in fresh]
            fresh_keys = {wanted[i] for i in fresh}
        else:
            fresh_items, fresh_ids, fresh_keys = list(items), ids, set(wanted)
        if fresh_items:
            numbers = self._ids.take(len(fresh_items))
            events, keys = ingestion.rows(fresh_items, fresh_ids, numbers)
            ingestion.hold(session, self.connection, events, keys, fresh_keys)
        stored = [
            StoredEvent(lago_id, item.event, item.received_at)
            for lago_id, item in zip(ids, items, strict=True)
        ]
        by_organization: dict[uuid.UUID, list[Any]] = {}
        for lago_id, item in zip(fresh_ids, fresh_items, strict=True):
            by_organization.setdefault(item.organization_id, []).append(
                (lago_id, item.event, item.received_at)
            )
        for organization_id, fresh_events in by_organization.items():
            report_unbillable(session, organization_id, fresh_events)
        return stored, duplicates

    def _stored_keys(self, wanted: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """The keys among `wanted` already stored: one read of event_keys' primary key
        (organization, transaction id) per group."""
        organizations = {key[0] for key in wanted}
        params: dict[str, Any] = {"transactions": sorted({key[2] for key in wanted})}
        if len(organizations) == 1:
            [params["organization"]] = organizations
            scope = "organization_id = {organization:UUID}"
        else:
            params["organizations"] = sorted(organizations)
            scope = "organization_id IN {organizations:Array(UUID)}"
        rows = self._query(
            "SELECT DISTINCT toString(organization_id), external_subscription_id, transaction_id"
            f" FROM event_keys WHERE {scope} AND transaction_id IN {{transactions:Array(String)}}",
            params,
        )
        return {(row[0], row[1], row[2]) for row in rows}

    def find_event(
        self, session: Session, organization_id: uuid.UUID, transaction_id: str
    ) -> Event:
        if "\x00" in transaction_id:
            raise NotFound("event")
        keys = self._query(
            "SELECT external_subscription_id, code, toString(timestamp), id FROM event_keys"
            " WHERE organization_id = {organization:UUID} AND transaction_id = {transaction:String}"
            " ORDER BY id LIMIT 1",
            {"organization": str(organization_id), "transaction": transaction_id},
        )
        if not keys:
            raise NotFound("event")
        subscription, code, stamp, event_id = keys[0]
        rows = self._query(
            f"SELECT {EVENT_FIELDS} FROM events WHERE organization_id = {{organization:UUID}}"
            " AND external_subscription_id = {subscription:String} AND code = {code:String}"
            f" AND timestamp = {{stamp:{INSTANT}}} AND id = {{id:UInt64}} LIMIT 1",
            {"organization": str(organization_id), "subscription": subscription, "code": code,
             "stamp": stamp, "id": event_id},
        )  # fmt: skip
        if not rows:
            raise NotFound("event")
        return _event(rows[0])

    def list_events(
        self, session: Session, organization_id: uuid.UUID, filters: EventFilters,
        page: PageRequest,
    ) -> Page[Event]:  # fmt: skip
        params = Params()
        conditions = [f"organization_id = {params.bind(str(organization_id), 'UUID')}"]
        texts = (filters.external_subscription_id or "", filters.code or "")
        if any("\x00" in value for value in texts):
            conditions.append("0")
        if filters.external_subscription_id is not None:
            bound = params.bind(filters.external_subscription_id, "String")
            conditions.append(f"external_subscription_id = {bound}")
        if filters.code is not None:
            conditions.append(f"code = {params.bind(filters.code, 'String')}")
        if filters.timestamp_from is not None:
            conditions.append(
                f"timestamp >= {params.bind(instant(filters.timestamp_from), INSTANT)}"
            )
        if filters.timestamp_to is not None:
            conditions.append(f"timestamp <= {params.bind(instant(filters.timestamp_to), INSTANT)}")
        where = " AND ".join(conditions)
        total = int(self._query(f"SELECT count() FROM events WHERE {where}", params)[0][0])
        items: list[Event] = []
        if total:
            offset = (page.page - 1) * page.per_page
            rows = self._query(
                f"SELECT {EVENT_FIELDS} FROM events WHERE {where}"
                " ORDER BY timestamp DESC, id DESC"
                f" LIMIT {int(page.per_page)} OFFSET {int(offset)}",
                params,
            )
            items = [_event(row) for row in rows]
        return Page(items=items, meta=build_meta(page.page, page.per_page, total))

    # Aggregations.

    def aggregate(
        self,
        session: Session,
        window: Window,
        metric: MetricSpec,
        filters: Sequence[FilterSpec],
        group_keys: Sequence[str],
    ) -> dict[BucketKey, BucketUsage]:
        kind = metric.aggregation_type
        history = metric.recurring and kind in ("sum_agg", "unique_count_agg")
        if (
            kind in ("count_agg", "sum_agg")
            and not filters
            and not group_keys
            and not window.through
        ):
            return self._from_hours(session, window, metric, history)
        params = Params()
        events = window_events(
            params, window, metric, filters, group_keys, since=None if history else window.start
        )
        keys = ", ".join(keys_of(group_keys))
        start = params.bind(instant(window.start), INSTANT)
        counted = "count()" if history and kind == "sum_agg" else f"countIf(ts >= {start})"
        if kind == "count_agg":
            figure = "toString(count())"
        elif kind == "sum_agg":
            figure = "toString(sum(number))"
        elif kind == "max_agg":
            figure = "toString(max(number))"
        elif kind == "latest_agg":
            figure = "argMaxIf(value, (ts, id), number IS NOT NULL)"
            counted = "count()"
        elif kind == "unique_count_agg":
            rows = self._unique_count(params, events, keys, start)
        elif kind == "weighted_sum_agg":
            rows = self._weighted_sum(window, metric, filters, group_keys)
        else:
            raise ValueError(f"aggregation {kind} is not supported")
        if kind not in ("unique_count_agg", "weighted_sum_agg"):
            rows = self._query(
                f"SELECT {keys}, {figure}, {counted} FROM {events} GROUP BY {keys}", params
            )
        result: dict[BucketKey, BucketUsage] = {}
        for row in rows:
            *key_values, units, count = row
            units = Decimal(str(units)) if units not in (None, "") else Decimal(0)
            if kind == "latest_agg" and units < 0:
                units = Decimal(0)
            result[_bucket_key(key_values)] = BucketUsage(
                units=apply_rounding(units, metric), events_count=int(count or 0)
            )
        return result

    def _unique_count(self, params: Params, events: str, keys: str, start: str) -> list[Any]:
        """Distinct values whose latest operation is an add (Lago's add/remove)."""
        added = self._query(
            f"SELECT {keys}, countIf(operation IS NULL OR operation != 'remove') FROM"
            f" (SELECT {keys}, value, argMax(operation, (ts, id)) AS operation FROM {events}"
            f" WHERE value IS NOT NULL GROUP BY {keys}, value) GROUP BY {keys}",
            params,
        )
        units = {_bucket_key(row[:-1]): row[-1] for row in added}
        counts = self._query(
            f"SELECT {keys}, countIf(ts >= {start}) FROM {events} GROUP BY {keys}", params
        )
        return [(*row[:-1], units.get(_bucket_key(row[:-1]), 0), row[-1]) for row in counts]

    def _weighted_sum(
        self,
        window: Window,
        metric: MetricSpec,
        filters: Sequence[FilterSpec],
        group_keys: Sequence[str],
    ) -> list[Any]:
        """Σ value × (window end − event time) + initial level × window length, over the
        period's length (usage.aggregation._weighted_sum)."""
        end = window.end + timedelta(seconds=1)
        params = Params()
        events = window_events(params, window, metric, filters, group_keys, since=window.start)
        keys = ", ".join(keys_of(group_keys))
        end_micros = params.bind(int(end.timestamp()) * 1_000_000 + end.microsecond, "Int64")
        area = f"sum(number * toDecimal256({end_micros} - toUnixTimestamp64Micro(ts), 0))"
        rows = self._query(
            f"SELECT {keys}, toString({area}), count() FROM {events} GROUP BY {keys}", params
        )
        initial: dict[BucketKey, Decimal] = {}
        if metric.recurring:
            before_params = Params()
            before = window_events(
                before_params, window, metric, filters, group_keys, since=None, before=window.start
            )
            for row in self._query(
                f"SELECT {keys}, toString(sum(number)) FROM {before} GROUP BY {keys}",
                before_params,
            ):
                initial[_bucket_key(row[:-1])] = Decimal(str(row[-1] or 0))
        length = Decimal(str((end - window.start).total_seconds()))
        denominator = Decimal(window.duration_days * 86400)
        result = []
        seen = set()
        micro = Decimal(1_000_000)
        for row in rows:
            key = _bucket_key(row[:-2])
            seen.add(key)
            total = Decimal(str(row[-2] or 0)) / micro + initial.get(key, Decimal(0)) * length
            result.append((*row[:-2], (total / denominator).quantize(Decimal("1E-20")), row[-1]))
        for key, level in initial.items():
            if key not in seen:
                result.append(
                    (key[0], *key[1], (level * length / denominator).quantize(Decimal("1E-20")), 0)
                )
        return result

    def _from_hours(
        self, session: Session, window: Window, metric: MetricSpec, history: bool
    ) -> dict[BucketKey, BucketUsage]:
        """Count and sum from the hourly sums, the partial hours at both ends scanned."""
        field = metric.field_name if metric.aggregation_type == "sum_agg" else None
        totals = self._subscription_totals(session, window, None if history else window.start)
        count = totals.get((metric.code, ""), (0, Decimal(0)))[0]
        total = totals.get((metric.code, field), (0, Decimal(0)))[1] if field else Decimal(0)
        if count == 0 and not history:
            return {}
        units = Decimal(count) if metric.aggregation_type == "count_agg" else total
        return {(None, ()): BucketUsage(units=apply_rounding(units, metric), events_count=count)}

    def _subscription_totals(
        self, session: Session, window: Window, start: datetime | None
    ) -> dict[tuple[str, str], tuple[int, Decimal]]:
        """Per code: the count of the subscription's events from `start` (None: ever) to
        the window's end (property '') and the sum of each numeric property; one query
        answers every count and sum charge of a plan, kept for the rest of the session's
        transaction (events written in it reach ClickHouse only at its commit)."""
        transaction = session.get_transaction()
        key = (window.organization_id, window.external_subscription_id, start, window.end)
        memo = session.info.get(TOTALS)
        if memo is None or memo[0] is not transaction or len(memo[1]) >= TOTALS_KEPT:
            memo = session.info[TOTALS] = (transaction, {})
        found = memo[1].get(key)
        if found is None or transaction is None:
            found = memo[1][key] = self._read_totals(window, start)
        return found

    def _read_totals(
        self, window: Window, start: datetime | None
    ) -> dict[tuple[str, str], tuple[int, Decimal]]:
        stop = window.end + timedelta(seconds=1)
        first_full = None if start is None else hour_of(start + HOUR - timedelta(microseconds=1))
        last_full = hour_of(stop)
        params = Params()
        scope = (
            f"organization_id = {params.bind(str(window.organization_id), 'UUID')}"
            " AND external_subscription_id ="
            f" {params.bind(window.external_subscription_id, 'String')}"
        )
        parts = []
        if first_full is not None and first_full > last_full:
            edges = [(start, stop)]
        else:
            edges = []
            if start is not None and first_full is not None and start < first_full:
                edges.append((start, first_full))
            if last_full < stop:
                edges.append((last_full, stop))
            # Whole hours bound as DateTime, the column's type: the partition key
            # (toYYYYMM(hour)) and the primary key prune on them without a conversion.
            low = (
                ""
                if first_full is None
                else f" AND hour >= {params.bind(_hour_text(first_full), HOUR_TYPE)}"
            )
            parts.append(
                "SELECT code, property, events_count AS c, total AS t FROM event_hours"
                f" WHERE {scope}{low} AND hour < {params.bind(_hour_text(last_full), HOUR_TYPE)}"
            )
        if edges:
            ranges = " OR ".join(
                f"(timestamp >= {params.bind(instant(low_edge), INSTANT)}"  # type: ignore[arg-type]
                f" AND timestamp < {params.bind(instant(high_edge), INSTANT)})"
                for low_edge, high_edge in edges
            )
            # The partial hours, read as the hourly view reads an insert: per event, the
            # count (property '') and each property that is a number.
            parts.append(
                "SELECT code, item.1 AS property, toUInt64(1) AS c,"
                f" toDecimal256(item.2, 30) AS t FROM events ARRAY JOIN {HOURLY_ITEMS} AS item"
                f" WHERE {scope} AND ({ranges})"
            )
        sql = " UNION ALL ".join(f"({part})" for part in parts)
        # A read of a few hundred rows: compiling its expressions and sums to machine
        # code (once per process, at the third call: a 30-40 ms call) never pays back.
        rows = self._query(
            f"SELECT code, property, toString(sum(c)), toString(sum(t)) FROM ({sql})"
            " GROUP BY code, property"
            " SETTINGS compile_expressions = 0, compile_aggregate_expressions = 0",
            params,
        )
        return {(code, name): (int(count), Decimal(total)) for code, name, count, total in rows}

    def dynamic_amounts(
        self, session: Session, window: Window, metric: MetricSpec,
        filters: Sequence[FilterSpec], group_keys: Sequence[str],
    ) -> dict[BucketKey, Decimal]:  # fmt: skip
        params = Params()
        events = window_events(
            params, window, metric, filters, group_keys, since=window.start,
            extra=["toDecimal256OrNull(precise_total_amount_cents, 30) AS precise"],
        )  # fmt: skip
        keys = ", ".join(keys_of(group_keys))
        rows = self._query(
            f"SELECT {keys}, toString(sum(precise)) FROM {events} GROUP BY {keys}", params
        )
        return {_bucket_key(row[:-1]): Decimal(str(row[-1] or 0)) for row in rows}

    def event_values(
        self, session: Session, window: Window, metric: MetricSpec,
        filters: Sequence[FilterSpec], group_keys: Sequence[str],
    ) -> dict[BucketKey, list[Decimal]]:  # fmt: skip
        params = Params()
        events = window_events(params, window, metric, filters, group_keys, since=window.start)
        keys = ", ".join(keys_of(group_keys))
        rows = self._query(
            f"SELECT {keys}, toString(number) FROM {events} WHERE number IS NOT NULL"
            " ORDER BY ts, id",
            params,
        )
        values: dict[BucketKey, list[Decimal]] = {}
        for row in rows:
            values.setdefault(_bucket_key(row[:-1]), []).append(Decimal(str(row[-1])))
        return values

    def unique_value_events(
        self, session: Session, window: Window, metric: MetricSpec, timezone: str,
        filters: Sequence[FilterSpec], group_keys: Sequence[str],
    ) -> dict[BucketKey, dict[str, list[tuple[date, bool, int]]]]:  # fmt: skip
        params = Params()
        events = window_events(params, window, metric, filters, group_keys, since=None)
        keys = ", ".join(keys_of(group_keys))
        zone = params.bind(timezone, "String")
        rows = self._query(
            f"SELECT {keys}, value, operation, toString(toDate(ts, {zone})) FROM {events}"
            " WHERE value IS NOT NULL ORDER BY ts, id",
            params,
        )
        found: dict[BucketKey, dict[str, list[tuple[date, bool, int]]]] = {}
        for rank, row in enumerate(rows):
            *key_values, value, operation, day = row
            bucket = found.setdefault(_bucket_key(key_values), {})
            bucket.setdefault(str(value), []).append(
                (date.fromisoformat(day), operation != "remove", rank)
            )
        return found

    def daily_sums(
        self, session: Session, window: Window, metric: MetricSpec, timezone: str,
        filters: Sequence[FilterSpec], group_keys: Sequence[str],
    ) -> dict[BucketKey, list[tuple[date, Decimal]]]:  # fmt: skip
        params = Params()
        events = window_events(params, window, metric, filters, group_keys, since=window.start)
        keys = ", ".join(keys_of(group_keys))
        zone = params.bind(timezone, "String")
        rows = self._query(
            f"SELECT {keys}, toString(toDate(ts, {zone})) AS day, toString(sum(number))"
            f" FROM {events} GROUP BY {keys}, day",
            params,
        )
        sums: dict[BucketKey, list[tuple[date, Decimal]]] = {}
        for row in rows:
            if row[-1] is None:
                continue
            sums.setdefault(_bucket_key(row[:-2]), []).append(
                (date.fromisoformat(row[-2]), Decimal(str(row[-1])))
            )
        return sums

    def daily_units(
        self, session: Session, window: Window, metrics: Sequence[MetricSpec], timezone: str
    ) -> dict[str, dict[date, Decimal]]:
        """Per metric code and local day: the sum of a sum_agg's values, else the count."""
        result: dict[str, dict[date, Decimal]] = {}
        for metric in metrics:
            summed = metric.aggregation_type == "sum_agg" and metric.field_name is not None
            params = Params()
            plain = MetricSpec(metric.code, "count_agg", metric.field_name)
            events = window_events(params, window, plain, (), (), since=window.start)
            zone = params.bind(timezone, "String")
            figure = "toString(ifNull(sum(number), 0))" if summed else "toString(count())"
            rows = self._query(
                f"SELECT toString(toDate(ts, {zone})) AS day, {figure} FROM {events} GROUP BY day",
                params,
            )
            result[metric.code] = {date.fromisoformat(day): Decimal(value) for day, value in rows}
        return result
