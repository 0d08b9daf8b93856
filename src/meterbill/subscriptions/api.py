"""/api/v1/subscriptions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.customers.service import find_customer
from meterbill.organizations.service import get_organization
from meterbill.plans.schemas import render_plans
from meterbill.plans.service import plan_view
from meterbill.subscriptions import service
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.schemas import parse_subscription, subscription_object

router = APIRouter(prefix="/api/v1")


def _render(
    session: Session, subscriptions: list[Subscription], ctx: Context
) -> list[dict[str, Any]]:
    views = service.subscription_views(session, subscriptions, ctx.now)
    entity = get_organization(session, ctx.organization_id).billing_entity_code
    rendered = []
    for subscription in subscriptions:
        view = views[subscription.id]
        body = subscription_object(subscription, view)
        body["plan"] = render_plans([view.plan], plan_view(session, [view.plan]), entity)[0]
        rendered.append(body)
    return rendered


@router.post("/subscriptions")
def create_subscription(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_subscription(root_object(body, "subscription"), creating=True)
    with ctx.db.transaction() as session:
        subscription = service.create_subscription(session, ctx.organization_id, data, ctx.now)
        return ok({"subscription": _render(session, [subscription], ctx)[0]})


@router.get("/subscriptions")
def list_subscriptions(ctx: Context, params: Query) -> JsonResponse:
    filters = service.SubscriptionFilters(
        external_customer_id=params.get("external_customer_id"),
        plan_code=params.get("plan_code"),
        statuses=params.getlist("status[]"),
    )
    with ctx.db.transaction(write=False) as session:
        page = service.list_subscriptions(
            session, ctx.organization_id, filters, PageRequest.from_query(params)
        )
        return ok({"subscriptions": _render(session, list(page.items), ctx), "meta": page.meta})


@router.get("/subscriptions/{external_id}")
def get_subscription(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        subscription = service.find_subscription(
            session, ctx.organization_id, external_id, params.get("status") or "active"
        )
        return ok({"subscription": _render(session, [subscription], ctx)[0]})


@router.put("/subscriptions/{external_id}")
def update_subscription(
    ctx: Context, external_id: str, body: JsonBody, params: Query
) -> JsonResponse:
    data = parse_subscription(root_object(body, "subscription"), creating=False)
    with ctx.db.transaction() as session:
        subscription = service.update_subscription(
            session,
            ctx.organization_id,
            external_id,
            params.get("status") or "active",
            data,
            ctx.now,
        )
        return ok({"subscription": _render(session, [subscription], ctx)[0]})


@router.delete("/subscriptions/{external_id}")
def terminate_subscription(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    with ctx.db.transaction() as session:
        subscription = service.terminate_subscription(
            session,
            ctx.organization_id,
            external_id,
            params.get("status") or "active",
            ctx.now,
            on_termination_credit_note=params.get("on_termination_credit_note") or None,
            on_termination_invoice=params.get("on_termination_invoice") or None,
        )
        return ok({"subscription": _render(session, [subscription], ctx)[0]})


@router.get("/customers/{external_id}/subscriptions")
def list_customer_subscriptions(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    filters = service.SubscriptionFilters(
        external_customer_id=external_id,
        plan_code=params.get("plan_code"),
        statuses=params.getlist("status[]"),
    )
    with ctx.db.transaction(write=False) as session:
        find_customer(session, ctx.organization_id, external_id)
        page = service.list_subscriptions(
            session, ctx.organization_id, filters, PageRequest.from_query(params)
        )
        return ok({"subscriptions": _render(session, list(page.items), ctx), "meta": page.meta})
