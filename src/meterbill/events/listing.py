"""The latest events received, a page at a time, for the dashboard's events page.

Newest received first (`created_at`, then `id`), paged by a cursor (the id of the last
event shown) rather than an offset, and no count is taken. The session's event store
reads the pages (event_store.sql_received on the relational database).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from meterbill.event_store import store_for
from meterbill.events.models import Event

PAGE_SIZE = 50


@dataclass(frozen=True)
class EventLogFilters:
    # None: every subscription; a tuple (possibly empty: nothing matches) restricts them.
    external_subscription_ids: tuple[str, ...] | None = None
    code: str | None = None
    timestamp_from: datetime | None = None
    # Exclusive: the events before this instant.
    timestamp_before: datetime | None = None


@dataclass(frozen=True)
class EventLogPage:
    events: list[Event]
    # Cursors for the neighbouring pages: pass as `before` (older) or `after` (newer).
    older: int | None
    newer: int | None


def latest_events(
    session: Session,
    organization_id: uuid.UUID,
    filters: EventLogFilters,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> EventLogPage:
    """The page of events received just before the event `before` (or just after
    `after`; or the newest), newest first."""
    store = store_for(session)
    cursor_id = after if after is not None else before
    cursor = (
        store.event_log_cursor(session, organization_id, cursor_id)
        if cursor_id is not None
        else None
    )
    newer_side = after is not None and cursor is not None
    events, more = store.event_log_page(
        session, organization_id, filters, cursor, ascending=newer_side, limit=limit
    )
    if newer_side:
        events.reverse()
    if not events:
        return EventLogPage([], None, None)
    # Walking newer, the older page exists (we came from it); walking older, the newer
    # one exists when we started from a cursor.
    older = events[-1].id if (more or newer_side) else None
    newer = events[0].id if cursor is not None and (more or not newer_side) else None
    return EventLogPage(events, older, newer)


def find_event_by_id(session: Session, organization_id: uuid.UUID, event_id: int) -> Event:
    """The organization's event with this id (NotFound otherwise)."""
    return store_for(session).event_by_id(session, organization_id, event_id)
