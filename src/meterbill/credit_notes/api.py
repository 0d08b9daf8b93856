"""/api/v1/credit_notes and the customer-scoped credit note list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok, query_date
from meterbill.core.limits import AMOUNT_CENTS_MAX
from meterbill.core.metadata import MetadataChange, metadata_response
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.credit_notes import service
from meterbill.credit_notes.amounts import NoteAmounts
from meterbill.credit_notes.models import CreditNote
from meterbill.credit_notes.schemas import (
    CREDIT_STATUSES,
    REASONS,
    REFUND_STATUSES,
    credit_note_object,
    parse_credit_note,
    parse_items,
    parse_metadata_body,
    parse_refund_status,
)
from meterbill.customers.api import embedded_customers
from meterbill.customers.service import find_customer
from meterbill.documents.service import documents_of, urls
from meterbill.invoices.models import Fee, Invoice
from meterbill.invoices.schemas import fee_object
from meterbill.organizations.service import get_organization
from meterbill.subscriptions.models import Subscription

router = APIRouter(prefix="/api/v1")


def render_credit_notes(
    session: Session, notes: list[CreditNote], ctx: Context
) -> list[dict[str, Any]]:
    if not notes:
        return []
    entity = get_organization(session, ctx.organization_id).billing_entity_code
    invoices = {
        invoice.id: invoice
        for invoice in session.scalars(
            select(Invoice).where(Invoice.id.in_({note.invoice_id for note in notes}))
        )
    }
    rendered_customers = embedded_customers(session, {note.customer_id for note in notes})
    fees = list(
        session.scalars(
            select(Fee).where(Fee.id.in_({item.fee_id for note in notes for item in note.items}))
        )
    )
    subscriptions = {
        subscription.id: subscription.external_id
        for subscription in session.scalars(
            select(Subscription).where(
                Subscription.id.in_({fee.subscription_id for fee in fees if fee.subscription_id})
            )
        )
    }
    fee_objects = {
        fee.id: fee_object(
            fee,
            external_subscription_id=subscriptions.get(fee.subscription_id),
            external_customer_id=rendered_customers[fee.customer_id]["external_id"]
            if fee.customer_id in rendered_customers
            else None,
        )
        for fee in fees
    }
    documents = documents_of(session, "credit_note", [note.id for note in notes])
    rendered = []
    for note in notes:
        file_url, xml_url = urls(documents.get(note.id), note.number, ctx.now)
        rendered.append(
            credit_note_object(
                note,
                invoices[note.invoice_id],
                billing_entity_code=entity,
                customer=rendered_customers[note.customer_id],
                fees=fee_objects,
                file_url=file_url,
                xml_url=xml_url,
            )
        )
    return rendered


def _estimate_object(estimate: service.Estimate) -> dict[str, Any]:
    amounts: NoteAmounts = estimate.amounts
    invoice = estimate.invoice
    return {
        "lago_invoice_id": str(invoice.id),
        "invoice_number": invoice.number,
        "currency": invoice.currency,
        "taxes_amount_cents": estimate.taxes_amount_cents,
        "precise_taxes_amount_cents": format(amounts.precise_taxes, "f"),
        "taxes_rate": float(amounts.taxes_rate),
        "sub_total_excluding_taxes_amount_cents": amounts.sub_total_excluding_taxes_amount_cents,
        "max_creditable_amount_cents": estimate.max_creditable_amount_cents,
        "max_refundable_amount_cents": estimate.max_refundable_amount_cents,
        "max_offsettable_amount_cents": estimate.max_offsettable_amount_cents,
        "coupons_adjustment_amount_cents": amounts.coupons_adjustment_amount_cents,
        "precise_coupons_adjustment_amount_cents": format(amounts.precise_coupons, "f"),
        "items": [
            {"lago_fee_id": str(fee.id), "amount_cents": int(amount)}
            for fee, amount in estimate.items
        ],
        "applied_taxes": [
            {
                "lago_tax_id": str(part.tax.tax_id),
                "tax_name": part.tax.name,
                "tax_code": part.tax.code,
                "tax_rate": float(part.tax.rate),
                "tax_description": part.tax.description,
                "amount_cents": part.amount_cents,
                "amount_currency": invoice.currency,
                "base_amount_cents": part.base_amount_cents,
            }
            for part in amounts.taxes
        ],
    }


def _integer(params: Query, key: str) -> int | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed.single(key, "value_is_invalid") from None
    if abs(value) > AMOUNT_CENTS_MAX:
        raise ValidationFailed.single(key, "value_is_out_of_range")
    return value


def _choice(params: Query, key: str, choices: tuple[str, ...]) -> str | None:
    raw = params.get(key)
    if not raw:
        return None
    if raw not in choices:
        raise ValidationFailed.single(key, "value_is_invalid")
    return raw


def filters_from(params: Query) -> service.CreditNoteFilters:
    self_billed = params.get("self_billed")
    return service.CreditNoteFilters(
        external_customer_id=params.get("external_customer_id"),
        issuing_date_from=query_date(params, "issuing_date_from"),
        issuing_date_to=query_date(params, "issuing_date_to"),
        search_term=params.get("search_term") or None,
        currency=params.get("currency") or None,
        reason=_choice(params, "reason", REASONS),
        credit_status=_choice(params, "credit_status", CREDIT_STATUSES),
        refund_status=_choice(params, "refund_status", REFUND_STATUSES),
        invoice_number=params.get("invoice_number") or None,
        amount_from=_integer(params, "amount_from"),
        amount_to=_integer(params, "amount_to"),
        self_billed=None if self_billed is None else self_billed.lower() in {"true", "1", "t"},
        billing_entity_codes=params.getlist("billing_entity_codes[]"),
    )


def _page(
    ctx: Context, session: Session, filters: service.CreditNoteFilters, params: Query
) -> JsonResponse:
    organization = get_organization(session, ctx.organization_id)
    page = service.list_credit_notes(session, organization, filters, PageRequest.from_query(params))
    return ok(
        {
            "credit_notes": render_credit_notes(session, list(page.items), ctx),
            "meta": page.meta,
        }
    )


@router.post("/credit_notes")
def create_credit_note(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_credit_note(root_object(body, "credit_note"))
    with ctx.db.transaction() as session:
        note = service.create_credit_note(session, ctx.organization_id, data, ctx.now)
        return ok({"credit_note": render_credit_notes(session, [note], ctx)[0]})


@router.post("/credit_notes/estimate")
def estimate_credit_note(ctx: Context, body: JsonBody) -> JsonResponse:
    data = root_object(body, "credit_note")
    invoice_id = data.get("invoice_id")
    items = parse_items(data)
    with ctx.db.transaction(write=False) as session:
        estimate = service.estimate(
            session, ctx.organization_id, invoice_id if isinstance(invoice_id, str) else "", items
        )
        return ok({"estimated_credit_note": _estimate_object(estimate)})


@router.get("/credit_notes")
def list_credit_notes(ctx: Context, params: Query) -> JsonResponse:
    filters = filters_from(params)
    with ctx.db.transaction(write=False) as session:
        return _page(ctx, session, filters, params)


@router.get("/customers/{external_id}/credit_notes")
def list_customer_credit_notes(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    filters = filters_from(params)
    with ctx.db.transaction(write=False) as session:
        customer = find_customer(session, ctx.organization_id, external_id)
        filters = service.CreditNoteFilters(
            **{**filters.__dict__, "external_customer_id": None, "customer_id": customer.id}
        )
        return _page(ctx, session, filters, params)


@router.get("/credit_notes/{credit_note_id}")
def get_credit_note(ctx: Context, credit_note_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        note = service.find_credit_note(session, ctx.organization_id, credit_note_id)
        return ok({"credit_note": render_credit_notes(session, [note], ctx)[0]})


@router.put("/credit_notes/{credit_note_id}")
def update_credit_note(ctx: Context, credit_note_id: str, body: JsonBody) -> JsonResponse:
    refund_status, metadata = parse_refund_status(root_object(body, "credit_note"))
    with ctx.db.transaction() as session:
        note = service.update_credit_note(
            session, ctx.organization_id, credit_note_id, refund_status, metadata, ctx.now
        )
        return ok({"credit_note": render_credit_notes(session, [note], ctx)[0]})


@router.put("/credit_notes/{credit_note_id}/void")
def void_credit_note(ctx: Context, credit_note_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        note = service.void_credit_note(session, ctx.organization_id, credit_note_id, ctx.now)
        return ok({"credit_note": render_credit_notes(session, [note], ctx)[0]})


def _change_metadata(ctx: Context, credit_note_id: str, change: MetadataChange) -> JsonResponse:
    with ctx.db.transaction() as session:
        result = service.change_metadata(
            session, ctx.organization_id, credit_note_id, change, ctx.now
        )
        return ok(metadata_response(result))


@router.post("/credit_notes/{credit_note_id}/metadata")
def replace_metadata(ctx: Context, credit_note_id: str, body: JsonBody) -> JsonResponse:
    change = MetadataChange.replacing(parse_metadata_body(body))
    return _change_metadata(ctx, credit_note_id, change)


@router.patch("/credit_notes/{credit_note_id}/metadata")
def merge_metadata(ctx: Context, credit_note_id: str, body: JsonBody) -> JsonResponse:
    return _change_metadata(ctx, credit_note_id, MetadataChange.merging(parse_metadata_body(body)))


@router.delete("/credit_notes/{credit_note_id}/metadata")
def delete_metadata(ctx: Context, credit_note_id: str) -> JsonResponse:
    return _change_metadata(ctx, credit_note_id, MetadataChange.clearing())


@router.delete("/credit_notes/{credit_note_id}/metadata/{key}")
def delete_metadata_key(ctx: Context, credit_note_id: str, key: str) -> JsonResponse:
    return _change_metadata(ctx, credit_note_id, MetadataChange.removing(key))
