"""Checks every request passes before any route sees it.

What no route can store or look up is refused here, once, with Lago's envelopes:
a body larger than the configured limit (413, before it is read into memory), and
a NUL byte in the path (404: no record can be named by it) or in the query string
(400). NUL bytes inside JSON bodies are dealt with where the body is parsed
(`core.http.json_body`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterbill.core.errors import PayloadTooLarge

NOT_FOUND = {"status": 404, "error": "Not Found", "code": "resource_not_found"}


def _bad_request(message: str) -> dict[str, object]:
    return {"status": 400, "error": f"BadRequest: {message}"}


# After a body this large, freed memory is handed back to the system (see below).
LARGE_BODY_BYTES = 256 * 1024


def _malloc_trim() -> Callable[[], None]:
    """glibc keeps what a thread freed in that thread's arena; malloc_trim returns it.

    Without it a storm of megabyte bodies left the process ~20 MiB larger for good
    (bench/large_requests.py); elsewhere than glibc only the collection runs.
    """
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None

    def release() -> None:
        # A refused body is still referenced from its exception's frames, a cycle
        # that app.py's raised gc thresholds would leave for a long while.
        gc.collect(1)
        if trim is not None:
            trim(0)

    return release


release_memory = _malloc_trim()


class RequestGuards:
    """ASGI middleware: body size limit and NUL bytes in the path or query string."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            await _answer(send, 404, NOT_FOUND)
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query and b"\x00" in unquote_to_bytes(query):
            await _answer(send, 400, _bad_request("a query parameter contains a NUL byte"))
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _answer(send, 413, PayloadTooLarge().body())
            return
        body = _CountedBody(receive, self.max_body_bytes)
        await self.app(scope, body.receive, send)
        if body.seen >= LARGE_BODY_BYTES:
            release_memory()


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class _CountedBody:
    """`receive` that counts the body and stops one (chunked, or lying about its
    length) past the limit."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self.seen = 0

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self._limit:
                # Raised inside the route's body read: the error handlers answer 413.
                raise PayloadTooLarge
        return message


async def _answer(send: Send, status: int, body: dict[str, object]) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
