"""Settings › Integrations: the organization's Stripe connections (/settings/integrations).

The forms become the bodies of POST / PUT /api/v1/payment_providers and go through the
API's parser and service: what the API refuses is refused here (422, the form again with
words under its fields). Secrets are never shown again: a blank secret field on edit
keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.customers.models import Customer
from meterbill.dashboard.customer_tabs import register_tab_context
from meterbill.dashboard.web import Form, Page, PageContext, redirect_to, render, requires
from meterbill.payment_providers import service
from meterbill.payment_providers.models import ProviderCustomer
from meterbill.payment_providers.options import ProviderOptions
from meterbill.payment_providers.schemas import connection_object, parse_connection

router = APIRouter(include_in_schema=False)

PAGE = "settings/integrations.html"
FIELDS = ("name", "code", "secret_key", "webhook_secret", "success_redirect_url")
MESSAGES = {
    "value_is_mandatory": "Required.",
    "value_already_exist": "Another connection has this code.",
    "value_is_invalid": "Not a Stripe secret key (sk_... or rk_...).",
    "url_is_invalid": "Not a web address (https://...).",
    "encryption_key_missing": "Set METERBILL_ENCRYPTION_KEY on the server first: secrets "
    "are stored encrypted with it.",
}


def _provider_sync(session: Session, page: PageContext, customer: Customer) -> dict[str, Any]:
    """The customer's creation at Stripe, for its Information tab (its last failure)."""
    return {"provider_sync": session.get(ProviderCustomer, customer.id)}


register_tab_context("information", _provider_sync)


def _options(request: Request) -> ProviderOptions:
    options: ProviderOptions = request.app.state.provider_options
    return options


def _page(
    request: Request,
    page: PageContext,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    editing: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    public_url = _options(request).public_url or str(request.base_url)
    with page.db.transaction(write=False) as session:
        connections = [
            connection_object(provider, public_url)
            for provider in service.list_connections(session, page.organization_id)
        ]
    return render(
        request,
        PAGE,
        {
            "section": "settings",
            "settings_section": "integrations",
            "connections": connections,
            "values": values or {},
            "errors": errors or {},
            "editing": editing,
            "encryption_ready": _options(request).box().ready,
        },
        status_code=status,
    )


def _body(form: Form, *, creating: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"provider_type": "stripe"} if creating else {}
    for field in FIELDS:
        value = form.get(field).strip()
        if field in ("secret_key", "webhook_secret") and not value and not creating:
            continue  # blank: keep the stored secret
        if field == "code" and not creating:
            continue
        body[field] = value or None
    return body


def _explain(error: ValidationFailed) -> dict[str, str]:
    return {
        field: MESSAGES.get(codes[0], codes[0]) if isinstance(codes, list) else str(codes)
        for field, codes in error.details.items()
    }


@router.get("/settings/integrations", dependencies=[requires("organization:integrations:view")])
def integrations(request: Request, page: Page) -> HTMLResponse:
    return _page(request, page)


@router.post(
    "/settings/integrations/stripe", dependencies=[requires("organization:integrations:create")]
)
def connect_stripe(request: Request, page: Page, form: Form) -> Response:
    values = {field: form.get(field) for field in ("name", "code", "success_redirect_url")}
    try:
        data = parse_connection(_body(form, creating=True), creating=True)
        with page.db.transaction() as session:
            service.connect(session, page.organization_id, data, _options(request).box(), page.now)
    except ValidationFailed as error:
        return _page(request, page, values=values, errors=_explain(error), status=422)
    return redirect_to(request, "/settings/integrations", flash="Stripe connected")


@router.post(
    "/settings/integrations/{code}/edit",
    dependencies=[requires("organization:integrations:update")],
)
def update_stripe(request: Request, page: Page, form: Form, code: str) -> Response:
    try:
        data = parse_connection(_body(form, creating=False), creating=False)
        with page.db.transaction() as session:
            service.update_connection(
                session, page.organization_id, code, data, _options(request).box(), page.now
            )
    except ValidationFailed as error:
        return _page(request, page, errors=_explain(error), editing=code, status=422)
    return redirect_to(request, "/settings/integrations", flash="Connection saved")


@router.post(
    "/settings/integrations/{code}/delete",
    dependencies=[requires("organization:integrations:delete")],
)
def disconnect(request: Request, page: Page, _form: Form, code: str) -> Response:
    with page.db.transaction() as session:
        service.delete_connection(session, page.organization_id, code, page.now)
    return redirect_to(request, "/settings/integrations", flash="Stripe disconnected")
