"""Usage read ahead for a billing batch: the aggregations its charges will ask for, read
with one store call per metric, filters and grouping keys (`EventStore.aggregate_many`),
then handed out by `aggregation.aggregate` instead of one query per charge and subscription.

Kept in the session for the batch only (`reading_ahead`): the batch's transaction sees
the same events from the read ahead to the last fee. A request that was not read ahead
(another window, a prorated charge's daily sums, a percentage charge's event values...)
goes to the store as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from meterbill.usage.aggregation import (
        BucketKey,
        BucketUsage,
        FilterSpec,
        MetricSpec,
        Window,
    )

READ_AHEAD_KEY = "meterbill.usage_read_ahead"

Key = tuple[Any, ...]
Request = tuple["Window", "MetricSpec", Sequence["FilterSpec"], Sequence[str]]


def key_of(
    window: Window, metric: MetricSpec, filters: Sequence[FilterSpec], group_keys: Sequence[str]
) -> Key:
    """What makes two aggregations the same: FilterSpec holds dicts, so spelled out."""
    spelled = tuple(
        (spec.id, spec.position, tuple((key, tuple(items)) for key, items in spec.values.items()))
        for spec in filters
    )
    return window, metric, spelled, tuple(group_keys)


@contextmanager
def reading_ahead(session: Session) -> Iterator[None]:
    """While the block runs, aggregations read ahead in it are answered from memory."""
    session.info[READ_AHEAD_KEY] = {}
    try:
        yield
    finally:
        session.info.pop(READ_AHEAD_KEY, None)


def read_ahead(session: Session, requests: Sequence[Request]) -> None:
    """Read `requests` now, one store call per (metric, filters, grouping keys); nothing
    outside `reading_ahead`."""
    from meterbill.event_store import store_for

    cache: dict[Key, dict[BucketKey, BucketUsage]] | None = session.info.get(READ_AHEAD_KEY)
    if cache is None:
        return
    together: dict[Key, tuple[Request, dict[Window, None]]] = {}
    for request in requests:
        window, metric, filters, group_keys = request
        if key_of(window, metric, filters, group_keys) in cache:
            continue
        shape = key_of(window, metric, filters, group_keys)[1:]
        _first, windows = together.setdefault(shape, (request, {}))
        windows[window] = None
    store = store_for(session)
    for (_window, metric, filters, group_keys), windows in together.values():
        found = store.aggregate_many(session, list(windows), metric, filters, group_keys)
        for window in windows:
            cache[key_of(window, metric, filters, group_keys)] = found[window]


def remembered(
    session: Session,
    window: Window,
    metric: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
) -> dict[BucketKey, BucketUsage] | None:
    """The aggregation read ahead, None when it was not."""
    cache: dict[Key, dict[BucketKey, BucketUsage]] | None = session.info.get(READ_AHEAD_KEY)
    if not cache:
        return None
    found = cache.get(key_of(window, metric, filters, group_keys))
    # A copy: the caller adds the empty buckets to what it gets.
    return None if found is None else dict(found)
