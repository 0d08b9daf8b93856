"""Logging in and out. The login form carries its own CSRF token (a cookie matched by
a hidden field), since there is no session yet to hold one."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response

from meterbill.dashboard import web
from meterbill.users.service import LOCKOUT, SESSION_LIFETIME, log_in, log_out

router = APIRouter(include_in_schema=False)

REFUSALS = {
    "invalid": "Sorry, that email and password combination is incorrect.",
    "locked": (
        f"Too many wrong passwords: this account is locked for "
        f"{int(LOCKOUT.total_seconds() // 60)} minutes."
    ),
    "expired": "This form has expired; please log in again.",
}


def _safe_next(raw: str) -> str:
    # Only a path of this site: "//evil.test" or "https://..." would leave it.
    if raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/customers"


def _login_page(
    request: Request, *, next_url: str, email: str = "", error: str | None = None, status: int
) -> Response:
    token = secrets.token_urlsafe(32)
    request.state.login_csrf = token
    response = web.render(
        request,
        "login.html",
        {"next": next_url, "email": email, "error": error},
        status_code=status,
    )
    web.set_cookie(request, response, web.LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/")
def home() -> Response:
    return Response(status_code=303, headers={"Location": "/customers"})


@router.get("/login")
def login_form(request: Request, next: str = "/customers") -> Response:
    return _login_page(request, next_url=_safe_next(next), status=200)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await web.read_form(request)
    next_url = _safe_next(form.get("next", "/customers"))
    email = form.get("email")
    expected = request.cookies.get(web.LOGIN_CSRF_COOKIE, "")
    sent = form.get(web.CSRF_FIELD)
    if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        return _login_page(
            request, next_url=next_url, email=email, error=REFUSALS["expired"], status=403
        )
    with web.database(request).transaction() as session:
        result = log_in(session, email, form.get("password"), web.now(request))
    if result.token is None:
        assert result.refusal is not None
        return _login_page(
            request, next_url=next_url, email=email, error=REFUSALS[result.refusal], status=422
        )
    response = web.redirect_to(request, next_url)
    web.set_cookie(
        request,
        response,
        web.SESSION_COOKIE,
        result.token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(web.LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, _user: web.CurrentUser, _form: web.Form) -> Response:
    with web.database(request).transaction() as session:
        log_out(session, request.cookies.get(web.SESSION_COOKIE))
    response = web.redirect_to(request, "/login")
    response.delete_cookie(web.SESSION_COOKIE, path="/")
    return response
