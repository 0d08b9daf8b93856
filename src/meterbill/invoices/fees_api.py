"""/api/v1/fees: fees across invoices, and the pay-in-advance fees no invoice carries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest, paginate
from meterbill.core.records import key_or_not_found
from meterbill.core.validation import root_object
from meterbill.customers.models import Customer
from meterbill.customers.service import live_id
from meterbill.invoices.models import Fee, Invoice
from meterbill.invoices.schemas import HIDDEN_STATUSES, fee_object
from meterbill.subscriptions.models import Subscription

router = APIRouter(prefix="/api/v1")

FEE_PAYMENT_STATUSES = ("pending", "succeeded", "failed", "refunded")


def _visible(organization_id: uuid.UUID) -> Any:
    shown = select(Invoice.id).where(
        Invoice.organization_id == organization_id, Invoice.status.not_in(HIDDEN_STATUSES)
    )
    return select(Fee).where(
        Fee.organization_id == organization_id,
        Fee.deleted_at.is_(None),
        or_(Fee.invoice_id.is_(None), Fee.invoice_id.in_(shown)),
    )


def _render(session: Session, fees: list[Fee]) -> list[dict[str, Any]]:
    customers = dict(
        session.execute(
            select(Customer.id, Customer.external_id).where(
                Customer.id.in_({fee.customer_id for fee in fees})
            )
        ).all()
    )
    subscriptions = dict(
        session.execute(
            select(Subscription.id, Subscription.external_id).where(
                Subscription.id.in_({fee.subscription_id for fee in fees if fee.subscription_id})
            )
        ).all()
    )
    return [
        fee_object(
            fee,
            external_subscription_id=subscriptions.get(fee.subscription_id),
            external_customer_id=customers.get(fee.customer_id),
        )
        for fee in fees
    ]


def _instant(params: Query, key: str) -> datetime | None:
    raw = params.get(key)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed.single(key, "invalid_date") from None
    return value if value.tzinfo else None


@router.get("/fees")
def list_fees(ctx: Context, params: Query) -> JsonResponse:
    query = _visible(ctx.organization_id)
    if params.get("external_customer_id"):
        query = query.where(
            Fee.customer_id.in_(live_id(ctx.organization_id, params["external_customer_id"]))
        )
    if params.get("external_subscription_id"):
        query = query.where(
            Fee.subscription_id.in_(
                select(Subscription.id).where(
                    Subscription.organization_id == ctx.organization_id,
                    Subscription.external_id == params["external_subscription_id"],
                )
            )
        )
    if params.get("currency"):
        query = query.where(Fee.amount_currency == params["currency"].upper())
    if params.get("fee_type"):
        query = query.where(Fee.fee_type == params["fee_type"])
    if params.get("billable_metric_code"):
        query = query.where(
            Fee.item_type == "BillableMetric", Fee.item_code == params["billable_metric_code"]
        )
    if params.get("payment_status"):
        query = query.where(Fee.payment_status == params["payment_status"])
    created_from = _instant(params, "created_at_from")
    created_to = _instant(params, "created_at_to")
    if created_from:
        query = query.where(Fee.created_at >= created_from)
    if created_to:
        query = query.where(Fee.created_at <= created_to)
    with ctx.db.transaction(write=False) as session:
        page = paginate(
            session,
            query.order_by(Fee.created_at.desc(), Fee.position, Fee.id),
            PageRequest.from_query(params),
        )
        return ok({"fees": _render(session, list(page.items)), "meta": page.meta})


def _find(session: Session, organization_id: uuid.UUID, fee_id: str) -> Fee:
    key = key_or_not_found(fee_id, "fee")
    fee = session.scalar(_visible(organization_id).where(Fee.id == key))
    if fee is None:
        raise NotFound("fee")
    return fee


@router.get("/fees/{fee_id}")
def get_fee(ctx: Context, fee_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        return ok({"fee": _render(session, [_find(session, ctx.organization_id, fee_id)])[0]})


@router.put("/fees/{fee_id}")
def update_fee(ctx: Context, fee_id: str, body: JsonBody) -> JsonResponse:
    data = root_object(body, "fee")
    status = data.get("payment_status")
    with ctx.db.transaction() as session:
        fee = _find(session, ctx.organization_id, fee_id)
        if fee.invoice_id is not None:
            raise MethodNotAllowed("invoiced_fee")
        if status not in FEE_PAYMENT_STATUSES:
            raise ValidationFailed.single("payment_status", "value_is_invalid")
        fee.payment_status = status
        column = {"succeeded": "succeeded_at", "failed": "failed_at", "refunded": "refunded_at"}
        if status in column:
            setattr(fee, column[status], ctx.now)
        fee.updated_at = ctx.now
        session.flush()
        return ok({"fee": _render(session, [fee])[0]})


@router.delete("/fees/{fee_id}")
def delete_fee(ctx: Context, fee_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        fee = _find(session, ctx.organization_id, fee_id)
        if fee.invoice_id is not None:
            raise MethodNotAllowed("invoiced_fee")
        fee.deleted_at = ctx.now
        session.flush()
        return ok({"fee": _render(session, [fee])[0]})
