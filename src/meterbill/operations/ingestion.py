"""Counting what the ingestion routes store and refuse, by reason, in events.

A decorator on the two ingestion routes (one line each in events/api.py), so that the
counting stays out of the ingestion code whichever store is behind it. A batch is all or
nothing: a refused batch counts all its events under the reason it was refused for.
Requests refused before the route runs (no API key, a body that is not JSON or too large)
are in the HTTP request metrics by status.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from meterbill.core.errors import BadRequest, ValidationFailed
from meterbill.operations.telemetry import EVENTS_INGESTED, EVENTS_REFUSED

P = ParamSpec("P")
R = TypeVar("R")


def _events_in(body: Any) -> int:
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        return len(body["events"])
    return 1


def reason(error: Exception) -> str:
    if isinstance(error, ValidationFailed):
        return "duplicate" if "value_already_exist" in repr(error.details) else "invalid"
    if isinstance(error, BadRequest):
        return "malformed"
    return "error"


def counted(route: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(route)
    async def counting(*args: P.args, **kwargs: P.kwargs) -> R:
        events = _events_in(kwargs.get("body"))
        try:
            response = await route(*args, **kwargs)
        except Exception as error:
            EVENTS_REFUSED.labels(reason(error)).inc(events)
            raise
        EVENTS_INGESTED.inc(events)
        return response

    return counting
