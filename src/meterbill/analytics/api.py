"""GET /api/v1/analytics/{gross_revenue,overdue_balance,invoice_collection,mrr}: not paginated."""

from __future__ import annotations

from fastapi import APIRouter

from meterbill.analytics import service
from meterbill.analytics.schemas import (
    gross_revenue_object,
    invoice_collection_object,
    mrr_object,
    overdue_balance_object,
    parse_filters,
)
from meterbill.core.http import Context, JsonResponse, Query, ok

router = APIRouter(prefix="/api/v1/analytics")


@router.get("/gross_revenue")
def gross_revenue(ctx: Context, params: Query) -> JsonResponse:
    filters = parse_filters(params)
    with ctx.db.transaction(write=False) as session:
        rows = service.gross_revenues(session, ctx.organization_id, filters, ctx.now)
    # The organization is its own (single) billing entity.
    entity = str(ctx.organization_id)
    return ok({"gross_revenues": [gross_revenue_object(row, entity) for row in rows]})


@router.get("/overdue_balance")
def overdue_balance(ctx: Context, params: Query) -> JsonResponse:
    filters = parse_filters(params)
    with ctx.db.transaction(write=False) as session:
        rows = service.overdue_balances(session, ctx.organization_id, filters, ctx.now)
    entity = str(ctx.organization_id)
    return ok({"overdue_balances": [overdue_balance_object(row, entity) for row in rows]})


@router.get("/invoice_collection")
def invoice_collection(ctx: Context, params: Query) -> JsonResponse:
    filters = parse_filters(params)
    with ctx.db.transaction(write=False) as session:
        rows = service.invoice_collections(session, ctx.organization_id, filters, ctx.now)
    return ok({"invoice_collections": [invoice_collection_object(row) for row in rows]})


@router.get("/mrr")
def mrr(ctx: Context, params: Query) -> JsonResponse:
    filters = parse_filters(params)
    with ctx.db.transaction(write=False) as session:
        rows = service.mrrs(session, ctx.organization_id, filters, ctx.now)
    return ok({"mrrs": [mrr_object(row) for row in rows]})
