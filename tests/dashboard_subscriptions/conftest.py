"""Fixtures of the Subscriptions and Analytics pages' tests: the dashboard over the real
test server (`web`, a logged-in admin, from tests/dashboard_actions), a member of a given
role, and the API helpers the figures are compared with."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard_actions.conftest import Web, api, login_as, web  # noqa: F401  (fixture)

Json = dict[str, Any]


def member(server: str, database: Database, org: Org, role: str) -> Web:
    """A logged-in member of `org` with `role` (admin, finance or manager)."""
    return login_as(server, database, org, role)


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
