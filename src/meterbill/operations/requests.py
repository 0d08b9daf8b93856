"""Every HTTP request: an id (returned as X-Request-Id), its metrics, one access log line."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterbill.operations import telemetry
from meterbill.operations.logs import REQUEST_ID, request_id_from

access_logger = logging.getLogger("meterbill.access")
HEADER = b"x-request-id"
# A label's values must be bounded: any other verb is counted as "other".
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The matched route's template (`/api/v1/customers/{external_id}`), never the path
    itself; "unmatched" when no route took the request (a 404)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled children, kept: looking them up costs twice what counting does."""
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        labels = (method, route, str(status))
        series = (telemetry.HTTP_REQUESTS.labels(*labels), telemetry.HTTP_LATENCY.labels(*labels))
        _SERIES[key] = series
    return series


class RequestTelemetry:
    """The outermost middleware, so that it sees every answer, refusals and 500s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == HEADER:
                incoming = value.decode("latin-1")
                break
        request_id = request_id_from(incoming)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = route_template(scope)
            count, latency = _series(method, route, status)
            count.inc()
            latency.observe(elapsed)
            if access_logger.isEnabledFor(logging.INFO):
                access_logger.info(
                    "%s %s %d %.1f ms",
                    scope["method"],
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={"method": scope["method"], "route": route, "path": scope["path"],
                           "status": status, "duration_ms": round(elapsed * 1000, 3)},
                )  # fmt: skip
            REQUEST_ID.reset(token)
