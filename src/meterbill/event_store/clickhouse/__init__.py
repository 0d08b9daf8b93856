"""Events in ClickHouse (METERBILL_EVENTS_URL=clickhouse://...)."""

from __future__ import annotations

from meterbill.event_store.clickhouse.connection import Connection, connect
from meterbill.event_store.clickhouse.schema import upgrade


def open_store(url: str, connection: Connection | None = None) -> object:
    """The store at `url`, its schema migrated."""
    from meterbill.event_store.clickhouse.store import ClickHouseEventStore

    connection = connection or connect(url)
    upgrade(connection)
    return ClickHouseEventStore(connection)
