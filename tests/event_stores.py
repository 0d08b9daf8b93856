"""The event store corpus: a test module that imports `database` from here runs on every
relational backend and, when chdb is installed, on the ClickHouse store (SQLite for the
rest of the records), with the same expected values."""

from __future__ import annotations

import pytest

from meterbill.core.db import Database
from tests.conftest import CLICKHOUSE, STORE_BACKENDS, _Backends


@pytest.fixture(scope="session", params=STORE_BACKENDS, name="database")
def database_on_every_store(request: pytest.FixtureRequest, backends: _Backends) -> Database:
    if request.param == "clickhouse" and not CLICKHOUSE:
        pytest.skip("chdb is not installed (pip install 'meterbill[clickhouse]')")
    return backends.database(request.param)
