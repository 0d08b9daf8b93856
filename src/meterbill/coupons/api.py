"""/api/v1/coupons, /api/v1/applied_coupons and the customer-scoped applied coupons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.coupons import service
from meterbill.coupons.models import AppliedCoupon, Coupon
from meterbill.coupons.schemas import (
    applied_coupon_object,
    coupon_object,
    parse_applied_coupon,
    parse_coupon,
)
from meterbill.customers.models import Customer
from meterbill.customers.service import find_customer

router = APIRouter(prefix="/api/v1")


def _coupon(session: Session, coupon: Coupon) -> dict[str, Any]:
    plans, metrics = service.coupon_targets(session, coupon)
    return coupon_object(coupon, plans, metrics)


def _applied(session: Session, applied: AppliedCoupon) -> dict[str, Any]:
    coupon = session.get(Coupon, applied.coupon_id)
    customer = session.get(Customer, applied.customer_id)
    assert coupon is not None and customer is not None
    return applied_coupon_object(
        applied, coupon, customer.external_id, service.amount_cents_remaining(session, applied)
    )


@router.post("/coupons")
def create_coupon(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_coupon(root_object(body, "coupon"), creating=True)
    with ctx.db.transaction() as session:
        coupon = service.create_coupon(session, ctx.organization_id, data, ctx.now)
        return ok({"coupon": _coupon(session, coupon)})


@router.get("/coupons")
def list_coupons(ctx: Context, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        page = service.list_coupons(session, ctx.organization_id, PageRequest.from_query(params))
        return ok(
            {"coupons": [_coupon(session, coupon) for coupon in page.items], "meta": page.meta}
        )


@router.get("/coupons/{code}")
def get_coupon(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        return ok(
            {"coupon": _coupon(session, service.find_coupon(session, ctx.organization_id, code))}
        )


@router.put("/coupons/{code}")
def update_coupon(ctx: Context, code: str, body: JsonBody) -> JsonResponse:
    data = parse_coupon(root_object(body, "coupon"), creating=False)
    with ctx.db.transaction() as session:
        coupon = service.update_coupon(session, ctx.organization_id, code, data, ctx.now)
        return ok({"coupon": _coupon(session, coupon)})


@router.delete("/coupons/{code}")
def delete_coupon(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        coupon = service.delete_coupon(session, ctx.organization_id, code, ctx.now)
        return ok({"coupon": _coupon(session, coupon)})


@router.post("/applied_coupons")
def apply_coupon(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_applied_coupon(root_object(body, "applied_coupon"))
    with ctx.db.transaction() as session:
        applied = service.apply_coupon(session, ctx.organization_id, data, ctx.now)
        return ok({"applied_coupon": _applied(session, applied)})


def _list_applied(ctx: Context, params: Query, customer: str | None) -> JsonResponse:
    filters = service.AppliedCouponFilters(
        status=params.get("status"),
        external_customer_id=customer or params.get("external_customer_id"),
        coupon_codes=params.getlist("coupon_code[]"),
    )
    with ctx.db.transaction(write=False) as session:
        page = service.list_applied_coupons(
            session, ctx.organization_id, filters, PageRequest.from_query(params)
        )
        return ok(
            {
                "applied_coupons": [_applied(session, applied) for applied in page.items],
                "meta": page.meta,
            }
        )


@router.get("/applied_coupons")
def list_applied_coupons(ctx: Context, params: Query) -> JsonResponse:
    return _list_applied(ctx, params, None)


@router.get("/customers/{external_id}/applied_coupons")
def list_customer_applied_coupons(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        find_customer(session, ctx.organization_id, external_id)
    return _list_applied(ctx, params, external_id)


@router.delete("/customers/{external_id}/applied_coupons/{applied_coupon_id}")
def terminate_applied_coupon(
    ctx: Context, external_id: str, applied_coupon_id: str
) -> JsonResponse:
    with ctx.db.transaction() as session:
        applied = service.terminate_applied_coupon(
            session, ctx.organization_id, external_id, applied_coupon_id, ctx.now
        )
        return ok({"applied_coupon": _applied(session, applied)})
