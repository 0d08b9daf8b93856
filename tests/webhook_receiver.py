"""A real HTTP receiver on a local port for webhook tests: it records every request
(headers and raw body) and answers with the statuses it is told to, in order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import orjson


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def unique_key(self) -> str:
        return self.headers["x-lago-unique-key"]


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Statuses to answer, in order, then 200 for ever.
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set at each request's arrival; while `hold` is given and not set, answers wait.
    arrived: threading.Event = field(default_factory=threading.Event)
    hold: threading.Event | None = None

    def payloads(self) -> list[Any]:
        return [item.json for item in self.received]

    def types(self) -> list[str]:
        return [item.json["webhook_type"] for item in self.received]


def verify(item: Received, *, public_pem: bytes, hmac_key: str | None = None) -> bool:
    """Lago's receiver-side checks, over the raw body."""
    algo, signature = item.headers["x-lago-signature-algorithm"], item.headers["x-lago-signature"]
    if algo == "hmac":
        assert hmac_key is not None
        mac = hmac.new(hmac_key.encode(), item.body, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(mac).decode(), signature)
    claims = jwt.decode(signature, public_pem, algorithms=["RS256"], issuer="http://localhost:3000")
    return bool(claims["data"] == item.body.decode())


@contextmanager
def running_receiver(port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = receiver.answers.pop(0) if receiver.answers else 200
            receiver.arrived.set()
            if receiver.hold is not None:
                receiver.hold.wait(timeout=120)
            answer = b'{"ok": true}' if status < 300 else b"receiver says no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def delivery_log(http: httpx.Client, **params: str) -> list[dict[str, Any]]:
    """The deliveries (`GET /webhooks`, filtered by `params`) in the order they were
    written."""
    found = ok(http.get("/webhooks", params={"per_page": "100", **params}))["webhooks"]
    return list(reversed(found))
