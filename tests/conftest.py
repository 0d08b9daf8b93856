"""Test fixtures: a migrated database per backend, a real server, one organization per test.

Every test gets its own organization and API key, so tests never see each other's
records (which also exercises tenancy on every call) and need no cleanup.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from lago_python_client.client import Client
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from meterbill import event_store
from meterbill.app import create_app
from meterbill.core.db import Database
from meterbill.documents.storage import LocalStorage
from meterbill.migrations.runner import upgrade
from meterbill.organizations.service import add_api_key, create_organization
from meterbill.settings import Settings
from tests.fake_stripe import shared_fake_stripe

# The test servers' METERBILL_ENCRYPTION_KEY (a Fernet key).
ENCRYPTION_KEY = "b3NP2s0mXjXf3F8W1Vx7l1mF0m2Xo6rQwq2k8v6S9Yc="
POSTGRES_URL = os.environ.get("METERBILL_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
# The event store corpus (tests.event_stores) also runs on ClickHouse: chdb, the engine
# in process, holds the events of a SQLite database of its own.
CLICKHOUSE = importlib.util.find_spec("chdb") is not None
STORE_BACKENDS = [*BACKENDS, "clickhouse"]
# A module that also sets CLICKHOUSE_HTTP runs on the store as production reaches it:
# HttpConnection through clickhouse-connect, to chdb's engine behind an HTTP adapter
# written for these tests (tests/clickhouse_http.py; not a ClickHouse server). A chosen
# part of the corpus, to keep the suite's time: each HTTP request costs a round trip.
CLICKHOUSE_HTTP = CLICKHOUSE and importlib.util.find_spec("clickhouse_connect") is not None
HTTP_STORE_BACKENDS = [*STORE_BACKENDS, "clickhouse-http"]
# METERBILL_TEST_CLICKHOUSE_HTTP=all: the whole corpus through HTTP (about 8 minutes).
CLICKHOUSE_HTTP_ALL = os.environ.get("METERBILL_TEST_CLICKHOUSE_HTTP") == "all"
# The HTTP store's tables: a ClickHouse database of its own beside the chdb store's.
HTTP_STORE_DATABASE = "meterbill_http"
_chdb_store: list[Any] = []


def clickhouse_store() -> Any:
    """This process's ClickHouse store (chdb allows one session a process)."""
    if not _chdb_store:
        from meterbill.event_store.clickhouse import open_store

        _chdb_store.append(open_store("chdb:"))
    return _chdb_store[0]


@contextmanager
def clickhouse_http_store() -> Iterator[Any]:
    """A ClickHouse store through HttpConnection, to the HTTP adapter in front of this
    process's chdb session; its schema migrated through HTTP (the store's normal path)."""
    from meterbill.event_store.clickhouse import open_store
    from tests.clickhouse_http import serve

    engine = clickhouse_store().connection
    engine.command(f"CREATE DATABASE IF NOT EXISTS {HTTP_STORE_DATABASE}")
    with serve(engine) as address:
        yield open_store(f"clickhouse://default:@{address}/{HTTP_STORE_DATABASE}")


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _worker_postgres_url(url: str) -> str:
    """Under pytest-xdist each worker gets a database of its own beside the given one,
    since every worker resets its schema at start."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": own.database}
        ).first()
        if exists is None:
            connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    engine.dispose()
    return own.render_as_string(hide_password=False)


def _drop_postgres_database(base_url: str, url: str) -> None:
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        name = make_url(url).database
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


class _Backends:
    """Each backend's database and server, made once per test session (per xdist worker).

    Kept here rather than in the parametrised fixtures themselves: pytest tears a
    parametrised session fixture down whenever the parameter changes, and under xdist a
    worker alternates between backends file by file, which would re-migrate the database
    and restart the server each time."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._stack = ExitStack()
        self._databases: dict[str, Database] = {}
        self._servers: dict[str, str] = {}
        self._storage: dict[str, LocalStorage] = {}

    def database(self, backend: str) -> Database:
        if backend not in self._databases:
            self._databases[backend] = self._stack.enter_context(self._open_database(backend))
        return self._databases[backend]

    def server(self, database: Database) -> str:
        if database.url not in self._servers:
            self._servers[database.url] = self._stack.enter_context(
                _run_server(database, self.storage(database).root)
            )
        return self._servers[database.url]

    def storage(self, database: Database) -> LocalStorage:
        """The document files of the backend's server, in the test's temporary folder."""
        if database.url not in self._storage:
            self._storage[database.url] = LocalStorage(Path(self._tmp.mktemp("storage")))
        return self._storage[database.url]

    @contextmanager
    def _open_database(self, backend: str) -> Iterator[Database]:
        if backend in ("sqlite", "clickhouse", "clickhouse-http"):
            url = f"sqlite:///{Path(self._tmp.mktemp(backend)) / 'meterbill.db'}"
        else:
            assert POSTGRES_URL is not None
            url = _worker_postgres_url(POSTGRES_URL)
            _reset_postgres(url)
        upgrade(url)
        db = Database(url, pool_size=20)
        if backend == "clickhouse":
            event_store.use(db.engine, clickhouse_store())
        if backend == "clickhouse-http":
            event_store.use(db.engine, self._stack.enter_context(clickhouse_http_store()))
        try:
            yield db
        finally:
            db.dispose()
            if backend == "postgresql" and url != POSTGRES_URL:
                _drop_postgres_database(POSTGRES_URL, url)

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Backends]:
    pool = _Backends(tmp_path_factory)
    yield pool
    pool.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test on each relational backend; a module that sets EVERY_EVENT_STORE (the
    event store corpus) also on the ClickHouse store, skipped without chdb, and one that
    also sets CLICKHOUSE_HTTP on that store through HTTP. One fixture, so that a
    session-wide server always belongs to the database of its test."""
    if "database" not in metafunc.fixturenames:
        return
    backends = BACKENDS
    if getattr(metafunc.module, "EVERY_EVENT_STORE", False):
        backends = STORE_BACKENDS
        if getattr(metafunc.module, "CLICKHOUSE_HTTP", False) or CLICKHOUSE_HTTP_ALL:
            backends = HTTP_STORE_BACKENDS
    metafunc.parametrize("database", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def database(request: pytest.FixtureRequest, backends: _Backends) -> Database:
    if request.param == "clickhouse" and not CLICKHOUSE:
        pytest.skip("chdb is not installed (pip install 'meterbill[clickhouse]')")
    if request.param == "clickhouse-http" and not CLICKHOUSE_HTTP:
        pytest.skip("chdb or clickhouse-connect is not installed")
    return backends.database(request.param)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _run_server(database: Database, storage_dir: Path) -> Iterator[str]:
    """A real uvicorn server on a free port, in a thread, sharing `database`."""
    # Tests move time themselves through tick(now); no clock runs on the wall clock.
    # Stripe is the fake one (tests/fake_stripe.py), one account per test.
    settings = Settings(
        database_url=database.url,
        api_key=None,
        clock_interval_seconds=0,
        storage_dir=str(storage_dir),
        encryption_key=ENCRYPTION_KEY,
        stripe_api_base=shared_fake_stripe().url,
        stripe_network_retries=0,
    )
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, database), host="127.0.0.1", port=port, log_level="warning"
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(database: Database, backends: _Backends) -> str:
    return backends.server(database)


@pytest.fixture
def storage(database: Database, backends: _Backends) -> LocalStorage:
    """Where the backend's server keeps document files (generate_due writes there)."""
    return backends.storage(database)


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    api_key: str


NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def make_org(database: Database, name: str = "Acme Corp") -> Org:
    with database.transaction() as session:
        organization = create_organization(session, name, NOW)
        key = add_api_key(session, organization.id, NOW)
    return Org(organization.id, key)


@contextmanager
def migrated_database(database: Database, folder: Path, name: str) -> Iterator[Database]:
    """A migrated database of its own beside `database`: a new SQLite file in `folder`,
    or a new PostgreSQL schema (dropped afterwards)."""
    schema = None
    if database.sqlite:
        url = f"sqlite:///{folder / f'{name}.db'}"
    else:
        schema = f"{name}_{uuid.uuid4().hex[:12]}"
        with database.engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = (
            make_url(database.url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    upgrade(url)
    db = Database(url, pool_size=5)
    share_event_store(database, db)
    try:
        yield db
    finally:
        db.dispose()
        if schema is not None:
            with database.engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def share_event_store(source: Database, target: Database) -> None:
    """Keep `target`'s events where `source` keeps its own (ClickHouse for the
    clickhouse backend; organizations tell the databases' events apart there)."""
    with Session(source.engine) as session:
        event_store.use(target.engine, event_store.store_for(session))


@pytest.fixture
def fresh(database: Database, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of its own (a new SQLite file, or a new PostgreSQL schema)."""
    with migrated_database(database, tmp_path, "travel") as db:
        yield db


@pytest.fixture
def org(database: Database) -> Org:
    return make_org(database)


@pytest.fixture
def lago(server: str, org: Org) -> Client:
    """The official Lago client, pointed at our server with this test's key."""
    return Client(api_key=org.api_key, api_url=server + "/")


@pytest.fixture
def http(server: str, org: Org) -> Iterator[httpx.Client]:
    """Raw HTTP with this test's key, for refusals the official client hides."""
    with httpx.Client(
        base_url=server + "/api/v1",
        headers={"Authorization": f"Bearer {org.api_key}"},
        timeout=30,
    ) as client:
        yield client


def pytest_report_header(config: pytest.Config) -> str | None:
    """One line when the dashboard's browser tests cannot run on this machine."""
    from tests.dashboard.browser import unavailable

    reason = unavailable()
    return f"dashboard browser tests: skipped, {reason}" if reason else None
