"""The HTTP POST of a delivery, on kept-alive connections (one per thread and host).

The standard library's http.client costs a fraction of a full-featured client per
request, and delivery is one POST with a body and a handful of headers, never a redirect
(Lago follows none), a cookie or a proxy.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

# What a kept-alive connection the receiver has closed raises on its next use.
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True)
class Answer:
    status: int
    text: str


class Sender:
    def __init__(self) -> None:
        self._local = threading.local()
        self._tls = ssl.create_default_context()
        self._lock = threading.Lock()
        self._all: list[http.client.HTTPConnection] = []

    def _connections(self) -> dict[tuple[str, str, int], http.client.HTTPConnection]:
        found: dict[tuple[str, str, int], http.client.HTTPConnection] | None = getattr(
            self._local, "connections", None
        )
        if found is None:
            found = self._local.connections = {}
        return found

    def post(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float, excerpt: int
    ) -> Answer:
        """POST `body`; any transport error (refused, timeout, TLS, DNS) raises."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, host, port)
        connections = self._connections()
        kept = connections.pop(key, None)
        try:
            return self._post(connections, key, kept, target, body, headers, timeout, excerpt)
        except STALE:
            if kept is None:
                raise
        # The receiver closed the kept-alive connection meanwhile: once more, on a new one.
        return self._post(connections, key, None, target, body, headers, timeout, excerpt)

    def _post(
        self,
        connections: dict[tuple[str, str, int], http.client.HTTPConnection],
        key: tuple[str, str, int],
        connection: http.client.HTTPConnection | None,
        target: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        excerpt: int,
    ) -> Answer:
        scheme, host, port = key
        if connection is None:
            connection = (
                http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
                if scheme == "https"
                else http.client.HTTPConnection(host, port, timeout=timeout)
            )
            with self._lock:
                self._all.append(connection)
        try:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except Exception:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            connections[key] = connection
        return Answer(response.status, raw[: excerpt * 4].decode("utf-8", "replace")[:excerpt])

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            connection.close()
