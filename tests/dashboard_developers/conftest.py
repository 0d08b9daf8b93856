"""The developers pages' fixtures: the dashboard's in-process app and logged-in client
(tests/dashboard/conftest.py). Helpers to read the pages are in pages.py."""

from __future__ import annotations

from tests.dashboard.conftest import (  # noqa: F401  (fixtures)
    browser_client,
    client,
    clock,
    dashboard_app,
    user,
)
