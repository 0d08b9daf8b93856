"""Dashboard fixtures: an in-process app on the test database with a clock the tests
move, a logged-in HTTP client per test, and a user in the test's organization."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from meterbill.app import create_app
from meterbill.core.db import Database
from meterbill.settings import Settings
from meterbill.users.service import create_user
from tests.conftest import ENCRYPTION_KEY, NOW, Org
from tests.dashboard.browser import chromium  # noqa: F401  (a fixture for browser tests)

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    """The dashboard's clock: tests pass time by moving it, never by sleeping."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(scope="session")
def dashboard_app(database: Database) -> FastAPI:
    settings = Settings(
        database_url=database.url,
        api_key=None,
        clock_interval_seconds=0,
        encryption_key=ENCRYPTION_KEY,
    )
    return create_app(settings, database)


@pytest.fixture
def clock(dashboard_app: FastAPI) -> Iterator[Clock]:
    clock = Clock()
    dashboard_app.state.dashboard_clock = clock
    yield clock


def make_user(database: Database, org: Org, email: str, role: str = "admin") -> str:
    with database.transaction() as session:
        create_user(session, org.id, email, PASSWORD, NOW, role=role)
    return email


@pytest.fixture
def user(database: Database, org: Org) -> str:
    return make_user(database, org, f"user-{org.id.hex[:12]}@example.test")


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client: httpx.Client | TestClient, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
        follow_redirects=False,
    )


@pytest.fixture
def browser_client(dashboard_app: FastAPI, clock: Clock) -> Iterator[TestClient]:
    """An anonymous client (cookies kept between requests)."""
    # Not entered as a context manager: the app's start-up (bootstrap, clock) stays off.
    client = TestClient(dashboard_app, base_url="http://testserver")
    yield client
    client.close()


@pytest.fixture
def client(browser_client: TestClient, user: str) -> TestClient:
    """A client logged in as `user`."""
    response = log_in(browser_client, user)
    assert response.status_code == 303, response.text
    return browser_client


def post_form(client: TestClient, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """POST a page's form with the CSRF token the page carries."""
    token = csrf_of(client.get(url if "/delete" in url or "/edit" in url else "/customers").text)
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=False, **kwargs)
