"""The ClickHouse event store: events and their hourly sums in ClickHouse, every
aggregation pushed down to it as server SQL; the result of each is the relational
store's for the same events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session, SessionTransaction

from meterbill.core.errors import NotFound
from meterbill.core.pagination import Page, PageRequest, build_meta
from meterbill.event_store.clickhouse import ingestion
from meterbill.event_store.clickhouse.connection import Connection
from meterbill.event_store.clickhouse.ids import REHEARSAL_ID, EventIds
from meterbill.event_store.clickhouse.ingestion import prop_text
from meterbill.event_store.clickhouse.queries import (
    INSTANT,
    NUMBER,
    NUMBER_TEXT,
    Params,
    batch_events,
    instant,
    keys_of,
    micros,
    number,
    prop,
    window_events,
)
from meterbill.events.errors import report_unbillable
from meterbill.events.listing import EventLogFilters
from meterbill.events.models import Event
from meterbill.events.rollups import HOUR, hour_of
from meterbill.events.schemas import EventInput
from meterbill.events.service import EventFilters, NewEvent, StoredEvent, random_uuids
from meterbill.events.validation import CodeIn, PropertyMissing, ReceivedCheck
from meterbill.usage.aggregation import (
    BucketKey,
    BucketUsage,
    FilterSpec,
    MetricSpec,
    Window,
    apply_rounding,
)

if TYPE_CHECKING:
    from meterbill.invoices.in_advance import Target
    from meterbill.invoices.scope import Scope
    from meterbill.plans.models import Charge
    from meterbill.subscriptions.models import Subscription

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


# An estimate's event (ingestion.rows' columns, one dict), in its session only: the
# rehearsal's aggregations read it beside the stored events, and nothing writes it.
REHEARSED = "meterbill.clickhouse_rehearsed"


def _rehearsed(session: Session, window: Window, code: str) -> list[dict[str, Any]]:
    rows = session.info.get(REHEARSED)
    if not rows:
        return []
    organization = str(window.organization_id)
    return [
        row
        for row in rows
        if row["organization_id"] == organization
        and row["external_subscription_id"] == window.external_subscription_id
        and row["code"] == code
    ]


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_rehearsed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and REHEARSED in session.info:
        del session.info[REHEARSED]


# Pay-in-advance: targets per query, rows per page of the scan for unpriced events.
TARGETS_PER_QUERY = 500
SCAN_PAGE = 5000
TARGET_KEYS = "Array(Tuple(UUID, String, String))"


class ClickHouseEventStore:
    # ClickHouse writes a part per insert and merges parts afterwards: it is fed best in
    # large inserts (a group of 10,000 costs about as much as two of 2,000). Groups only
    # grow that large when requests queue up, so a lone request waits no longer.
    group_events = 10_000

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._ids = EventIds()

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
            numbers = self._ids.take(session, len(fresh_items))
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
        (organization, transaction id) per group. No DISTINCT: the rows become a set,
        and there are rows only for duplicates."""
        organizations = {key[0] for key in wanted}
        params: dict[str, Any] = {"transactions": sorted({key[2] for key in wanted})}
        if len(organizations) == 1:
            [params["organization"]] = organizations
            scope = "organization_id = {organization:UUID}"
        else:
            params["organizations"] = sorted(organizations)
            scope = "organization_id IN {organizations:Array(UUID)}"
        rows = self._query(
            "SELECT toString(organization_id), external_subscription_id, transaction_id"
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
        rehearsed = _rehearsed(session, window, metric.code)
        if (
            kind in ("count_agg", "sum_agg")
            and not filters
            and not group_keys
            and not window.through
            and not rehearsed
        ):
            return self._from_hours(session, window, metric, history)
        params = Params()
        events = window_events(
            params, window, metric, filters, group_keys,
            since=None if history else window.start, rehearsed=rehearsed,
        )  # fmt: skip
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
            rows = self._weighted_sum(window, metric, filters, group_keys, rehearsed)
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
            # ifNull: argMax skips NULL arguments, and an add usually has no operation.
            f" (SELECT {keys}, value, argMax(ifNull(operation, ''), (ts, id)) AS operation"
            f" FROM {events}"
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
        rehearsed: Sequence[dict[str, Any]],
    ) -> list[Any]:
        """Σ value × (window end − event time) + initial level × window length, over the
        period's length (usage.aggregation._weighted_sum)."""
        end = window.end + timedelta(seconds=1)
        params = Params()
        events = window_events(
            params, window, metric, filters, group_keys, since=window.start, rehearsed=rehearsed
        )
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
                before_params, window, metric, filters, group_keys, since=None,
                before=window.start, rehearsed=rehearsed,
            )  # fmt: skip
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
            rehearsed=_rehearsed(session, window, metric.code),
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
        events = window_events(
            params, window, metric, filters, group_keys, since=window.start,
            rehearsed=_rehearsed(session, window, metric.code),
        )  # fmt: skip
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
        events = window_events(
            params, window, metric, filters, group_keys, since=None,
            rehearsed=_rehearsed(session, window, metric.code),
        )  # fmt: skip
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
        events = window_events(
            params, window, metric, filters, group_keys, since=window.start,
            rehearsed=_rehearsed(session, window, metric.code),
        )  # fmt: skip
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
            events = window_events(
                params, window, plain, (), (), since=window.start,
                rehearsed=_rehearsed(session, window, metric.code),
            )  # fmt: skip
            zone = params.bind(timezone, "String")
            figure = "toString(ifNull(sum(number), 0))" if summed else "toString(count())"
            rows = self._query(
                f"SELECT toString(toDate(ts, {zone})) AS day, {figure} FROM {events} GROUP BY day",
                params,
            )
            result[metric.code] = {date.fromisoformat(day): Decimal(value) for day, value in rows}
        return result

    # Pay-in-advance charges and fee estimates.

    def pending_in_advance(
        self, session: Session, limit: int, scope: Scope | None, failed: set[int]
    ) -> list[tuple[Event, Subscription, Charge]]:
        """The relational store's `sql_pending`, its join split in two: the pay-in-advance
        charges of active subscriptions (relational), then their events (here).

        Exact without a watermark: a charge whose fees (counted on their unique key)
        are as many as its subscription's events of its code since the start has none
        pending (fees are made only for those events, one each), so each tick costs one
        count per 500 charges here and one relational count; only a charge that differs
        is scanned, its events in (timestamp, id) order less the transaction ids that
        have its fee. A cursor on arrival would skip an event whose ingestion commits
        after a later one's (ids are taken before the commit, by several processes),
        and an outbox written at ingestion would bill only subscriptions and charges
        that existed when the event came, where the relational join bills from the
        subscription's start whatever came first.
        """
        # Imported here: invoicing imports the event store.
        from meterbill.invoices import in_advance

        found: list[tuple[tuple[datetime, int, int], Event, Target]] = []
        targets = in_advance.targets(session, scope)
        for first in range(0, len(targets), TARGETS_PER_QUERY):
            chunk = targets[first : first + TARGETS_PER_QUERY]
            events = self._counts_since_start(chunk)
            priced = in_advance.priced_counts(session, chunk)
            behind = [
                target
                for target in chunk
                if events.get(_target_key(target), 0)
                != priced.get((target.subscription_id, target.charge_id), 0)
            ]
            if behind:
                found.extend(self._unpriced(session, behind, limit, failed))
        found.sort(key=lambda item: item[0])
        return in_advance.with_records(
            session, [(event, target) for _, event, target in found[:limit]]
        )

    def _target_params(self, targets: Sequence[Target]) -> tuple[Params, str]:
        """The targets' events from their subscription's start, as a condition."""
        starts: dict[tuple[str, str, str], str] = {}
        for target in targets:
            starts.setdefault(_target_key(target), instant(target.started_at))
        params = Params()
        bound = params.bind(list(starts), TARGET_KEYS)
        started = params.bind(list(starts.values()), f"Array({INSTANT})")
        where = (
            f"(organization_id, external_subscription_id, code) IN {bound} AND timestamp >="
            f" arrayElement({started}, indexOf({bound},"
            " (organization_id, external_subscription_id, code)))"
        )
        return params, where

    def _counts_since_start(self, targets: Sequence[Target]) -> dict[tuple[str, str, str], int]:
        params, where = self._target_params(targets)
        rows = self._query(
            "SELECT toString(organization_id), external_subscription_id, code, count()"
            f" FROM events WHERE {where} GROUP BY organization_id, external_subscription_id, code",
            params,
        )
        return {(row[0], row[1], row[2]): int(row[3]) for row in rows}

    def _unpriced(
        self, session: Session, targets: Sequence[Target], limit: int, failed: set[int]
    ) -> list[tuple[tuple[datetime, int, int], Event, Target]]:
        """The targets' first `limit` events without their fee, (timestamp, id) order:
        the keys scanned a page at a time, then the events chosen read whole."""
        from meterbill.invoices import in_advance

        priced = in_advance.priced_transactions(session, targets)
        charges: dict[tuple[str, str, str], list[Target]] = {}
        for target in targets:
            charges.setdefault(_target_key(target), []).append(target)
        chosen: list[tuple[int, Target]] = []
        after: tuple[str, int] | None = None
        while len(chosen) < limit:
            params, where = self._target_params(targets)
            if after is not None:
                where += (
                    f" AND (timestamp, id) > ({params.bind(after[0], INSTANT)},"
                    f" {params.bind(after[1], 'UInt64')})"
                )
            rows = self._query(
                "SELECT toString(organization_id), external_subscription_id, code,"
                f" toString(timestamp), id, transaction_id FROM events WHERE {where}"
                f" ORDER BY timestamp, id LIMIT {SCAN_PAGE}",
                params,
            )
            for organization, subscription, code, _stamp, event_id, transaction in rows:
                if int(event_id) in failed:
                    continue
                for target in charges.get((organization, subscription, code), ()):
                    if transaction not in priced[(target.subscription_id, target.charge_id)]:
                        chosen.append((int(event_id), target))
            if len(rows) < SCAN_PAGE:
                break
            after = (rows[-1][3], int(rows[-1][4]))
        chosen = chosen[:limit]
        if not chosen:
            return []
        params, where = self._target_params(targets)
        ids = params.bind(sorted({event_id for event_id, _target in chosen}), "Array(UInt64)")
        events = {
            int(row[4]): _event(row)
            for row in self._query(
                f"SELECT {EVENT_FIELDS} FROM events WHERE {where} AND id IN {ids}", params
            )
        }
        return [
            ((events[event_id].timestamp, event_id, target.position), events[event_id], target)
            for event_id, target in chosen
        ]

    def rehearsed_event(
        self, session: Session, organization_id: uuid.UUID, event: EventInput, now: datetime
    ) -> Event:
        """Not inserted (a row written to ClickHouse cannot be rolled back): the session
        keeps it and its aggregations read it beside the stored events, after every
        stored event of its instant."""
        number = REHEARSAL_ID
        [lago_id] = random_uuids(1)
        columns, _keys = ingestion.rows(
            [NewEvent(organization_id, event, now)], [lago_id], [number]
        )
        row = {name: values[0] for name, values in columns.items()}
        session.info.setdefault(REHEARSED, []).append(row)
        return Event(
            id=number,
            lago_id=uuid.UUID(lago_id),
            organization_id=organization_id,
            transaction_id=event.transaction_id,
            external_subscription_id=event.external_subscription_id,
            code=event.code,
            timestamp=event.timestamp,
            properties=event.properties,
            precise_total_amount_cents=event.precise_total_amount_cents,
            created_at=now,
        )

    # By the time events were received: the events page and the events.errors report.
    # Ids grow with arrival, as created_at does: the minmax indexes on both (migration
    # 0002) skip the granules of other times.

    def _by_id(self, fields: str, organization_id: uuid.UUID, event_id: int) -> list[Any]:
        rows = self._query(
            f"SELECT {fields} FROM events WHERE organization_id = {{organization:UUID}}"
            " AND id = {id:UInt64} LIMIT 1",
            {"organization": str(organization_id), "id": event_id},
        )
        return rows[0] if rows else []

    def event_by_id(self, session: Session, organization_id: uuid.UUID, event_id: int) -> Event:
        row = self._by_id(EVENT_FIELDS, organization_id, event_id)
        if not row:
            raise NotFound("event")
        return _event(row)

    def event_log_cursor(
        self, session: Session, organization_id: uuid.UUID, event_id: int
    ) -> tuple[datetime, int] | None:
        row = self._by_id("toString(created_at), id", organization_id, event_id)
        return (_moment(row[0]), int(row[1])) if row else None

    def event_log_page(
        self,
        session: Session,
        organization_id: uuid.UUID,
        filters: EventLogFilters,
        cursor: tuple[datetime, int] | None,
        *,
        ascending: bool,
        limit: int,
    ) -> tuple[list[Event], bool]:
        params = Params()
        conditions = [f"organization_id = {params.bind(str(organization_id), 'UUID')}"]
        subscriptions = filters.external_subscription_ids
        # As on the relational store (PostgreSQL compares no text with a NUL).
        if any("\x00" in value for value in (filters.code or "", *(subscriptions or ()))):
            return [], False
        if subscriptions is not None:
            if not subscriptions:
                return [], False
            bound = params.bind(list(dict.fromkeys(subscriptions)), "Array(String)")
            conditions.append(f"external_subscription_id IN {bound}")
        if filters.code:
            conditions.append(f"code = {params.bind(filters.code, 'String')}")
        if filters.timestamp_from is not None:
            conditions.append(
                f"timestamp >= {params.bind(instant(filters.timestamp_from), INSTANT)}"
            )
        if filters.timestamp_before is not None:
            before = params.bind(instant(filters.timestamp_before), INSTANT)
            conditions.append(f"timestamp < {before}")
        if cursor is not None:
            # Not a tuple comparison: a bound on created_at alone narrows the key's range.
            at = params.bind(instant(cursor[0]), INSTANT)
            last = params.bind(cursor[1], "UInt64")
            side = ">" if ascending else "<"
            conditions.append(
                f"created_at {side}= {at} AND (created_at {side} {at} OR id {side} {last})"
            )
        where = " AND ".join(conditions)
        order = "created_at, id" if ascending else "created_at DESC, id DESC"
        # The page's ids first (two narrow columns), then only those rows in full; one
        # more than shown tells whether another page follows.
        count = int(limit) + 1
        rows = self._query(
            f"SELECT {EVENT_FIELDS} FROM events WHERE {where} AND id IN"
            f" (SELECT id FROM events WHERE {where} ORDER BY {order} LIMIT {count})"
            f" ORDER BY {order} LIMIT {count}",
            params,
        )
        return [_event(row) for row in rows[:limit]], len(rows) > limit

    def property_reader(self, session: Session) -> Callable[[Any], Decimal | None]:
        return _property_number

    def _received(
        self, params: Params, organization_id: uuid.UUID, since: datetime, until: datetime
    ) -> str:
        return (
            f"organization_id = {params.bind(str(organization_id), 'UUID')}"
            f" AND created_at >= {params.bind(instant(since), INSTANT)}"
            f" AND created_at < {params.bind(instant(until), INSTANT)}"
        )

    def received_any(
        self, session: Session, organization_id: uuid.UUID, since: datetime, until: datetime
    ) -> bool:
        params = Params()
        where = self._received(params, organization_id, since, until)
        return bool(self._query(f"SELECT 1 FROM events WHERE {where} LIMIT 1", params))

    def received_codes(
        self, session: Session, organization_id: uuid.UUID, since: datetime, until: datetime
    ) -> set[str]:
        params = Params()
        where = self._received(params, organization_id, since, until)
        return {row[0] for row in self._query(f"SELECT DISTINCT code FROM events WHERE {where}",
                                              params)}  # fmt: skip

    def received_transaction_ids(
        self,
        session: Session,
        organization_id: uuid.UUID,
        since: datetime,
        until: datetime,
        checks: Sequence[ReceivedCheck],
    ) -> list[str]:
        if not checks:
            return []
        params = Params()
        where = self._received(params, organization_id, since, until)
        matched = " OR ".join(_received_check(params, check) for check in checks)
        rows = self._query(
            f"SELECT transaction_id FROM events WHERE {where} AND ({matched})"
            " GROUP BY transaction_id ORDER BY min(id)",
            params,
        )
        return [row[0] for row in rows]

    # A billing batch's usage: one query per metric for many subscriptions.

    def aggregate_many(
        self, session: Session, windows: Sequence[Window], metric: MetricSpec,
        filters: Sequence[FilterSpec], group_keys: Sequence[str],
    ) -> dict[Window, dict[BucketKey, BucketUsage]]:  # fmt: skip
        """Count, sum, max and latest read for many windows in one query each (hourly
        sums and edges for an unfiltered count or sum, as `aggregate`); unique counts,
        weighted sums and windows that stop at an event are read one by one."""
        kind = metric.aggregation_type
        result: dict[Window, dict[BucketKey, BucketUsage]] = {}
        together: list[Window] = []
        for window in dict.fromkeys(windows):
            if kind not in BATCHED or window.through is not None:
                result[window] = self.aggregate(session, window, metric, filters, group_keys)
            else:
                together.append(window)
        hourly = kind in ("count_agg", "sum_agg") and not filters and not group_keys
        for layer in _layers(together):
            if hourly:
                result.update(self._hours_many(layer, metric))
            else:
                result.update(self._scan_many(layer, metric, filters, group_keys))
        return result

    def _scan_many(
        self, windows: list[Window], metric: MetricSpec,
        filters: Sequence[FilterSpec], group_keys: Sequence[str],
    ) -> dict[Window, dict[BucketKey, BucketUsage]]:  # fmt: skip
        """`aggregate`'s scan of the events, for windows of distinct subscriptions."""
        kind = metric.aggregation_type
        history = metric.recurring and kind == "sum_agg"
        params = Params()
        events = batch_events(
            params, str(windows[0].organization_id),
            [window.external_subscription_id for window in windows], metric, filters,
            group_keys, low=None if history else min(window.start for window in windows),
            high=max(window.end for window in windows) + timedelta(seconds=1),
        )  # fmt: skip
        ends = params.bind([micros(w.end + timedelta(seconds=1)) for w in windows], "Array(Int64)")
        within = [f"toUnixTimestamp64Micro(ts) < {ends}[w]"]
        if not history:
            starts = params.bind([micros(window.start) for window in windows], "Array(Int64)")
            within.append(f"toUnixTimestamp64Micro(ts) >= {starts}[w]")
        keys = ", ".join(keys_of(group_keys))
        # Every row of a window is in it (a recurring sum counts its whole history), so
        # `aggregate`'s counted is count() for each kind read here.
        figure = {
            "count_agg": "toString(count())",
            "sum_agg": "toString(sum(number))",
            "max_agg": "toString(max(number))",
            "latest_agg": "argMaxIf(value, (ts, id), number IS NOT NULL)",
        }[kind]
        rows = self._query(
            f"SELECT w, {keys}, {figure}, count() FROM {events}"
            f" WHERE {' AND '.join(within)} GROUP BY w, {keys}",
            params,
        )
        result: dict[Window, dict[BucketKey, BucketUsage]] = {window: {} for window in windows}
        for row in rows:
            position, *key_values, units, count = row
            units = Decimal(str(units)) if units not in (None, "") else Decimal(0)
            if kind == "latest_agg" and units < 0:
                units = Decimal(0)
            result[windows[int(position) - 1]][_bucket_key(key_values)] = BucketUsage(
                units=apply_rounding(units, metric), events_count=int(count or 0)
            )
        return result

    def _hours_many(
        self, windows: list[Window], metric: MetricSpec
    ) -> dict[Window, dict[BucketKey, BucketUsage]]:
        """`_from_hours` for windows of distinct subscriptions: whole hours from the hourly
        sums, the partial hours at both ends scanned, in one query."""
        kind = metric.aggregation_type
        history = metric.recurring and kind == "sum_agg"
        field = metric.field_name if kind == "sum_agg" else None
        spans = [_hour_spans(window, None if history else window.start) for window in windows]
        params = Params()
        listed = params.bind([window.external_subscription_id for window in windows],
                             "Array(String)")  # fmt: skip
        positions = params.bind(list(range(1, len(windows) + 1)), "Array(UInt64)")
        position = f"transform(external_subscription_id, {listed}, {positions}, toUInt64(0))"
        scope = (
            f"organization_id = {params.bind(str(windows[0].organization_id), 'UUID')}"
            f" AND external_subscription_id IN {listed}"
            f" AND code = {params.bind(metric.code, 'String')}"
        )
        bound_field = params.bind(field or "", "String")
        parts = []
        hours = [span.hours for span in spans if span.hours is not None]
        if hours:
            lows = [low for low, _high in hours]
            low = (
                ""
                if any(item is None for item in lows)
                else f" AND hour >= toDateTime({params.bind(instant(min(lows)), INSTANT)}, 'UTC')"  # type: ignore[type-var]
            )
            high = max(high for _low, high in hours)
            starts = params.bind(
                [-1 if span.hours is None or span.hours[0] is None
                 else int(span.hours[0].timestamp()) for span in spans], "Array(Int64)",
            )  # fmt: skip
            stops = params.bind(
                [0 if span.hours is None else int(span.hours[1].timestamp()) for span in spans],
                "Array(Int64)",
            )
            parts.append(
                "SELECT w, toUInt64(sumIf(events_count, property = '')) AS c,"
                f" toDecimal256(sumIf(total, property = {bound_field} AND {bound_field} != ''),"
                " 30) AS t FROM (SELECT events_count, total, property, hour,"
                f" {position} AS w FROM event_hours"
                f" WHERE {scope} AND property IN ('', {bound_field}){low}"
                f" AND hour < toDateTime({params.bind(instant(high), INSTANT)}, 'UTC'))"
                f" WHERE toInt64(toUnixTimestamp(hour)) >= {starts}[w]"
                f" AND toInt64(toUnixTimestamp(hour)) < {stops}[w] GROUP BY w"
            )
        edges = [edge for span in spans for edge in span.edges]
        if edges:
            field_value = (
                number(prop(params, field)) if field else "CAST(NULL, 'Nullable(Decimal(76, 30))')"
            )
            conditions = []
            for index in range(2):
                lows = params.bind(
                    [micros(span.edges[index][0]) if len(span.edges) > index else 0
                     for span in spans], "Array(Int64)",
                )  # fmt: skip
                highs = params.bind(
                    [micros(span.edges[index][1]) if len(span.edges) > index else 0
                     for span in spans], "Array(Int64)",
                )  # fmt: skip
                conditions.append(f"(m >= {lows}[w] AND m < {highs}[w])")
            parts.append(
                "SELECT w, toUInt64(count()) AS c,"
                f" toDecimal256(ifNull(sum(value), 0), 30) AS t FROM (SELECT"
                f" toUnixTimestamp64Micro(timestamp) AS m, {field_value} AS value,"
                f" {position} AS w FROM events WHERE {scope}"
                f" AND timestamp >= {params.bind(instant(min(low for low, _ in edges)), INSTANT)}"
                f" AND timestamp < {params.bind(instant(max(high for _, high in edges)), INSTANT)})"
                f" WHERE {' OR '.join(conditions)} GROUP BY w"
            )
        totals: dict[int, tuple[int, Decimal]] = {}
        if parts:
            sql = " UNION ALL ".join(f"({part})" for part in parts)
            for position, count, total in self._query(
                f"SELECT w, sum(c), toString(sum(t)) FROM ({sql}) GROUP BY w", params
            ):
                totals[int(position)] = (int(count or 0), Decimal(str(total or 0)))
        result: dict[Window, dict[BucketKey, BucketUsage]] = {}
        for position, window in enumerate(windows, start=1):
            count, total = totals.get(position, (0, Decimal(0)))
            if count == 0 and not history:
                result[window] = {}
                continue
            units = Decimal(count) if kind == "count_agg" else total
            result[window] = {
                (None, ()): BucketUsage(units=apply_rounding(units, metric), events_count=count)
            }
        return result


def _target_key(target: Target) -> tuple[str, str, str]:
    return str(target.organization_id), target.external_id, target.code


def _received_check(params: Params, check: ReceivedCheck) -> str:
    """A check of events.validation as a condition (props hold no null value)."""
    if isinstance(check, CodeIn):
        return f"code IN {params.bind(list(check.codes), 'Array(String)')}"
    code = f"code = {params.bind(check.code, 'String')}"
    key = params.bind(check.key, "String")
    if isinstance(check, PropertyMissing):
        wrong = f"NOT mapContains(props, {key})"
        if check.numeric:
            wrong += f" OR NOT match(props[{key}], {NUMBER})"
        return f"({code} AND ({wrong}))"
    accepted = params.bind(list(check.values), "Array(String)")
    return f"({code} AND mapContains(props, {key}) AND NOT has({accepted}, props[{key}]))"


def _property_number(value: Any) -> Decimal | None:
    """As the number() expression reads the text ingestion stores (prop_text)."""
    text = prop_text(value)
    return Decimal(text) if text is not None and NUMBER_TEXT.fullmatch(text) else None


# What `aggregate_many` reads for many windows in one query.
BATCHED = ("count_agg", "sum_agg", "max_agg", "latest_agg")
# Subscriptions a query lists at most.
LAYER = 1_000


@dataclass(frozen=True)
class _Spans:
    """A window as `_range_totals` reads it: whole hours [low, high) from the hourly sums
    (low None: from the first; None: no hours) and the instants scanned at the edges."""

    hours: tuple[datetime | None, datetime] | None
    edges: list[tuple[datetime, datetime]]


def _hour_spans(window: Window, start: datetime | None) -> _Spans:
    stop = window.end + timedelta(seconds=1)
    first_full = None if start is None else hour_of(start + HOUR - timedelta(microseconds=1))
    last_full = hour_of(stop)
    if start is not None and first_full is not None and first_full > last_full:
        return _Spans(None, [(start, stop)])
    edges = []
    if start is not None and first_full is not None and start < first_full:
        edges.append((start, first_full))
    if last_full < stop:
        edges.append((last_full, stop))
    return _Spans((first_full, last_full), edges)


def _layers(windows: list[Window]) -> list[list[Window]]:
    """The windows in groups of one organization in which no subscription comes twice
    (a batch may bill a subscription for two periods), at most LAYER each."""
    layers: list[list[Window]] = []
    taken: list[set[tuple[uuid.UUID, str]]] = []
    for window in windows:
        key = (window.organization_id, window.external_subscription_id)
        for index, layer in enumerate(layers):
            if (
                layer[0].organization_id == window.organization_id
                and key not in taken[index]
                and len(layer) < LAYER
            ):
                layer.append(window)
                taken[index].add(key)
                break
        else:
            layers.append([window])
            taken.append({key})
    return layers
