"""Every dashboard route names the permission it needs (web.requires), so a member's
role is checked on the server for every page and every action, not only by hiding
buttons. The few routes without one are listed here, each with its reason."""

from __future__ import annotations

from fastapi.routing import APIRoute

from meterbill.dashboard.routers import ROUTERS

# Pages any logged-in member (or anyone) may open.
OPEN = {
    "/": "redirects to the first page",
    "/login": "the login form",
    "/logout": "ends one's own session",
    "/invitation/{token}": "accepting an invitation (the token is the credential)",
    "/settings/account": "every member sees their own account",
    "/settings/account/password": "every member changes their own password",
}


def _permission_of(route: APIRoute) -> str | None:
    for dependency in route.dependant.dependencies:
        call = dependency.call
        if call is not None and call.__qualname__ == "requires.<locals>.allowed":
            return "named"
    return None


def test_every_dashboard_route_names_a_permission() -> None:
    pages = [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
    assert len(pages) > 80  # the dashboard's routes are all here
    unchecked = sorted({route.path for route in pages if _permission_of(route) is None} - set(OPEN))
    assert unchecked == []
