"""/api/v1/payments and the customer-scoped payment list."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest
from meterbill.core.records import by_id, uuid_or_none
from meterbill.core.validation import root_object
from meterbill.customers.models import Customer
from meterbill.customers.service import find_customer
from meterbill.invoices.models import Invoice
from meterbill.payment_providers.models import PaymentProvider
from meterbill.payments import service
from meterbill.payments.models import Payment
from meterbill.payments.schemas import parse_payment, payment_object

router = APIRouter(prefix="/api/v1")


def render_payments(session: Session, payments: list[Payment]) -> list[dict[str, Any]]:
    invoices = by_id(session, Invoice, {payment.invoice_id for payment in payments})
    customers = by_id(session, Customer, {payment.customer_id for payment in payments})
    providers = by_id(
        session,
        PaymentProvider,
        {payment.payment_provider_id for payment in payments if payment.payment_provider_id},
    )
    return [
        payment_object(
            payment,
            invoices[payment.invoice_id],
            customers[payment.customer_id],
            providers.get(payment.payment_provider_id) if payment.payment_provider_id else None,
        )
        for payment in payments
    ]


def _invoice_filter(params: Query) -> uuid.UUID | None:
    raw = params.get("invoice_id")
    if not raw:
        return None
    key = uuid_or_none(raw)
    if key is None:
        # Lago's filter contract answers with dry-validation's message.
        raise ValidationFailed.single("invoice_id", "is in invalid format")
    return key


def _page(
    ctx: Context, session: Session, filters: service.PaymentFilters, params: Query
) -> JsonResponse:
    page = service.list_payments(
        session, ctx.organization_id, filters, PageRequest.from_query(params)
    )
    return ok({"payments": render_payments(session, list(page.items)), "meta": page.meta})


@router.post("/payments")
def create_payment(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_payment(root_object(body, "payment"))
    with ctx.db.transaction() as session:
        payment = service.create_manual_payment(session, ctx.organization_id, data, ctx.now)
        return ok({"payment": render_payments(session, [payment])[0]})


@router.get("/payments")
def list_payments(ctx: Context, params: Query) -> JsonResponse:
    filters = service.PaymentFilters(
        invoice_id=_invoice_filter(params),
        external_customer_id=params.get("external_customer_id") or None,
    )
    with ctx.db.transaction(write=False) as session:
        return _page(ctx, session, filters, params)


@router.get("/payments/{payment_id}")
def get_payment(ctx: Context, payment_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        payment = service.find_payment(session, ctx.organization_id, payment_id)
        return ok({"payment": render_payments(session, [payment])[0]})


@router.get("/customers/{external_id}/payments")
def list_customer_payments(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    invoice_id = _invoice_filter(params)
    with ctx.db.transaction(write=False) as session:
        customer = find_customer(session, ctx.organization_id, external_id)
        filters = service.PaymentFilters(invoice_id=invoice_id, customer_id=customer.id)
        return _page(ctx, session, filters, params)
