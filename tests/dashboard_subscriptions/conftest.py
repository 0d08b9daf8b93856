"""Fixtures of the Subscriptions and Analytics pages' tests: the dashboard over the real
test server (`web`, a logged-in admin, from tests/dashboard_actions), a member of a given
role, and the API helpers the figures are compared with."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.users.service import create_user, log_in, session_user
from tests.conftest import Org
from tests.dashboard_actions.conftest import PASSWORD, Web, web  # noqa: F401  (fixture)

Json = dict[str, Any]


def api(http: httpx.Client, method: str, path: str, body: Json | None = None) -> Json:
    response = http.request(method, path, json=body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def member(server: str, database: Database, org: Org, role: str) -> Web:
    """A logged-in member of `org` with `role` (admin, finance or manager)."""
    email = f"{role}-{uuid.uuid4().hex[:10]}@example.test"
    now = datetime.now(UTC)
    with database.transaction() as session:
        create_user(session, org.id, email, PASSWORD, now, role=role)
        token = log_in(session, email, PASSWORD, now).token
        assert token is not None
        user = session_user(session, token, now)
        assert user is not None
        csrf = user.csrf_token
    client = httpx.Client(base_url=server, cookies={"mb_session": token}, timeout=30)
    return Web(client, csrf, email)


@pytest.fixture
def finance(server: str, database: Database, org: Org) -> Iterator[Web]:
    session = member(server, database, org, "finance")
    yield session
    session.client.close()


@pytest.fixture
def manager(server: str, database: Database, org: Org) -> Iterator[Web]:
    session = member(server, database, org, "manager")
    yield session
    session.client.close()
