"""Where events live: one EventStore per database engine, chosen once at start-up.

The relational database (SQLite or PostgreSQL) holds events by default; with
METERBILL_EVENTS_URL=clickhouse://... a ClickHouse store holds them instead, while
customers, plans and subscriptions stay relational. Services keep taking a session:
`store_for(session)` finds the store of the session's engine.
"""

from __future__ import annotations

import logging
import uuid
import weakref
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from meterbill.core.db import Database
    from meterbill.core.pagination import Page, PageRequest
    from meterbill.events.models import Event
    from meterbill.events.service import EventFilters, NewEvent, StoredEvent
    from meterbill.settings import Settings
    from meterbill.usage.aggregation import (
        BucketKey,
        BucketUsage,
        FilterSpec,
        MetricSpec,
        Window,
    )


class EventStore(Protocol):
    """Ingestion, lookups and every aggregation the usage and invoicing paths read."""

    def insert_many(
        self, session: Session, items: Sequence[NewEvent]
    ) -> tuple[list[StoredEvent], set[int]]: ...

    def find_event(
        self, session: Session, organization_id: uuid.UUID, transaction_id: str
    ) -> Event: ...

    def list_events(
        self,
        session: Session,
        organization_id: uuid.UUID,
        filters: EventFilters,
        page: PageRequest,
    ) -> Page[Event]: ...

    def aggregate(
        self,
        session: Session,
        window: Window,
        metric: MetricSpec,
        filters: Sequence[FilterSpec],
        group_keys: Sequence[str],
    ) -> dict[BucketKey, BucketUsage]: ...

    def dynamic_amounts(
        self,
        session: Session,
        window: Window,
        metric: MetricSpec,
        filters: Sequence[FilterSpec],
        group_keys: Sequence[str],
    ) -> dict[BucketKey, Decimal]: ...

    def event_values(
        self,
        session: Session,
        window: Window,
        metric: MetricSpec,
        filters: Sequence[FilterSpec],
        group_keys: Sequence[str],
    ) -> dict[BucketKey, list[Decimal]]: ...

    def unique_value_events(
        self,
        session: Session,
        window: Window,
        metric: MetricSpec,
        timezone: str,
        filters: Sequence[FilterSpec],
        group_keys: Sequence[str],
    ) -> dict[BucketKey, dict[str, list[tuple[date, bool, int]]]]: ...

    def daily_sums(
        self,
        session: Session,
        window: Window,
        metric: MetricSpec,
        timezone: str,
        filters: Sequence[FilterSpec],
        group_keys: Sequence[str],
    ) -> dict[BucketKey, list[tuple[date, Decimal]]]: ...

    def daily_units(
        self, session: Session, window: Window, metrics: Sequence[MetricSpec], timezone: str
    ) -> dict[str, dict[date, Decimal]]: ...

    def aggregate_many(
        self,
        session: Session,
        windows: Sequence[Window],
        metric: MetricSpec,
        filters: Sequence[FilterSpec],
        group_keys: Sequence[str],
    ) -> dict[Window, dict[BucketKey, BucketUsage]]:
        """`aggregate` of each window (a billing batch's subscriptions), every window
        answered, each answer the one `aggregate` gives; in few queries where the store
        can."""
        ...


_stores: weakref.WeakKeyDictionary[Engine, EventStore] = weakref.WeakKeyDictionary()
_default: list[EventStore] = []


def use(engine: Engine, store: EventStore) -> None:
    """Serve the events of sessions bound to `engine` from `store`."""
    _stores[engine] = store


def _engine(session: Session) -> Any:
    # A session may be bound to a connection, or to an engine with options (its
    # write sessions are): both lead back to the engine the store was set for.
    bind: Any = session.get_bind()
    bind = getattr(bind, "engine", bind)
    return getattr(bind, "_proxied", bind)


def store_for(session: Session) -> EventStore:
    """The store of the session's engine; the relational one unless configured."""
    if _stores:
        store = _stores.get(_engine(session))
        if store is not None:
            return store
    if not _default:
        from meterbill.event_store.sql import SqlEventStore

        _default.append(SqlEventStore())
    return _default[0]


def configure(settings: Settings, db: Database) -> None:
    """Once per process, from METERBILL_EVENTS_URL (unset: the relational database)."""
    if not settings.events_url:
        return
    from meterbill.event_store.clickhouse import open_store

    # Said at every start: pay-in-advance fees, fee estimates, the events page and the
    # events.errors report still read the relational table and would see no event.
    logging.getLogger("meterbill.event_store").warning(
        "events are in ClickHouse (experimental): pay-in-advance charges, "
        "POST /events/estimate_fees, the dashboard's events page and the events.errors "
        "report do not read them yet"
    )
    use(db.engine, open_store(settings.events_url))


__all__ = ["EventStore", "configure", "store_for", "use"]
