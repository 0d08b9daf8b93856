"""The ClickHouse store through HttpConnection (clickhouse-connect, as production talks to a
ClickHouse server), against chdb's engine behind the HTTP adapter written for these tests
(tests/clickhouse_http.py; not a ClickHouse server): errors, duplicates, compression,
settings."""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import brotli
import pytest

from meterbill.core.db import Database
from meterbill.events.schemas import EventInput
from meterbill.events.service import NewEvent
from tests.conftest import CLICKHOUSE_HTTP, Org, clickhouse_http_store, clickhouse_store

pytestmark = pytest.mark.skipif(
    not CLICKHOUSE_HTTP, reason="chdb or clickhouse-connect is not installed"
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
# Transaction ids that need escaping in ClickHouse's text syntax, or in a URL.
AWKWARD = ["it's", "back\\slash", "tab\there", "new\nline", "ünï ✓", "{x:String}", "a&b=c?%20"]


@pytest.fixture(scope="module")
def http_store() -> Iterator[Any]:
    with clickhouse_http_store() as store:
        yield store


def _event(org: Org, transaction_id: str, gb: int) -> NewEvent:
    return NewEvent(
        org.id,
        EventInput(transaction_id, "sub_http", "storage", NOW - timedelta(seconds=gb),
                   {"gb": gb}, None),
        NOW,
    )  # fmt: skip


def test_bad_sql_is_an_exception(http_store: Any) -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError

    connection = http_store.connection
    with pytest.raises(DatabaseError) as error:
        connection.query("SELEC 1")
    assert "code: 62" in str(error.value)
    assert "Syntax error" in str(error.value)
    with pytest.raises(DatabaseError) as error:
        connection.command("INSERT INTO no_such_table VALUES (1)")
    assert "code: 60" in str(error.value)
    # The connection still answers afterwards.
    assert connection.query("SELECT {n:Int64} * 2", {"n": 21}) == [[42]]


def test_duplicates_are_refused_as_on_chdb(database: Database, org: Org, http_store: Any) -> None:
    from meterbill.event_store.clickhouse.store import ClickHouseEventStore

    chdb_store = ClickHouseEventStore(clickhouse_store().connection)
    outcomes = []
    for store in (chdb_store, http_store):
        with database.transaction() as session:
            first = store.insert_many(session, [_event(org, t, 1) for t in AWKWARD])
        again = [_event(org, t, 2) for t in ["fresh", *AWKWARD]]
        with database.transaction() as session:
            second = store.insert_many(session, again)
        with database.transaction() as session:
            found = [store.find_event(session, org.id, t) for t in [*AWKWARD, "fresh"]]
        outcomes.append(
            (
                first[1],
                second[1],
                [(e.transaction_id, e.properties) for e in found],
            )
        )
        org = Org(uuid.uuid4(), org.api_key)  # the other store's events: another org
    assert outcomes[0] == outcomes[1]
    first_duplicates, second_duplicates, found_events = outcomes[1]
    assert first_duplicates == set()
    # Every awkward id again is refused; the new one is stored.
    assert second_duplicates == {1, 2, 3, 4, 5, 6, 7}
    assert found_events == [*[(t, {"gb": 1}) for t in AWKWARD], ("fresh", {"gb": 2})]


@pytest.mark.parametrize("encoding", ["lz4", "zstd", "br", "gzip", "deflate"])
def test_compressed_insert_bodies(http_store: Any, encoding: str) -> None:
    client = http_store.connection._client()
    table = f"compressed_{encoding}"
    client.command(f"CREATE OR REPLACE TABLE {table} (a String, n Int64) ENGINE = Memory")
    body = b'{"a": ["p", "q\'s"], "n": [1, -2]}'
    if encoding == "lz4":
        import lz4.frame

        packed = lz4.frame.compress(body)
    elif encoding == "zstd":
        from clickhouse_connect.driver.compression import _zstd_compress

        packed = _zstd_compress(body)
    elif encoding == "br":
        packed = brotli.compress(body)
    elif encoding == "gzip":
        packed = gzip.compress(body)
    else:
        packed = zlib.compress(body)
    client.raw_insert(table, ["a", "n"], packed, fmt="JSONColumns", compression=encoding)
    assert http_store.connection.query(f"SELECT a, n FROM {table} ORDER BY n") == [
        ["q's", -2],
        ["p", 1],
    ]
    client.command(f"DROP TABLE {table}")


def test_native_insert_and_query(http_store: Any) -> None:
    """clickhouse-connect's own insert (Native, lz4-compressed) and query (Native,
    compressed answers) through the adapter."""
    client = http_store.connection._client()
    client.command("CREATE OR REPLACE TABLE native_rows (a String, n Int64) ENGINE = Memory")
    client.insert("native_rows", [["x", 7], ["y", -8]], column_names=["a", "n"])
    result = client.query("SELECT a, n FROM native_rows ORDER BY a")
    assert result.result_rows == [("x", 7), ("y", -8)]
    client.command("DROP TABLE native_rows")


def test_settings_apply_to_one_query(http_store: Any) -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError

    client = http_store.connection._client()
    sql = "SELECT number FROM system.numbers LIMIT 5"
    with pytest.raises(DatabaseError) as error:
        client.raw_query(sql, settings={"max_result_rows": 2, "result_overflow_mode": "throw"})
    assert "code: 396" in str(error.value)
    assert client.raw_query(sql, fmt="CSV") == b"0\n1\n2\n3\n4\n"
    # The engine's session is back to its defaults for the chdb store.
    assert clickhouse_store().connection.query(
        "SELECT value FROM system.settings WHERE name = 'max_result_rows'"
    ) == [["0"]]


def test_wrong_password_is_refused(http_store: Any) -> None:
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import DatabaseError

    client = http_store.connection._client()
    host, port = client.url.removeprefix("http://").split(":")
    with pytest.raises(DatabaseError) as error:
        clickhouse_connect.get_client(host=host, port=int(port), username="default", password="x")
    assert "code: 516" in str(error.value)


def test_long_parameters_go_as_a_form(http_store: Any) -> None:
    """clickhouse-connect sends a query whose parameters are too long for a URL as
    multipart form fields (the store's pay-in-advance scan does, with many targets)."""
    connection = http_store.connection
    values = [f"v{i}\tx\n'y" for i in range(5_000)]
    sql = "SELECT length({values:Array(String)}),\n arrayElement({values:Array(String)}, 4321)"
    assert connection.query(sql, {"values": values}) == [[5_000, "v4320\tx\n'y"]]
