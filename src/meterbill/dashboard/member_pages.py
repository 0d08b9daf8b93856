"""Members (/settings/members): the list, roles, removal, invitations by link; the
invitation page an invitee opens (/invitation/{token}, no login); Your account
(/settings/account): the current user's password.

The rules (never the last admin, not yourself, one open invitation per address, the
password rules, a link used once) live in users.members, users.invitations and
users.service; these routes only turn forms into their calls and refusals into words.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from meterbill.core.errors import ValidationFailed
from meterbill.core.pagination import PageRequest
from meterbill.dashboard import web
from meterbill.dashboard.web import Form, Page, PageContext, list_url, redirect_to, render, requires
from meterbill.users.invitations import (
    INVITATION_LIFETIME,
    InvitationRefused,
    accept_invitation,
    find_open_invitation,
    invite,
    open_invitations,
    pending_invitation,
    revoke_invitation,
)
from meterbill.users.members import change_role, find_member, list_members, remove_member
from meterbill.users.roles import ROLE_LABELS, ROLES
from meterbill.users.service import SESSION_LIFETIME, change_password

router = APIRouter(include_in_schema=False)

ROLE_OPTIONS = [(role, ROLE_LABELS[role]) for role in ROLES]
ROLE_DESCRIPTIONS = {
    "admin": "Everything, including members, taxes and developers' settings.",
    "finance": "Invoices, credit notes, payments, analytics and the organization's settings.",
    "manager": "Customers, their subscriptions, coupons, wallets, invoices and credit notes.",
}
# The invitation link is shown once, on the page the invite form redirects to: it
# travels there in a short-lived cookie of these pages only, and is never stored.
LINK_COOKIE = "mb_invitation_link"
LINK_COOKIE_PATH = "/settings/members"

PASSWORD_RULES = {
    "value_is_too_short": "at least 8 characters",
    "missing_lowercase": "a lowercase letter",
    "missing_uppercase": "an uppercase letter",
    "missing_digit": "a digit",
    "missing_special_character": "a special character",
}
PASSWORD_HINT = (
    "At least 8 characters, with a lowercase and an uppercase letter, a digit and a "
    "special character."
)
MESSAGES = {
    ("email", "invalid_format"): "This value is not an email address, please enter a valid email.",
    ("email", "email_already_used"): "This email already belongs to a member.",
    ("email", "value_already_exist"): "This email already belongs to a member.",
    ("email", "invite_already_exists"): (
        "An invitation is already open for this email: revoke it to invite again."
    ),
    ("role", "invalid_value"): "Choose a role from the list.",
    ("role", "last_admin"): "The organization must keep at least one admin.",
    ("base", "last_admin"): "The organization must keep at least one admin.",
    ("base", "cannot_remove_yourself"): "You cannot remove yourself.",
    ("current_password", "invalid_password"): "This is not your current password.",
    ("password_confirmation", "does_not_match"): "The two passwords are different.",
}
REFUSALS = {
    "unknown": ("This invitation does not exist", 404),
    "used": ("This invitation has already been used", 410),
    "revoked": ("This invitation has been revoked", 410),
    "expired": ("This invitation has expired", 410),
}


def _words(error: ValidationFailed) -> dict[str, str]:
    """The service's refusal in words, one message per field."""
    words: dict[str, str] = {}
    for name, codes in error.details.items():
        codes = codes if isinstance(codes, list) else [codes]
        if name == "password":
            unmet = [PASSWORD_RULES[code] for code in codes if code in PASSWORD_RULES]
            if unmet:
                needs = unmet[0] if len(unmet) == 1 else ", ".join(unmet[:-1]) + " and " + unmet[-1]
                words[name] = f"Your password needs {needs}."
                continue
        code = str(codes[0])
        words[name] = MESSAGES.get((name, code)) or code.replace("_", " ").capitalize()
    return words


# --- Members ---------------------------------------------------------------------------


@dataclass
class MemberErrors:
    """A refusal to show on the members page: under one member's row, or above all."""

    user_id: str | None = None
    messages: dict[str, str] = field(default_factory=dict)


def _members_page(
    request: Request, page: PageContext, errors: MemberErrors | None = None, *, status: int = 200
) -> HTMLResponse:
    params = request.query_params
    members_page = PageRequest.from_query({"page": params.get("page", "1"), "per_page": "20"})
    invitations_page = PageRequest.from_query(
        {"page": params.get("invitations_page", "1"), "per_page": "20"}
    )
    with page.db.transaction(write=False) as session:
        members = list_members(session, page.organization_id, members_page)
        invitations = open_invitations(session, page.organization_id, invitations_page)

    def link(**changes: int | None) -> str:
        state = {
            "page": members_page.page,
            "invitations_page": invitations_page.page,
            **changes,
        }
        return list_url("/settings/members", state, {"invitations_page": 1})

    return render(
        request,
        "settings/members.html",
        {
            "section": "settings",
            "settings_section": "members",
            "members": members.items,
            "members_meta": members.meta,
            "invitations": invitations.items,
            "invitations_meta": invitations.meta,
            "link": link,
            "role_options": ROLE_OPTIONS,
            "role_labels": ROLE_LABELS,
            "failed": errors or MemberErrors(),
            "now": page.now,
        },
        status_code=status,
    )


@router.get("/settings/members", dependencies=[requires("organization:members:view")])
def members(request: Request, page: Page) -> HTMLResponse:
    return _members_page(request, page)


@router.post(
    "/settings/members/{user_id}/role", dependencies=[requires("organization:members:update")]
)
def save_role(request: Request, page: Page, form: Form, user_id: str) -> Response:
    try:
        with page.db.transaction() as session:
            member = change_role(session, page.organization_id, user_id, form.get("role"), page.now)
            email, role = member.email, member.role
    except ValidationFailed as error:
        return _members_page(request, page, MemberErrors(user_id, _words(error)), status=422)
    return redirect_to(
        request, "/settings/members", flash=f"{email} is now {ROLE_LABELS[role].lower()}"
    )


@router.get(
    "/settings/members/{user_id}/remove", dependencies=[requires("organization:members:delete")]
)
def remove_member_dialog(request: Request, page: Page, user_id: str) -> HTMLResponse:
    return _remove_page(request, page, user_id)


def _remove_page(
    request: Request, page: PageContext, user_id: str, error: str | None = None
) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        member = find_member(session, page.organization_id, user_id)
    return render(
        request,
        "settings/remove_member.html",
        {"section": "settings", "settings_section": "members", "member": member, "error": error},
        status_code=422 if error else 200,
    )


@router.post(
    "/settings/members/{user_id}/remove", dependencies=[requires("organization:members:delete")]
)
def remove(request: Request, page: Page, _form: Form, user_id: str) -> Response:
    try:
        with page.db.transaction() as session:
            email = remove_member(session, page.organization_id, user_id, page.user.user_id)
    except ValidationFailed as error:
        return _remove_page(request, page, user_id, _words(error).get("base"))
    return redirect_to(request, "/settings/members", flash=f"{email} was removed")


# --- Invitations -----------------------------------------------------------------------


def _invite_page(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "settings/invite.html",
        {
            "section": "settings",
            "settings_section": "members",
            "values": values,
            "errors": errors or {},
            "role_options": ROLE_OPTIONS,
            "role_descriptions": ROLE_DESCRIPTIONS,
            "days": INVITATION_LIFETIME.days,
        },
        status_code=status,
    )


@router.get("/settings/members/invite", dependencies=[requires("organization:members:create")])
def invite_form(request: Request, page: Page) -> HTMLResponse:
    return _invite_page(request, {"email": "", "role": "admin"})


@router.post("/settings/members/invite", dependencies=[requires("organization:members:create")])
def create_invitation(request: Request, page: Page, form: Form) -> Response:
    values = {"email": form.get("email").strip(), "role": form.get("role")}
    try:
        with page.db.transaction() as session:
            created = invite(
                session,
                page.organization_id,
                values["email"],
                values["role"],
                page.user.user_id,
                page.now,
            )
            invitation_id = created.invitation.id
    except ValidationFailed as error:
        return _invite_page(request, values, _words(error), status=422)
    response = redirect_to(
        request, f"/settings/members/invitations/{invitation_id}", flash="Invitation created"
    )
    response.set_cookie(
        LINK_COOKIE,
        f"{invitation_id}.{created.token}",
        max_age=600,
        path=LINK_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get(
    "/settings/members/invitations/{invitation_id}",
    dependencies=[requires("organization:members:create")],
)
def invitation_link(request: Request, page: Page, invitation_id: str) -> HTMLResponse:
    """The link, once: the cookie that carried it is cleared by this answer."""
    with page.db.transaction(write=False) as session:
        invitation = find_open_invitation(session, page.organization_id, invitation_id)
    carried = request.cookies.get(LINK_COOKIE, "")
    owner, _, token = carried.partition(".")
    link = (
        f"{str(request.base_url).rstrip('/')}/invitation/{token}"
        if owner == invitation_id
        else None
    )
    response = render(
        request,
        "settings/invitation_link.html",
        {
            "section": "settings",
            "settings_section": "members",
            "invitation": invitation,
            "link": link,
            "role_labels": ROLE_LABELS,
        },
    )
    response.delete_cookie(LINK_COOKIE, path=LINK_COOKIE_PATH)
    # The page holds a secret: no copy in any cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post(
    "/settings/members/invitations/{invitation_id}/revoke",
    dependencies=[requires("organization:members:delete")],
)
def revoke(request: Request, page: Page, _form: Form, invitation_id: str) -> Response:
    with page.db.transaction() as session:
        invitation = revoke_invitation(session, page.organization_id, invitation_id, page.now)
        email = invitation.email
    return redirect_to(request, "/settings/members", flash=f"The invitation of {email} was revoked")


# --- The invitee's page (no login) -----------------------------------------------------


def _invitation_page(
    request: Request, token: str, errors: dict[str, str] | None = None, *, status: int = 200
) -> Response:
    with web.database(request).transaction(write=False) as session:
        try:
            pending = pending_invitation(session, token, web.now(request))
        except InvitationRefused as refused:
            title, code = REFUSALS[refused.reason]
            return render(
                request, "settings/invitation_refused.html", {"title": title}, status_code=code
            )
    csrf = secrets.token_urlsafe(32)
    request.state.login_csrf = csrf
    response = render(
        request,
        "settings/invitation.html",
        {
            "pending": pending,
            "role_label": ROLE_LABELS[pending.role],
            "errors": errors or {},
            "token": token,
            "password_hint": PASSWORD_HINT,
        },
        status_code=status,
    )
    web.set_cookie(request, response, web.LOGIN_CSRF_COOKIE, csrf, max_age=3600)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/invitation/{token}")
def invitation(request: Request, token: str) -> Response:
    return _invitation_page(request, token)


@router.post("/invitation/{token}")
async def accept(request: Request, token: str) -> Response:
    form = await web.read_form(request)
    expected = request.cookies.get(web.LOGIN_CSRF_COOKIE, "")
    sent = form.get(web.CSRF_FIELD)
    if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise web.CsrfRefused()
    password = form.get("password")
    if password != form.get("password_confirmation"):
        errors = {"password_confirmation": MESSAGES[("password_confirmation", "does_not_match")]}
        return _invitation_page(request, token, errors, status=422)
    try:
        with web.database(request).transaction() as session:
            session_token = accept_invitation(session, token, password, web.now(request))
    except InvitationRefused:
        return _invitation_page(request, token)
    except ValidationFailed as error:
        return _invitation_page(request, token, _words(error), status=422)
    response = redirect_to(request, "/customers", flash="Welcome! You have joined the organization")
    web.set_cookie(
        request,
        response,
        web.SESSION_COOKIE,
        session_token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    response.delete_cookie(web.LOGIN_CSRF_COOKIE, path="/")
    return response


# --- Your account ----------------------------------------------------------------------


def _account_page(
    request: Request, errors: dict[str, str] | None = None, *, status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "settings/account.html",
        {
            "section": "settings",
            "settings_section": "account",
            "errors": errors or {},
            "password_hint": PASSWORD_HINT,
            "role_labels": ROLE_LABELS,
        },
        status_code=status,
    )


# Every member may see and change their own account: no permission beyond being logged in.
@router.get("/settings/account")
def account(request: Request, page: Page) -> HTMLResponse:
    return _account_page(request)


@router.post("/settings/account/password")
def save_password(request: Request, page: Page, form: Form) -> Response:
    password = form.get("password")
    if password != form.get("password_confirmation"):
        errors = {"password_confirmation": MESSAGES[("password_confirmation", "does_not_match")]}
        return _account_page(request, errors, status=422)
    try:
        with page.db.transaction() as session:
            change_password(
                session,
                page.user.user_id,
                form.get("current_password"),
                password,
                page.user.session_id,
                page.now,
            )
    except ValidationFailed as error:
        return _account_page(request, _words(error), status=422)
    return redirect_to(
        request,
        "/settings/account",
        flash="Password changed; your other sessions were logged out",
    )
