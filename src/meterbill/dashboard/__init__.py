"""The web dashboard: server-rendered pages at `/`, served by the API's own app.

`install(app)` mounts the static assets, adds the security headers, turns errors on
dashboard paths into HTML pages, and includes every router listed in
`dashboard.routers.ROUTERS` (a feature adds its pages by adding its router there).
Pages call the same service functions as the API; `web.py` holds what they share.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meterbill.core.errors import MeterbillError
from meterbill.core.http import logger
from meterbill.core.times import utc_now
from meterbill.dashboard import web

STATIC = Path(__file__).parent / "static"
# Paths that belong to the API and keep its JSON envelopes; everything else is a page.
API_PREFIXES = ("/api/", "/docs", "/openapi.json", "/health")
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def is_page(path: str) -> bool:
    return not path.startswith(API_PREFIXES)


class SecurityHeaders:
    """CSP without inline scripts, no framing: on every dashboard response that does not
    state its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_page(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A page that states its own policy keeps it (an invoice's document,
                # framed by its own page).
                headers = list(message.get("headers", []))
                own = {name.lower() for name, _value in headers}
                message["headers"] = headers + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in own
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    from meterbill.dashboard.routers import ROUTERS

    app.state.dashboard_clock = utc_now
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(SecurityHeaders)
    _install_error_pages(app)


def _install_error_pages(app: FastAPI) -> None:
    api_routing = app.exception_handlers[StarletteHTTPException]
    api_domain = app.exception_handlers[MeterbillError]

    @app.exception_handler(web.LoginRequired)
    async def _login(request: Request, exc: web.LoginRequired) -> Response:
        from urllib.parse import quote

        return web.redirect_to(request, f"/login?next={quote(exc.next_url, safe='/')}")

    @app.exception_handler(web.CsrfRefused)
    async def _csrf(request: Request, _exc: web.CsrfRefused) -> Response:
        return error_page(request, 403)

    @app.exception_handler(web.PermissionDenied)
    async def _denied(request: Request, _exc: web.PermissionDenied) -> Response:
        return error_page(request, 403, "You don't have access to this page", denied=True)

    @app.exception_handler(StarletteHTTPException)
    async def _routing(request: Request, exc: StarletteHTTPException) -> Response:
        if is_page(request.url.path):
            return error_page(request, 404 if exc.status_code in (404, 405) else exc.status_code)
        return await api_routing(request, exc)  # type: ignore[no-any-return]

    @app.exception_handler(MeterbillError)
    async def _domain(request: Request, exc: MeterbillError) -> Response:
        if is_page(request.url.path):
            if exc.status >= 500:
                logger.error("dashboard error on %s: %s", request.url.path, exc)
            return error_page(request, exc.status)
        return await api_domain(request, exc)  # type: ignore[no-any-return]


ERROR_TITLES = {
    400: "This request could not be read",
    403: "This form has expired",
    404: "Page not found",
    422: "This request could not be processed",
}


def error_page(
    request: Request, status: int, title: str | None = None, *, denied: bool = False
) -> Response:
    return web.render(
        request,
        "error.html",
        {
            "status": status,
            "title": title or ERROR_TITLES.get(status, "Something went wrong"),
            "denied": denied,
        },
        status_code=status,
    )
