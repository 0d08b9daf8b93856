"""The relational event store: today's SQL (SQLite and PostgreSQL) behind the interface."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterbill.event_store import sql_received
from meterbill.events import service as events_service
from meterbill.events.rollups import numeric_value
from meterbill.usage import aggregation


class SqlEventStore:
    """Each method is the relational implementation, called as it was before the store."""

    # One multi-row statement per group: larger groups gain nothing and make the
    # requests of a group wait for one another longer.
    group_events = 2000

    def insert_many(self, session: Session, items: Sequence[Any]) -> Any:
        return events_service.sql_insert_many(session, items)

    def find_event(self, session: Session, organization_id: uuid.UUID, transaction_id: str) -> Any:
        return events_service.sql_find_event(session, organization_id, transaction_id)

    def list_events(
        self, session: Session, organization_id: uuid.UUID, filters: Any, page: Any
    ) -> Any:
        return events_service.sql_list_events(session, organization_id, filters, page)

    def aggregate(
        self, session: Session, window: Any, metric: Any, filters: Any, group_keys: Any
    ) -> Any:
        return aggregation.sql_aggregate(session, window, metric, filters, group_keys)

    def dynamic_amounts(
        self, session: Session, window: Any, metric: Any, filters: Any, group_keys: Any
    ) -> dict[Any, Decimal]:
        return aggregation.sql_dynamic_amounts(session, window, metric, filters, group_keys)

    def event_values(
        self, session: Session, window: Any, metric: Any, filters: Any, group_keys: Any
    ) -> dict[Any, list[Decimal]]:
        return aggregation.sql_event_values(session, window, metric, filters, group_keys)

    def unique_value_events(
        self,
        session: Session,
        window: Any,
        metric: Any,
        timezone: str,
        filters: Any,
        group_keys: Any,
    ) -> Any:
        return aggregation.sql_unique_value_events(
            session, window, metric, timezone, filters, group_keys
        )

    def daily_sums(
        self,
        session: Session,
        window: Any,
        metric: Any,
        timezone: str,
        filters: Any,
        group_keys: Any,
    ) -> dict[Any, list[tuple[date, Decimal]]]:
        return aggregation.sql_daily_sums(session, window, metric, timezone, filters, group_keys)

    def daily_units(self, session: Session, window: Any, metrics: Any, timezone: str) -> Any:
        return aggregation.sql_daily_units(session, window, metrics, timezone)

    def pending_in_advance(self, session: Session, limit: int, scope: Any, failed: set[int]) -> Any:
        from meterbill.invoices import in_advance

        return in_advance.sql_pending(session, limit, scope, failed)

    def rehearsed_event(
        self, session: Session, organization_id: uuid.UUID, event: Any, now: datetime
    ) -> Any:
        from meterbill.usage import estimate

        return estimate.sql_rehearsed_event(session, organization_id, event, now)

    def event_by_id(self, session: Session, organization_id: uuid.UUID, event_id: int) -> Any:
        return sql_received.event_by_id(session, organization_id, event_id)

    def event_log_cursor(
        self, session: Session, organization_id: uuid.UUID, event_id: int
    ) -> tuple[datetime, int] | None:
        return sql_received.cursor_of(session, organization_id, event_id)

    def event_log_page(
        self,
        session: Session,
        organization_id: uuid.UUID,
        filters: Any,
        cursor: tuple[datetime, int] | None,
        *,
        ascending: bool,
        limit: int,
    ) -> tuple[list[Any], bool]:
        return sql_received.page(
            session, organization_id, filters, cursor, ascending=ascending, limit=limit
        )

    def property_reader(self, session: Session) -> Callable[[Any], Decimal | None]:
        postgres = session.get_bind().dialect.name == "postgresql"
        return lambda value: numeric_value(value, postgres)

    def received_any(
        self, session: Session, organization_id: uuid.UUID, since: datetime, until: datetime
    ) -> bool:
        return sql_received.received_any(session, organization_id, since, until)

    def received_codes(
        self, session: Session, organization_id: uuid.UUID, since: datetime, until: datetime
    ) -> set[str]:
        return sql_received.received_codes(session, organization_id, since, until)

    def received_transaction_ids(
        self,
        session: Session,
        organization_id: uuid.UUID,
        since: datetime,
        until: datetime,
        checks: Any,
    ) -> list[str]:
        return sql_received.received_transaction_ids(session, organization_id, since, until, checks)

    def aggregate_many(
        self, session: Session, windows: Any, metric: Any, filters: Any, group_keys: Any
    ) -> Any:
        return aggregation.sql_aggregate_many(session, windows, metric, filters, group_keys)
