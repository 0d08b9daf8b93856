"""What every dashboard page shares: templates, the logged-in user, CSRF, forms, flash.

A dashboard route looks like this (see customer_pages.py)::

    router = APIRouter(include_in_schema=False)

    @router.get("/customers/{customer_id}/thing")
    def thing(request: Request, page: Page, customer_id: str) -> HTMLResponse:
        with page.db.transaction(write=False) as session:
            customer = find_customer_by_id(session, page.user.organization_id, customer_id)
            ...
        return render(request, "customers/thing.html", {"customer": customer})

    @router.post("/customers/{customer_id}/thing")
    def save_thing(request: Request, page: Page, form: Form, customer_id: str) -> Response:
        ...                                     # Form: CSRF already checked
        return redirect_to(request, f"/customers/{customer_id}", flash="Thing saved")

`Page` requires a logged-in user (else 303 to /login, HX-Redirect for htmx); `Form`
is the urlencoded body after the CSRF check (403 page when the token is missing or
wrong). Templates get `user`, `csrf_token`, `flash`, `htmx` and the filters `money`,
`number`, `datetime`, `date` (instants in the organization's timezone).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from meterbill.core.db import Database
from meterbill.core.errors import BadRequest
from meterbill.dashboard import formats
from meterbill.users.roles import ROLES, can
from meterbill.users.service import SessionUser, session_user

TEMPLATES = Path(__file__).parent / "templates"
SESSION_COOKIE = "mb_session"
FLASH_COOKIE = "mb_flash"
LOGIN_CSRF_COOKIE = "mb_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["money"] = formats.money
environment.filters["number"] = formats.number


class LoginRequired(Exception):
    """No valid session: the handler answers 303 to /login (HX-Redirect for htmx)."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class CsrfRefused(Exception):
    """A form or htmx request without this session's token: a 403 page."""


class PermissionDenied(Exception):
    """The member's role lacks the route's permission: a 403 page (hidden buttons are
    a courtesy; this is the rule)."""


def now(request: Request) -> datetime:
    """The instant of this request. Tests replace `app.state.dashboard_clock` to pass
    time (a session's expiry) instead of sleeping."""
    clock: Callable[[], datetime] = request.app.state.dashboard_clock
    return clock()


def database(request: Request) -> Database:
    return request.app.state.database


def current_user(request: Request) -> SessionUser:
    """The logged-in user, or LoginRequired."""
    cached = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        with database(request).transaction(write=False) as session:
            user = session_user(session, token, now(request))
    if user is None:
        path = request.url.path
        raise LoginRequired(path + (f"?{request.url.query}" if request.url.query else ""))
    request.state.user = user
    return user


@dataclass(frozen=True)
class PageContext:
    """What a page's route needs to call the services: the database, the user (and so
    the organization every query is scoped by) and the request's instant."""

    db: Database
    user: SessionUser
    now: datetime

    @property
    def organization_id(self) -> uuid.UUID:
        return self.user.organization_id


def page_context(request: Request, user: SessionUser = Depends(current_user)) -> PageContext:
    return PageContext(database(request), user, now(request))


def requires(permission: str) -> Any:
    """The dependency that refuses (403 page) a member whose role lacks `permission`
    (users.roles). Every route names one::

        @router.get("/plans", dependencies=[requires("plans:view")])
    """
    can(ROLES[0], permission)  # an unknown permission fails at import, not at request

    def allowed(user: SessionUser = Depends(current_user)) -> None:
        if not user.can(permission):
            raise PermissionDenied()

    return Depends(allowed)


class FormData:
    """An urlencoded form body: `get` for one value ("" when absent), `getlist` for all."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            # PostgreSQL cannot store a NUL in text: no form field may carry one.
            self._values.setdefault(key, []).append(value.replace("\x00", ""))

    def get(self, key: str, default: str = "") -> str:
        values = self._values.get(key)
        return values[0] if values else default

    def getlist(self, key: str) -> list[str]:
        return list(self._values.get(key, []))

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def keys(self) -> list[str]:
        return list(self._values)


async def read_form(request: Request) -> FormData:
    """The body as an urlencoded form (what <form method="post"> and htmx send)."""
    raw = await request.body()
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise BadRequest("the form is not UTF-8") from None
    return FormData(parse_qsl(text, keep_blank_values=True))


async def checked_form(request: Request, user: SessionUser = Depends(current_user)) -> FormData:
    """The form, once its CSRF token (field or htmx header) is this session's."""
    form = await read_form(request)
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not sent or not secrets.compare_digest(sent.encode(), user.csrf_token.encode()):
        raise CsrfRefused()
    return form


Page = Annotated[PageContext, Depends(page_context)]
CurrentUser = Annotated[SessionUser, Depends(current_user)]
Form = Annotated[FormData, Depends(checked_form)]


# Lago's side menu: (heading, [(section, label, href, permission to view it)]).
MENU = [
    ("Reports", [("analytics", "Analytics", "/analytics", "analytics:view")]),
    (
        "Configuration",
        [
            ("billable-metrics", "Billable metrics", "/billable-metrics", "billable_metrics:view"),
            ("plans", "Plans", "/plans", "plans:view"),
            ("add-ons", "Add-ons", "/add-ons", "addons:view"),
            ("coupons", "Coupons", "/coupons", "coupons:view"),
        ],
    ),
    (
        "Billing & operations",
        [
            ("customers", "Customers", "/customers", "customers:view"),
            ("subscriptions", "Subscriptions", "/subscriptions", "subscriptions:view"),
            ("invoices", "Invoices", "/invoices", "invoices:view"),
            ("credit-notes", "Credit notes", "/credit-notes", "credit_notes:view"),
        ],
    ),
]


def menu_of(user: SessionUser) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The menu's entries this member may open; a heading with none is left out."""
    shown = []
    for heading, entries in MENU:
        allowed = [entry[:3] for entry in entries if user.can(entry[3])]
        if allowed:
            shown.append((heading, allowed))
    return shown


# A search box's shorter terms do not narrow its list (as Lago's search boxes).
SEARCH_MIN = 3


def list_url(path: str, state: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> str:
    """A list page's URL with its state (search, filters, page) in the query. Empty values
    and values at their default (page 1 unless `defaults` says otherwise) are left out, so
    the default view is the bare path."""
    defaults = {"page": 1, **(defaults or {})}
    query = {
        key: value
        for key, value in state.items()
        if value not in ("", None) and not (key in defaults and defaults[key] == value)
    }
    return path + (f"?{urlencode(query)}" if query else "")


def shown_range(page: int, per_page: int, total: int) -> tuple[int, int]:
    """The positions of a page's first and last rows among `total` (0, 0 when empty)."""
    if not total:
        return 0, 0
    return (page - 1) * per_page + 1, min(page * per_page, total)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A template as an HTML response, with what every page needs in its context.

    The flash message left by the previous POST is shown once (its cookie cleared).
    """
    user: SessionUser | None = getattr(request.state, "user", None)
    timezone = user.organization_timezone if user else "UTC"
    flash = request.cookies.get(FLASH_COOKIE)
    values: dict[str, Any] = {
        "request": request,
        "user": user,
        "csrf_token": user.csrf_token if user else getattr(request.state, "login_csrf", ""),
        "flash": unquote(flash) if flash else None,
        "htmx": is_htmx(request),
        "can": (lambda permission: user.can(permission)) if user else (lambda _p: False),
        "menu": menu_of(user) if user else [],
        "datetime": lambda instant: formats.local_datetime(instant, timezone),
        "date": lambda instant, zone=None: formats.local_date(instant, zone or timezone),
        **(context or {}),
    }
    body = environment.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status_code)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect_to(request: Request, url: str, *, flash: str | None = None) -> Response:
    """Post/redirect/get: 303 to `url` (htmx follows HX-Redirect), with a flash
    message for the next page."""
    response: Response
    if is_htmx(request):
        response = Response(status_code=200, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if flash:
        set_cookie(request, response, FLASH_COOKIE, quote(flash), max_age=60)
    return response


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    """HttpOnly, SameSite=Lax, and Secure whenever the page was served over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
