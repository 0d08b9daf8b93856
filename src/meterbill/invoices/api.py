"""/api/v1/invoices and the customer-scoped invoice list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.errors import BadRequest, ValidationFailed
from meterbill.core.http import ApiContext, Context, JsonBody, JsonResponse, Query, ok, query_date
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.credit_notes.service import offsets_by_invoice
from meterbill.credit_notes.voiding import parse_void_notes
from meterbill.customers.api import embedded_customers
from meterbill.customers.service import find_customer
from meterbill.documents.models import Document
from meterbill.documents.service import documents_of, urls
from meterbill.invoices import preview, service
from meterbill.invoices.models import Invoice
from meterbill.invoices.one_off import create_one_off_invoice as create_one_off
from meterbill.invoices.one_off import parse_one_off
from meterbill.invoices.schemas import invoice_object, parse_invoice_update
from meterbill.organizations.service import get_organization
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.schemas import subscription_object
from meterbill.subscriptions.service import subscription_views

router = APIRouter(prefix="/api/v1")

TRUE_VALUES = {"true", "1", "t"}


def _links(document: Document | None, number: str, ctx: Context) -> dict[str, str | None]:
    file_url, xml_url = urls(document, number, ctx.now)
    return {"file_url": file_url, "xml_url": xml_url}


def render_invoices(
    session: Session, invoices: list[Invoice], ctx: Context, *, full: bool
) -> list[dict[str, Any]]:
    if not invoices:
        return []
    entity = get_organization(session, ctx.organization_id).billing_entity_code
    rendered_customers = embedded_customers(session, {invoice.customer_id for invoice in invoices})
    offsets = offsets_by_invoice(session, [invoice.id for invoice in invoices])
    documents = documents_of(session, "invoice", [invoice.id for invoice in invoices])
    # Every invoice's subscriptions in one read (a billing run renders hundreds).
    wanted = (
        {
            invoice.id: [entry.subscription_id for entry in invoice.billing_periods]
            + [fee.subscription_id for fee in invoice.fees if fee.subscription_id]
            for invoice in invoices
        }
        if full
        else {}
    )
    everyone = {subscription_id for ids in wanted.values() for subscription_id in ids}
    found_all = (
        list(session.scalars(select(Subscription).where(Subscription.id.in_(everyone))))
        if everyone
        else []
    )
    views = subscription_views(session, found_all, ctx.now) if found_all else {}
    by_id = {subscription.id: subscription for subscription in found_all}
    rendered = []
    for invoice in invoices:
        subscriptions: dict[Any, Subscription] = {}
        subscription_objects: list[dict[str, Any]] = []
        if full:
            found = [by_id[key] for key in dict.fromkeys(wanted[invoice.id]) if key in by_id]
            subscriptions = {subscription.id: subscription for subscription in found}
            subscription_objects = [
                subscription_object(subscription, views[subscription.id]) for subscription in found
            ]
        rendered.append(
            invoice_object(
                invoice,
                billing_entity_code=entity,
                customer=rendered_customers[invoice.customer_id],
                subscriptions=subscriptions,
                subscription_objects=subscription_objects,
                external_customer_id=rendered_customers[invoice.customer_id]["external_id"],
                full=full,
                offsetted=offsets.get(invoice.id, 0),
                **_links(documents.get(invoice.id), invoice.number, ctx),
            )
        )
    return rendered


def filters_from(params: Query) -> service.InvoiceFilters:
    overdue = params.get("payment_overdue")
    statuses = params.getlist("status[]") or ([params["status"]] if params.get("status") else [])
    return service.InvoiceFilters(
        external_customer_id=params.get("external_customer_id"),
        statuses=statuses,
        payment_status=params.get("payment_status"),
        payment_overdue=None if overdue is None else overdue.lower() in TRUE_VALUES,
        invoice_type=params.get("invoice_type"),
        currency=params.get("currency"),
        issuing_date_from=query_date(params, "issuing_date_from"),
        issuing_date_to=query_date(params, "issuing_date_to"),
        search_term=(params.get("search_term") or "").strip() or None,
        amount_from=_query_cents(params, "amount_from"),
        amount_to=_query_cents(params, "amount_to"),
    )


def _query_cents(params: Query, key: str) -> int | None:
    """An optional amount in minor units; anything but an integer is 422."""
    raw = (params.get(key) or "").strip()
    if not raw:
        return None
    digits = raw.removeprefix("-")
    # ASCII digits only: int() also takes "1_000" and other scripts' digits.
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
        raise ValidationFailed.single(key, "value_is_invalid")
    return int(raw)


@router.get("/invoices")
def list_invoices(ctx: Context, params: Query) -> JsonResponse:
    filters = filters_from(params)
    with ctx.db.transaction(write=False) as session:
        page = service.list_invoices(
            session, ctx.organization_id, filters, PageRequest.from_query(params)
        )
        return ok(
            {
                "invoices": render_invoices(session, list(page.items), ctx, full=False),
                "meta": page.meta,
            }
        )


@router.get("/customers/{external_id}/invoices")
def list_customer_invoices(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        customer = find_customer(session, ctx.organization_id, external_id)
        filters = filters_from(params)
        filters = service.InvoiceFilters(**{**filters.__dict__, "customer_id": customer.id})
        page = service.list_invoices(
            session, ctx.organization_id, filters, PageRequest.from_query(params)
        )
        return ok(
            {
                "invoices": render_invoices(session, list(page.items), ctx, full=False),
                "meta": page.meta,
            }
        )


@router.post("/invoices")
def create_one_off_invoice(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_one_off(root_object(body, "invoice"))
    with ctx.db.transaction() as session:
        invoice = create_one_off(session, ctx.organization_id, data, ctx.now)
        return ok({"invoice": render_invoices(session, [invoice], ctx, full=True)[0]})


@router.get("/invoices/{invoice_id}")
def get_invoice(ctx: Context, invoice_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        invoice = service.find_invoice(session, ctx.organization_id, invoice_id)
        return ok({"invoice": render_invoices(session, [invoice], ctx, full=True)[0]})


@router.put("/invoices/{invoice_id}")
def update_invoice(ctx: Context, invoice_id: str, body: JsonBody) -> JsonResponse:
    payment_status, metadata = parse_invoice_update(root_object(body, "invoice"))
    with ctx.db.transaction() as session:
        invoice = service.update_invoice(
            session, ctx.organization_id, invoice_id, payment_status, metadata, ctx.now
        )
        return ok({"invoice": render_invoices(session, [invoice], ctx, full=True)[0]})


@router.put("/invoices/{invoice_id}/finalize")
def finalize_invoice(ctx: Context, invoice_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        invoice = service.finalize_invoice(session, ctx.organization_id, invoice_id, ctx.now)
        return ok({"invoice": render_invoices(session, [invoice], ctx, full=True)[0]})


@router.put("/invoices/{invoice_id}/refresh")
@router.post("/invoices/{invoice_id}/refresh")
def refresh_invoice(ctx: Context, invoice_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        invoice = service.refresh_invoice(session, ctx.organization_id, invoice_id, ctx.now)
        return ok({"invoice": render_invoices(session, [invoice], ctx, full=True)[0]})


@router.post("/invoices/{invoice_id}/retry")
def retry_invoice(ctx: Context, invoice_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        invoice = service.retry_invoice(session, ctx.organization_id, invoice_id, ctx.now)
        return ok({"invoice": render_invoices(session, [invoice], ctx, full=True)[0]})


@router.post("/invoices/{invoice_id}/void")
def void_invoice(ctx: Context, invoice_id: str, body: JsonBody) -> JsonResponse:
    notes = parse_void_notes(body)
    with ctx.db.transaction() as session:
        invoice = service.void_invoice(session, ctx.organization_id, invoice_id, ctx.now, notes)
        return ok({"invoice": render_invoices(session, [invoice], ctx, full=True)[0]})


def _renderer(ctx: ApiContext) -> preview.Render:
    return lambda session, invoices: render_invoices(session, invoices, ctx, full=True)


@router.post("/invoices/preview")
def preview_invoice(ctx: Context, body: JsonBody) -> JsonResponse:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    data = preview.parse_preview(body)
    invoice = preview.preview_invoice(ctx.db, ctx.organization_id, data, ctx.now, _renderer(ctx))
    return ok({"invoice": invoice})


@router.get("/subscriptions/{external_id}/invoice_forecast")
def forecast_invoices(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    raw = params.get("periods", "1")
    # ASCII only: str.isdigit() also accepts "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()):
        raise ValidationFailed.single("periods", "value_is_invalid")
    page = preview.forecast(
        ctx.db, ctx.organization_id, external_id, int(raw), ctx.now, _renderer(ctx),
        PageRequest.from_query(params),
    )  # fmt: skip
    return ok({"invoices": list(page.items), "meta": page.meta})
