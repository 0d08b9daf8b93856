"""Test fixtures: a migrated database per backend, a real server, one organization per test.

Every test gets its own organization and API key, so tests never see each other's
records (which also exercises tenancy on every call) and need no cleanup.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from lago_python_client.client import Client
from sqlalchemy import create_engine, make_url, text

from meterbill.app import create_app
from meterbill.core.db import Database
from meterbill.migrations.runner import upgrade
from meterbill.organizations.service import add_api_key, create_organization
from meterbill.settings import Settings

POSTGRES_URL = os.environ.get("METERBILL_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def _reset_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('sqlite')) / 'meterbill.db'}"
    else:
        assert POSTGRES_URL is not None
        url = POSTGRES_URL
        _reset_postgres(url)
    upgrade(url)
    db = Database(url, pool_size=20)
    yield db
    db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def server(database: Database) -> Iterator[str]:
    """A real uvicorn server on a free port, in a thread, sharing `database`."""
    # Tests move time themselves through tick(now); no clock runs on the wall clock.
    settings = Settings(database_url=database.url, api_key=None, clock_interval_seconds=0)
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
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


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
    try:
        yield db
    finally:
        db.dispose()
        if schema is not None:
            with database.engine.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


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
