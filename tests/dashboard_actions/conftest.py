"""A logged-in dashboard user for the action tests: the user and its session are made
through the users service (logging in through the form is the login pages' test)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.users.service import create_user, log_in, session_user
from tests.conftest import Org

PASSWORD = "correct horse battery staple"


@dataclass
class Web:
    """HTTP to the dashboard as a logged-in user of `org`, redirects not followed."""

    client: httpx.Client
    csrf: str
    email: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]], *,
             csrf: bool = True, htmx: bool = False) -> httpx.Response:  # fmt: skip
        pairs = list(data.items()) if isinstance(data, dict) else list(data)
        if csrf:
            pairs.append(("csrf_token", self.csrf))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(path, content=urlencode(pairs), headers=headers)


def login(server: str, database: Database, org: Org, role: str = "admin") -> Web:
    """A logged-in member of `org` with this role (made through the users service)."""
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


login_as = login


def api(
    http: httpx.Client, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An API call with the test's key that must succeed; its JSON body."""
    response = http.request(method, path, json=body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


@pytest.fixture
def web(server: str, database: Database, org: Org) -> Iterator[Web]:
    session = login(server, database, org)
    yield session
    session.client.close()


def text_of(html: str) -> str:
    """The page's visible text, tags dropped and blanks collapsed (for assertions)."""
    without = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", without)).strip()
