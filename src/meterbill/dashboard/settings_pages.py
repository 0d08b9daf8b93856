"""Settings: the organization's information, logo and timezone (/settings) and its
invoice settings and default taxes (/settings/invoices).

Each block is its own form posting to its own route, which turns it into the body of
PUT /api/v1/organizations and calls the API's parser and service: what the API refuses
is refused here (422, the block re-rendered with words under its fields), what it
accepts is saved (303 back to the page, with a flash). Default taxes are the taxes'
`applied_to_organization`, changed through the taxes service as PUT /api/v1/taxes does.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.pagination import PageRequest
from meterbill.dashboard import settings_form
from meterbill.dashboard.settings_form import BlockForm
from meterbill.dashboard.web import (
    CSRF_FIELD,
    CSRF_HEADER,
    CsrfRefused,
    Form,
    Page,
    PageContext,
    redirect_to,
    render,
    requires,
)
from meterbill.organizations.models import Organization
from meterbill.organizations.schemas import parse_organization_update
from meterbill.organizations.service import get_organization, update_organization
from meterbill.taxes.schemas import parse_tax
from meterbill.taxes.service import list_taxes, update_tax

router = APIRouter(include_in_schema=False)

ORGANIZATION_PAGE = "settings/organization.html"
INVOICES_PAGE = "settings/invoices.html"
ALL_TAXES = PageRequest(page=1, per_page=100)
SAVED = {
    "information": "Organization information saved",
    "timezone": "Timezone saved",
    "currency": "Default currency saved",
    "locale": "Document language saved",
    "grace-period": "Grace period saved",
    "net-payment-term": "Net payment term saved",
    "footer": "Invoice footer saved",
    "numbering": "Invoice numbering saved",
}


def _number_previews(organization: Organization, prefix: str, now: datetime) -> dict[str, str]:
    """What the first invoice number looks like under each scheme (the format of
    invoices.lifecycle's numbering): per customer prefix-customer-invoice, per
    organization prefix-month-invoice."""
    month = now.astimezone(ZoneInfo(organization.timezone)).strftime("%Y%m")
    return {"per_customer": f"{prefix}-001-001", "per_organization": f"{prefix}-{month}-001"}


def _save(page: PageContext, body: dict[str, Any]) -> None:
    """PUT /api/v1/organizations's parser and service, in one transaction."""
    values = parse_organization_update(body)
    with page.db.transaction() as session:
        update_organization(session, page.organization_id, values, page.now)


def _page(
    request: Request,
    page: PageContext,
    template: str,
    failed: BlockForm | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        organization = get_organization(session, page.organization_id)
        values = settings_form.current_values(organization)
        context: dict[str, Any] = {}
        if template == INVOICES_PAGE and page.user.can("organization:taxes:view"):
            context["taxes"] = list_taxes(session, page.organization_id, ALL_TAXES).items
    saved_prefix = values["document_number_prefix"]
    if failed is not None:
        values.update(failed.values)
    return render(
        request,
        template,
        {
            **context,
            "section": "settings",
            "settings_section": "organization" if template == ORGANIZATION_PAGE else "invoices",
            "organization": organization,
            "values": values,
            "errors": failed.errors if failed else {},
            "failed_block": failed.block if failed else None,
            "options": settings_form,
            "limits": settings_form.LIMITS,
            "previews": _number_previews(organization, saved_prefix, page.now),
        },
        status_code=status,
    )


def _save_block(
    request: Request, page: PageContext, form: Form, block: str, template: str, back: str
) -> Response:
    data = settings_form.read_block(block, form)
    try:
        _save(page, settings_form.api_body(data))
    except ValidationFailed as error:
        settings_form.explain(data, error)
        return _page(request, page, template, data, status=422)
    return redirect_to(request, back, flash=SAVED[block])


# --- Organization ----------------------------------------------------------------------


@router.get("/settings", dependencies=[requires("organization:view")])
def organization_settings(request: Request, page: Page) -> HTMLResponse:
    return _page(request, page, ORGANIZATION_PAGE)


@router.post("/settings/information", dependencies=[requires("organization:update")])
def save_information(request: Request, page: Page, form: Form) -> Response:
    return _save_block(request, page, form, "information", ORGANIZATION_PAGE, "/settings")


@router.post("/settings/timezone", dependencies=[requires("organization:update")])
def save_timezone(request: Request, page: Page, form: Form) -> Response:
    return _save_block(request, page, form, "timezone", ORGANIZATION_PAGE, "/settings")


@router.post("/settings/logo", dependencies=[requires("organization:update")])
async def upload_logo(request: Request, page: Page) -> Response:
    """The logo file (multipart form: the CSRF token is read from it here)."""
    data = BlockForm("logo", {})
    try:
        upload = await settings_form.read_upload(request, "logo")
    except settings_form.UploadTooLarge:
        data.errors["logo"] = settings_form.message("logo", "too_big")
        return _page(request, page, ORGANIZATION_PAGE, data, status=422)
    sent = request.headers.get(CSRF_HEADER) or upload.fields.get(CSRF_FIELD, "")
    if not sent or not secrets.compare_digest(sent.encode(), page.user.csrf_token.encode()):
        raise CsrfRefused()
    try:
        _save(page, settings_form.logo_body(upload))
    except ValidationFailed as error:
        settings_form.explain(data, error)
        return _page(request, page, ORGANIZATION_PAGE, data, status=422)
    return redirect_to(request, "/settings", flash="Logo saved")


@router.post("/settings/logo/remove", dependencies=[requires("organization:update")])
def remove_logo(request: Request, page: Page, _form: Form) -> Response:
    _save(page, {"logo": None})
    return redirect_to(request, "/settings", flash="Logo removed")


# --- Invoices --------------------------------------------------------------------------


@router.get("/settings/invoices", dependencies=[requires("organization:invoices:view")])
def invoice_settings(request: Request, page: Page) -> HTMLResponse:
    return _page(request, page, INVOICES_PAGE)


@router.post("/settings/invoices/taxes", dependencies=[requires("organization:taxes:update")])
def save_default_taxes(request: Request, page: Page, form: Form) -> Response:
    """Each live tax applied to the organization or not, as the boxes say."""
    chosen = set(form.getlist("tax_codes"))
    with page.db.transaction() as session:
        taxes = list_taxes(session, page.organization_id, ALL_TAXES).items
        unknown = chosen - {tax.code for tax in taxes}
        if not unknown:
            for tax in taxes:
                applied = tax.code in chosen
                if tax.applied_to_organization != applied:
                    change = parse_tax({"applied_to_organization": applied}, creating=False)
                    update_tax(session, page.organization_id, tax.code, change, page.now)
    if unknown:
        data = BlockForm("taxes", {}, {"tax_codes": "One of these taxes no longer exists."})
        return _page(request, page, INVOICES_PAGE, data, status=422)
    return redirect_to(request, "/settings/invoices", flash="Default taxes saved")


@router.post("/settings/invoices/{block}", dependencies=[requires("organization:invoices:update")])
def save_invoice_setting(request: Request, page: Page, form: Form, block: str) -> Response:
    if block not in settings_form.INVOICE_BLOCKS:
        raise NotFound("page")
    return _save_block(request, page, form, block, INVOICES_PAGE, "/settings/invoices")
