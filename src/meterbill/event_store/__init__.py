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
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from meterbill.core.db import Database
    from meterbill.core.pagination import Page, PageRequest
    from meterbill.events.listing import EventLogFilters
    from meterbill.events.models import Event
    from meterbill.events.schemas import EventInput
    from meterbill.events.service import EventFilters, NewEvent, StoredEvent
    from meterbill.events.validation import ReceivedCheck
    from meterbill.invoices.scope import Scope
    from meterbill.plans.models import Charge
    from meterbill.settings import Settings
    from meterbill.subscriptions.models import Subscription
    from meterbill.usage.aggregation import (
        BucketKey,
        BucketUsage,
        FilterSpec,
        MetricSpec,
        Window,
    )


class EventStore(Protocol):
    """Ingestion, lookups and every aggregation the usage and invoicing paths read."""

    # The most events the group commit inserts in one transaction.
    group_events: int

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

    # Pay-in-advance charges and fee estimates.

    def pending_in_advance(
        self, session: Session, limit: int, scope: Scope | None, failed: set[int]
    ) -> list[tuple[Event, Subscription, Charge]]:
        """Up to `limit` events on a pay-in-advance charge of their active subscription
        (from its start) without that charge's fee, nor an id in `failed`, in (timestamp,
        id, charge position) order: what invoices.in_advance prices next."""
        ...

    def rehearsed_event(
        self, session: Session, organization_id: uuid.UUID, event: EventInput, now: datetime
    ) -> Event:
        """The event as if received `now`, seen by this session's aggregations until its
        transaction ends, never written anywhere durable (an estimate's rehearsal)."""

    # By the time events were received: the dashboard's events page (events.listing,
    # newest received first, by (created_at, id)) and the hourly events.errors report
    # (events.validation, over [since, until) of created_at).

    def event_by_id(self, session: Session, organization_id: uuid.UUID, event_id: int) -> Event:
        """The organization's event with this id; NotFound otherwise."""
        ...

    def event_log_cursor(
        self, session: Session, organization_id: uuid.UUID, event_id: int
    ) -> tuple[datetime, int] | None:
        """(created_at, id) of the organization's event with this id, if any."""
        ...

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
        """The first `limit` matching events after (ascending) or before the cursor, in
        (created_at, id) order, ascending or descending; and whether more match."""
        ...

    def property_reader(self, session: Session) -> Callable[[Any], Decimal | None]:
        """Reads the number this store's aggregation reads from a property's value, or
        None (asked once for a page of events)."""
        ...

    def received_any(
        self, session: Session, organization_id: uuid.UUID, since: datetime, until: datetime
    ) -> bool: ...

    def received_codes(
        self, session: Session, organization_id: uuid.UUID, since: datetime, until: datetime
    ) -> set[str]: ...

    def received_transaction_ids(
        self,
        session: Session,
        organization_id: uuid.UUID,
        since: datetime,
        until: datetime,
        checks: Sequence[ReceivedCheck],
    ) -> list[str]:
        """The transaction ids of the events received then that match any check, each
        once, in the order first received."""

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
    return store_of(_engine(session))


def store_of(engine: Engine) -> EventStore:
    """The store of `engine`'s sessions; the relational one unless configured."""
    if _stores:
        store = _stores.get(engine)
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

    # Said at every start, so that an operator reading the logs knows where usage comes
    # from (the URL without its password).
    logging.getLogger("meterbill.event_store").info(
        "events are in ClickHouse (%s)", _without_password(settings.events_url)
    )
    use(db.engine, open_store(settings.events_url))


def _without_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


__all__ = ["EventStore", "configure", "store_for", "use"]
