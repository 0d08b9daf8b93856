"""/api/v1/billable_metrics."""

from __future__ import annotations

from fastapi import APIRouter

from meterbill.core.errors import MissingParam
from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.metrics import service
from meterbill.metrics.schemas import metric_object, parse_metric

router = APIRouter(prefix="/api/v1")


@router.post("/billable_metrics")
def create_metric(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_metric(root_object(body, "billable_metric"), creating=True)
    with ctx.db.transaction() as session:
        metric = service.create_metric(session, ctx.organization_id, data, ctx.now)
        return ok({"billable_metric": metric_object(metric, {})})


@router.post("/billable_metrics/evaluate_expression")
def evaluate_expression(ctx: Context, body: JsonBody) -> JsonResponse:
    if not isinstance(body, dict) or not isinstance(body.get("expression"), str):
        raise MissingParam("expression")
    event = body.get("event") if isinstance(body.get("event"), dict) else {}
    value = service.evaluate_expression(body["expression"], event, ctx.now)
    return ok({"expression_result": {"value": value}})


@router.get("/billable_metrics")
def list_metrics(ctx: Context, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        page = service.list_metrics(session, ctx.organization_id, PageRequest.from_query(params))
        return ok(
            {
                "billable_metrics": [
                    metric_object(metric, service.metric_counts(session, metric))
                    for metric in page.items
                ],
                "meta": page.meta,
            }
        )


@router.get("/billable_metrics/{code}")
def get_metric(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        metric = service.find_metric(session, ctx.organization_id, code)
        return ok(
            {"billable_metric": metric_object(metric, service.metric_counts(session, metric))}
        )


@router.put("/billable_metrics/{code}")
def update_metric(ctx: Context, code: str, body: JsonBody) -> JsonResponse:
    data = parse_metric(root_object(body, "billable_metric"), creating=False)
    with ctx.db.transaction() as session:
        metric = service.update_metric(session, ctx.organization_id, code, data, ctx.now)
        return ok(
            {"billable_metric": metric_object(metric, service.metric_counts(session, metric))}
        )


@router.delete("/billable_metrics/{code}")
def delete_metric(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        metric = service.find_metric(session, ctx.organization_id, code)
        body = metric_object(metric, service.metric_counts(session, metric))
        service.delete_metric(session, ctx.organization_id, code, ctx.now)
        return ok({"billable_metric": body})
