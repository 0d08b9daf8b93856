"""GET /api/v1/analytics/{gross_revenue,overdue_balance,invoice_collection,mrr}: not paginated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from starlette.datastructures import QueryParams

from meterbill.analytics import service
from meterbill.analytics.schemas import (
    gross_revenue_object,
    invoice_collection_object,
    mrr_object,
    overdue_balance_object,
    parse_filters,
)
from meterbill.core.http import ApiContext, Context, JsonResponse, Query, ok

router = APIRouter(prefix="/api/v1/analytics")


def _report(
    ctx: ApiContext,
    params: QueryParams,
    key: str,
    compute: Callable[..., list[Any]],
    render: Callable[[Any], dict[str, Any]],
) -> JsonResponse:
    filters = parse_filters(params)
    with ctx.db.transaction(write=False) as session:
        rows = compute(session, ctx.organization_id, filters, ctx.now)
    return ok({key: [render(row) for row in rows]})


@router.get("/gross_revenue")
def gross_revenue(ctx: Context, params: Query) -> JsonResponse:
    # The organization is its own (single) billing entity.
    entity = str(ctx.organization_id)
    return _report(ctx, params, "gross_revenues", service.gross_revenues,
                   lambda row: gross_revenue_object(row, entity))  # fmt: skip


@router.get("/overdue_balance")
def overdue_balance(ctx: Context, params: Query) -> JsonResponse:
    entity = str(ctx.organization_id)
    return _report(ctx, params, "overdue_balances", service.overdue_balances,
                   lambda row: overdue_balance_object(row, entity))  # fmt: skip


@router.get("/invoice_collection")
def invoice_collection(ctx: Context, params: Query) -> JsonResponse:
    return _report(ctx, params, "invoice_collections", service.invoice_collections,
                   invoice_collection_object)  # fmt: skip


@router.get("/mrr")
def mrr(ctx: Context, params: Query) -> JsonResponse:
    return _report(ctx, params, "mrrs", service.mrrs, mrr_object)
