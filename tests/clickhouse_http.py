"""An HTTP adapter, written for tests, that serves the part of ClickHouse's HTTP interface
clickhouse-connect uses in front of chdb (ClickHouse's engine in this process).

It is not a ClickHouse server: no server binary can be installed here, so the store's
production path (HttpConnection, through clickhouse-connect) is tested against the real
engine behind this adapter. What it does, as ClickHouse's HTTP interface does:

- the query from the `query` URL parameter, the body, or both (the body then follows the
  query, which is how INSERT ... FORMAT X sends its data), or multipart form fields
  (clickhouse-connect's choice for long parameters); GET and POST;
- server-side parameters `param_<name>`, `database`, `default_format`, `query_id`;
- request bodies compressed per Content-Encoding (lz4 frame, zstd, br, gzip, deflate),
  and responses compressed per Accept-Encoding when enable_http_compression is on
  (the URL's value, else the engine's);
- settings as URL parameters: applied to the engine for the one query (SET, then back
  to DEFAULT); HTTP transport settings that only shape the response are accepted;
- answers: 200 with the result in the requested format, X-ClickHouse-Query-Id,
  -Format, -Timezone, -Summary; an error as a non-200 status with the engine's text and
  X-ClickHouse-Exception-Code.

What it does not: HTTP sessions (session_id is accepted but no state is kept between
requests, and SET / USE statements are refused since they would change the shared
engine session), external data (multipart files), ClickHouse's own block compression
of bodies (compress=1 / decompress=1: refused), progress headers,
client_protocol_version (ignored, as by a proxy that strips it; clickhouse-connect
probes for it and falls back), authentication beyond user `default` with no password,
TLS.
"""

from __future__ import annotations

import base64
import gzip
import re
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

import orjson

# URL parameters that are not engine settings: the request itself, or transport choices
# of the HTTP interface that shape only how the answer travels.
_REQUEST = {"query", "database", "default_format", "query_id", "user", "password"}
_TRANSPORT = {
    "session_id",
    "session_timeout",
    "session_check",
    "enable_http_compression",
    "http_zlib_compression_level",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "cancel_http_readonly_queries_on_client_close",
    "wait_end_of_query",
    "buffer_size",
    "client_protocol_version",
}
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_INSERT_FORMAT = re.compile(r"^\s*INSERT\b.*?\bFORMAT\s+\w+", re.IGNORECASE | re.DOTALL)
_CODE = re.compile(r"Code:\s*(\d+)")
_SESSION_STATEMENT = re.compile(r"^\s*(SET|USE)\b", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ClickHouse's HTTP status for a few error codes; others answer 500.
_STATUS = {62: 400, 27: 400, 36: 400, 43: 400, 47: 400, 60: 404, 81: 404, 115: 400, 516: 401}


class HttpError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _decompress(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity":
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "lz4":
        import lz4.frame

        return bytes(lz4.frame.decompress(body))
    if encoding == "zstd":
        from clickhouse_connect.driver.compression import _zstd_decompress

        return bytes(_zstd_decompress(body))
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(body))
    raise HttpError(0, f"Code: 0. DB::Exception: Unknown Content-Encoding {encoding!r}")


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data body; a file (external data) is refused."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename() is not None:
            raise HttpError(1, "Code: 1. DB::Exception: external data is not supported here")
        payload = part.get_payload(decode=True)
        fields[name] = bytes(payload).decode() if isinstance(payload, bytes) else ""
    return fields


def _compress(body: bytes, accepted: str) -> tuple[bytes, str | None]:
    for encoding in (item.split(";")[0].strip() for item in accepted.split(",")):
        if encoding == "gzip":
            return gzip.compress(body), encoding
        if encoding == "deflate":
            return zlib.compress(body), encoding
        if encoding == "lz4":
            import lz4.frame

            return bytes(lz4.frame.compress(body)), encoding
        if encoding == "zstd":
            from clickhouse_connect.driver.compression import _zstd_compress

            return bytes(_zstd_compress(body)), encoding
        if encoding == "br":
            import brotli

            return bytes(brotli.compress(body)), encoding
    return body, None


class ChdbHttpAdapter:
    """Runs HTTP requests on a ChdbConnection's session, under that connection's lock
    (chdb allows one session a process, and the session's current database and settings
    are changed for each request and put back before the lock is released)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._session = connection._session
        self._lock: threading.Lock = connection._lock
        self.timezone = self._run_plain("SELECT timezone()").strip()
        # The engine's settings as they stand (its defaults: nothing SETs them for long).
        self._settings = dict(
            line.split("\t", 1)
            for line in self._run_plain("SELECT name, value FROM system.settings").splitlines()
        )
        self.compression = self._settings["enable_http_compression"]

    def _run_plain(self, sql: str) -> str:
        with self._lock:
            return bytes(self._session.query(sql, "TabSeparated").bytes()).decode()

    def execute(
        self,
        sql: bytes,
        database: str,
        fmt: str,
        params: dict[str, str],
        settings: dict[str, str],
    ) -> tuple[bytes, dict[str, int | float]]:
        """`sql` as bytes: an insert's data (Native, say) need not be text."""
        if _SESSION_STATEMENT.match(sql.decode(errors="replace")):
            raise HttpError(48, "Code: 48. DB::Exception: this test adapter keeps no HTTP sessions")
        for name in [database, *settings]:
            if not _NAME.match(name):
                raise HttpError(115, f"Code: 115. DB::Exception: Unknown setting {name!r}")
        with self._lock:
            session = self._session
            applied: list[str] = []
            try:
                session.query(f"USE {database}", "TabSeparated")
                for name, value in settings.items():
                    if self._settings.get(name) == value:
                        continue  # already so; an unknown name is SET, and refused
                    quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
                    session.query(f"SET {name} = {quoted}", "TabSeparated")
                    applied.append(name)
                result = session.query(sql, fmt, params=params or None)
            except Exception as error:
                message = str(error)
                match = _CODE.search(message)
                raise HttpError(int(match.group(1)) if match else 1001, message) from None
            finally:
                for name in applied:
                    session.query(f"SET {name} = DEFAULT", "TabSeparated")
                session.query(f"USE {self._connection.database}", "TabSeparated")
            summary = {
                "read_rows": result.rows_read(),
                "read_bytes": result.bytes_read(),
                "written_rows": result.rows_written(),
                "written_bytes": result.bytes_written(),
                "elapsed_ns": int(result.elapsed() * 1e9),
            }
            return bytes(result.bytes()), summary


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b"".join(self._chunks())
        else:
            body = self.rfile.read(length) if length else b""
        self._serve(body)

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                self.rfile.readline()
                return
            yield self.rfile.read(size)
            self.rfile.readline()

    def _serve(self, body: bytes) -> None:
        url = urlparse(self.path)
        if url.path == "/ping" or (url.path == "/" and not url.query and not body):
            self._answer(200, b"Ok.\n", {})
            return
        query_id = ""
        try:
            self._authenticate()
            args = dict(parse_qsl(url.query, keep_blank_values=True))
            if args.get("compress", "0") != "0" or args.get("decompress", "0") != "0":
                # ClickHouse's own block compression of bodies: not done here.
                raise HttpError(1, "Code: 1. DB::Exception: compress/decompress are not supported")
            args.pop("compress", None)
            args.pop("decompress", None)
            query_id = args.get("query_id") or str(uuid.uuid4())
            data = _decompress(body, self.headers.get("Content-Encoding"))
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                # clickhouse-connect sends the query and its parameters as form fields
                # when they are too long for the URL.
                args.update(_form_fields(content_type, data))
                data = b""
            sql = args.get("query", "").encode()
            if data:
                sql = sql + b"\n" + data if sql else data
            text = sql.decode(errors="replace")
            params = {k[6:]: v for k, v in args.items() if k.startswith("param_")}
            settings = {
                k: v
                for k, v in args.items()
                if not k.startswith("param_") and k not in _REQUEST and k not in _TRANSPORT
            }
            fmt = args.get("default_format") or "TabSeparated"
            stated = None if _INSERT_FORMAT.match(text) else _FORMAT.search(text)
            if stated:
                fmt = stated.group(1)
            result, summary = self.server.adapter.execute(
                sql, args.get("database") or "default", fmt, params, settings
            )
        except Exception as error:  # a fault of the adapter too: answered, not dropped
            failure = (
                error
                if isinstance(error, HttpError)
                else HttpError(1001, f"Code: 1001. DB::Exception: {error!r}")
            )
            self._answer(
                _STATUS.get(failure.code, 500),
                (str(failure).rstrip("\n") + "\n").encode(),
                {
                    "X-ClickHouse-Exception-Code": str(failure.code),
                    "X-ClickHouse-Query-Id": query_id,
                },
            )
            return
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": self.server.adapter.timezone,
            "X-ClickHouse-Summary": orjson.dumps(
                {key: str(value) for key, value in summary.items()}
            ).decode(),
        }
        accepted = self.headers.get("Accept-Encoding", "")
        compression = args.get("enable_http_compression", self.server.adapter.compression)
        if accepted and compression == "1":
            result, encoding = _compress(result, accepted)
            if encoding:
                headers["Content-Encoding"] = encoding
        self._answer(200, result, headers)

    def _authenticate(self) -> None:
        user, password = "default", ""
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        if (user, password) != ("default", ""):
            raise HttpError(
                516,
                f"Code: 516. DB::Exception: {user}: Authentication failed: password is"
                " incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)",
            )

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    # Every request's thread is joined when the adapter stops (a thread left running
    # at exit beside chdb's own shutdown crashes the process); kept-alive connections
    # are shut down first so that their threads end.
    daemon_threads = False
    block_on_close = True
    adapter: ChdbHttpAdapter

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.connections: set[Any] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        import socket

        with self.connections_lock:
            open_ones = list(self.connections)
        for connection in open_ones:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def serve(connection: Any) -> Iterator[str]:
    """The adapter on a free local port, in a thread: yields its host:port."""
    import socket
    import time

    server = _Server(("127.0.0.1", 0), _Handler)
    server.adapter = ChdbHttpAdapter(connection)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    deadline = time.monotonic() + 10
    while True:  # ready once it accepts a connection
        try:
            socket.create_connection((str(host), int(port)), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the ClickHouse HTTP test adapter did not start") from None
    try:
        yield f"{host}:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.close_connections()
        server.server_close()  # joins the requests' threads
