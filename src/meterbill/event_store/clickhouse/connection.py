"""One seam to a ClickHouse engine: a server over HTTP (clickhouse-connect) or chdb in
process (tests, benches). Both run the same server SQL with server-side parameters
({name:Type}); rows come back as JSON values, numbers that must stay exact as text."""

from __future__ import annotations

import threading
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlparse

import orjson


class Connection(Protocol):
    database: str

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[list[Any]]: ...

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None: ...

    def insert_json(self, table: str, columns: list[str], body: bytes) -> None:
        """Columns as one JSONColumns document; returns once the rows are written
        (synchronous insert)."""
        ...


class HttpConnection:
    """A ClickHouse server through clickhouse-connect (one client per thread)."""

    def __init__(self, url: str) -> None:
        parsed = urlparse(url)
        query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
        secure = parsed.scheme in ("clickhouses", "https") or query.get("secure") == "true"
        self._options = {
            "host": parsed.hostname or "localhost",
            "port": parsed.port or (8443 if secure else 8123),
            "username": unquote(parsed.username or "default"),
            "password": unquote(parsed.password or ""),
            "secure": secure,
        }
        self.database = (parsed.path or "/").strip("/") or "default"
        self._local = threading.local()

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            import clickhouse_connect

            client = clickhouse_connect.get_client(**self._options, database=self.database)
            self._local.client = client
        return client

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        raw = self._client().raw_query(sql, parameters=params or None, fmt="JSONCompact")
        return list(orjson.loads(raw)["data"])

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._client().command(sql, parameters=params or None)

    def insert_json(self, table: str, columns: list[str], body: bytes) -> None:
        # Synchronous: the server answers once the block is written to a part.
        self._client().raw_insert(table, columns, body, fmt="JSONColumns")


class ChdbConnection:
    """ClickHouse in process (the PyPI package chdb): one session, calls serialised."""

    def __init__(self, path: str | None = None, database: str = "meterbill") -> None:
        from chdb import session

        self._session = session.Session(path) if path else session.Session()
        self._lock = threading.Lock()
        self.database = database
        self._run(f"CREATE DATABASE IF NOT EXISTS {database}", None, "CSV")
        self._run(f"USE {database}", None, "CSV")

    def _run(self, sql: str, params: dict[str, Any] | None, fmt: str) -> Any:
        with self._lock:
            result = self._session.query(sql, fmt, params=_as_text(params))
        error = getattr(result, "error_message", None)
        if callable(error):
            error = error()
        if error:
            raise ClickHouseError(str(error))
        return result

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        result = self._run(sql, params, "JSONCompact")
        body = result.bytes() if hasattr(result, "bytes") else bytes(result)
        return list(orjson.loads(body)["data"]) if body.strip() else []

    def command(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._run(sql, params, "CSV")

    def insert_json(self, table: str, columns: list[str], body: bytes) -> None:
        statement = f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONColumns\n"
        self._run(statement + body.decode(), None, "CSV")

    def close(self) -> None:
        self._session.close()


class ClickHouseError(Exception):
    pass


def _as_text(params: dict[str, Any] | None) -> dict[str, str] | None:
    # chdb takes parameter values as text in ClickHouse's own syntax, as the HTTP
    # interface does.
    if not params:
        return None
    return {key: _text(value) for key, value in params.items()}


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        if value and all(type(item) is str for item in value):
            # A group's transaction ids: quoted in one join, escaped one by one only
            # when one of them needs it.
            probe = "".join(value)
            if "\\" not in probe and "'" not in probe:
                return "['" + "','".join(value) + "']"
        return "[" + ",".join(_quoted(item) for item in value) + "]"
    if isinstance(value, str):
        # A value is read in the escaped text format: a backslash, tab or newline in
        # it must be escaped (unescaped, a tab ends the value and a backslash starts an
        # escape), as clickhouse-connect does over HTTP.
        return value.translate(_ESCAPED)
    return str(value)


_ESCAPED = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _quoted(item: Any) -> str:
    if isinstance(item, str):
        return "'" + item.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(item, list | tuple):
        return (
            "(" + ",".join(_quoted(x) for x in item) + ")"
            if isinstance(item, tuple)
            else _text(item)
        )
    return str(item)


def connect(url: str) -> Connection:
    """clickhouse://user:password@host:8123/database (https:// or clickhouses:// for TLS),
    or chdb:///path/to/folder (chdb://: in memory) for an engine inside this process."""
    if url.startswith("chdb:"):
        path = urlparse(url).path or None
        return ChdbConnection(unquote(path) if path else None)
    return HttpConnection(url)
