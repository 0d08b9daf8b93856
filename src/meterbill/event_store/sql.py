"""The relational event store: today's SQL (SQLite and PostgreSQL) behind the interface."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterbill.events import service as events_service
from meterbill.usage import aggregation


class SqlEventStore:
    """Each method is the relational implementation, called as it was before the store."""

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

    def aggregate_many(
        self, session: Session, windows: Any, metric: Any, filters: Any, group_keys: Any
    ) -> Any:
        return aggregation.sql_aggregate_many(session, windows, metric, filters, group_keys)
