"""Developers: the organization's ID and its API keys (create with a name, shown once;
list with last use; revoke). The webhooks and events pages are beside this one
(webhook_pages.py, event_pages.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.dashboard.web import Form, Page, redirect_to, render, requires
from meterbill.organizations.models import ApiKey
from meterbill.organizations.service import (
    KEY_NAME_MAX,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)

router = APIRouter(include_in_schema=False)

NAME_MESSAGES = {
    "value_is_mandatory": "Please give the key a name",
    "value_is_too_long": f"The name can be at most {KEY_NAME_MAX} characters long",
}
LAST_KEY = "This is the organization's only API key: add another one before revoking it."


def _keys_page(
    request: Request,
    page: Page,
    *,
    created: tuple[ApiKey, str] | None = None,
    name: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        keys = list_api_keys(session, page.organization_id)
    return render(
        request,
        "developers/keys.html",
        {
            "section": "developers",
            "tab": "keys",
            "organization_id": page.organization_id,
            "keys": keys,
            "created": created,
            "values": {"name": name},
            "errors": errors or {},
        },
        status_code=status,
    )


@router.get("/developers", dependencies=[requires("developers:manage")])
def developers(request: Request, page: Page) -> HTMLResponse:
    return _keys_page(request, page)


@router.post("/developers/api-keys", dependencies=[requires("developers:keys:manage")])
def add_key(request: Request, page: Page, form: Form) -> Response:
    """The new key is in this answer's page only (it is stored hashed): no redirect, whose
    next page could not show it."""
    name = form.get("name")
    try:
        with page.db.transaction() as session:
            record, key = create_api_key(session, page.organization_id, name, page.now)
            session.expunge(record)
    except ValidationFailed as exc:
        errors = {key: NAME_MESSAGES.get(codes[0], codes[0]) for key, codes in exc.details.items()}
        return _keys_page(request, page, name=name, errors=errors, status=422)
    response = _keys_page(request, page, created=(record, key))
    # The page holds a secret: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _find_key(page: Page, key_id: str) -> ApiKey:
    with page.db.transaction(write=False) as session:
        keys = list_api_keys(session, page.organization_id)
    key = next((item for item in keys if str(item.id) == key_id), None)
    if key is None:
        raise NotFound("api_key")
    return key


@router.get(
    "/developers/api-keys/{key_id}/revoke", dependencies=[requires("developers:keys:manage")]
)
def confirm_revoke(request: Request, page: Page, key_id: str) -> HTMLResponse:
    return render(
        request,
        "developers/revoke_key.html",
        {"section": "developers", "key": _find_key(page, key_id), "error": None},
    )


@router.post(
    "/developers/api-keys/{key_id}/revoke", dependencies=[requires("developers:keys:manage")]
)
def revoke(request: Request, page: Page, form: Form, key_id: str) -> Response:
    try:
        with page.db.transaction() as session:
            revoke_api_key(session, page.organization_id, key_id)
    except MethodNotAllowed:
        context = {"section": "developers", "key": _find_key(page, key_id), "error": LAST_KEY}
        return render(request, "developers/revoke_key.html", context, status_code=422)
    # This process's cache of recently seen keys would accept it a little longer.
    request.app.state.key_cache.clear()
    return redirect_to(request, "/developers", flash="API key revoked")
