"""Catalogue pages over HTTP: the logged-in `web` admin of tests/dashboard_actions, a
member of another role, and the API with the test's key to check what the forms did."""

from __future__ import annotations

from tests.dashboard_actions.conftest import Web, text_of, web  # noqa: F401
from tests.dashboard_plans.conftest import api, error_under, finance, login_as  # noqa: F401
