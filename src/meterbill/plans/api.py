"""/api/v1/plans, their metadata, and the nested charges and charge filters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.metadata import MetadataChange, body_metadata, metadata_response
from meterbill.core.pagination import PageRequest, page_of
from meterbill.core.validation import Reader, root_object
from meterbill.organizations.service import get_organization
from meterbill.plans import service
from meterbill.plans.models import Charge, Plan
from meterbill.plans.schemas import (
    filter_object,
    parse_charge,
    parse_filter,
    parse_plan,
    render_charge,
    render_plans,
)

router = APIRouter(prefix="/api/v1")


def _plans(session: Session, plans: list[Plan]) -> list[dict[str, Any]]:
    if not plans:
        return []
    entity = get_organization(session, plans[0].organization_id).billing_entity_code
    return render_plans(plans, service.plan_view(session, plans), entity)


def _charges(session: Session, plan: Plan, charges: list[Charge]) -> list[dict[str, Any]]:
    entity = get_organization(session, plan.organization_id).billing_entity_code
    view = service.plan_view(session, [plan], charges)
    return [render_charge(charge, view, entity) for charge in charges]


@router.post("/plans")
def create_plan(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_plan(root_object(body, "plan"), creating=True)
    with ctx.db.transaction() as session:
        plan = service.create_plan(session, ctx.organization_id, data, ctx.now)
        return ok({"plan": _plans(session, [plan])[0]})


@router.get("/plans")
def list_plans(ctx: Context, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        page = service.list_plans(session, ctx.organization_id, PageRequest.from_query(params))
        return ok({"plans": _plans(session, list(page.items)), "meta": page.meta})


@router.get("/plans/{code}")
def get_plan(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        return ok({"plan": _plans(session, [plan])[0]})


@router.put("/plans/{code}")
def update_plan(ctx: Context, code: str, body: JsonBody) -> JsonResponse:
    data = parse_plan(root_object(body, "plan"), creating=False)
    with ctx.db.transaction() as session:
        plan = service.update_plan(session, ctx.organization_id, code, data, ctx.now)
        return ok({"plan": _plans(session, [plan])[0]})


@router.delete("/plans/{code}")
def delete_plan(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        rendered = _plans(session, [plan])[0]
        service.delete_plan(session, ctx.organization_id, code, ctx.now)
        return ok({"plan": rendered})


# Metadata ------------------------------------------------------------------------------


def _change_metadata(ctx: Context, code: str, change: MetadataChange) -> JsonResponse:
    with ctx.db.transaction() as session:
        values = service.change_metadata(session, ctx.organization_id, code, change, ctx.now)
        return ok(metadata_response(values))


@router.post("/plans/{code}/metadata")
def replace_metadata(ctx: Context, code: str, body: JsonBody) -> JsonResponse:
    values = body_metadata(body)
    return _change_metadata(ctx, code, MetadataChange.replacing(values))


@router.patch("/plans/{code}/metadata")
def merge_metadata(ctx: Context, code: str, body: JsonBody) -> JsonResponse:
    values = body_metadata(body)
    return _change_metadata(ctx, code, MetadataChange.merging(values))


@router.delete("/plans/{code}/metadata")
def delete_all_metadata(ctx: Context, code: str) -> JsonResponse:
    return _change_metadata(ctx, code, MetadataChange.clearing())


@router.delete("/plans/{code}/metadata/{key}")
def delete_metadata_key(ctx: Context, code: str, key: str) -> JsonResponse:
    return _change_metadata(ctx, code, MetadataChange.removing(key))


# Charges -------------------------------------------------------------------------------


@router.get("/plans/{code}/charges")
def list_charges(ctx: Context, code: str, params: Query) -> JsonResponse:
    page = PageRequest.from_query(params)
    with ctx.db.transaction(write=False) as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charges = page_of(list(plan.charges), page)
        return ok({"charges": _charges(session, plan, list(charges.items)), "meta": charges.meta})


@router.post("/plans/{code}/charges")
def create_charge(ctx: Context, code: str, body: JsonBody) -> JsonResponse:
    data = parse_charge(root_object(body, "charge"))
    with ctx.db.transaction() as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charge = service.add_charge(session, plan, data, ctx.now)
        return ok({"charge": _charges(session, plan, [charge])[0]})


@router.get("/plans/{code}/charges/{charge_code}")
def get_charge(ctx: Context, code: str, charge_code: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charge = service.find_charge(session, plan, charge_code)
        return ok({"charge": _charges(session, plan, [charge])[0]})


@router.put("/plans/{code}/charges/{charge_code}")
def update_charge(ctx: Context, code: str, charge_code: str, body: JsonBody) -> JsonResponse:
    data = parse_charge(root_object(body, "charge"))
    with ctx.db.transaction() as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charge = service.find_charge(session, plan, charge_code)
        service.update_charge_fields(session, plan, charge, data, ctx.now)
        return ok({"charge": _charges(session, plan, [charge])[0]})


@router.delete("/plans/{code}/charges/{charge_code}")
def delete_charge(ctx: Context, code: str, charge_code: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charge = service.delete_charge(session, plan, charge_code, ctx.now)
        return ok({"charge": _charges(session, plan, [charge])[0]})


# Charge filters ------------------------------------------------------------------------


@router.get("/plans/{code}/charges/{charge_code}/filters")
def list_filters(ctx: Context, code: str, charge_code: str, params: Query) -> JsonResponse:
    page = PageRequest.from_query(params)
    with ctx.db.transaction(write=False) as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        filters = page_of(list(service.find_charge(session, plan, charge_code).filters), page)
        return ok(
            {
                "filters": [filter_object(item, full=True) for item in filters.items],
                "meta": filters.meta,
            }
        )


@router.post("/plans/{code}/charges/{charge_code}/filters")
def create_filter(ctx: Context, code: str, charge_code: str, body: JsonBody) -> JsonResponse:
    reader = Reader({})
    item = parse_filter(root_object(body, "filter"), reader)
    reader.raise_if_any()
    assert item is not None
    with ctx.db.transaction() as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charge = service.find_charge(session, plan, charge_code)
        created = service.add_filter(session, charge, item, ctx.now)
        return ok({"filter": filter_object(created, full=True)})


@router.get("/plans/{code}/charges/{charge_code}/filters/{filter_id}")
def get_filter(ctx: Context, code: str, charge_code: str, filter_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charge = service.find_charge(session, plan, charge_code)
        return ok(
            {"filter": filter_object(service.find_filter(session, charge, filter_id), full=True)}
        )


@router.put("/plans/{code}/charges/{charge_code}/filters/{filter_id}")
def update_filter(
    ctx: Context, code: str, charge_code: str, filter_id: str, body: JsonBody
) -> JsonResponse:
    raw = root_object(body, "filter")
    with ctx.db.transaction() as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charge = service.find_charge(session, plan, charge_code)
        updated = service.update_filter(session, charge, filter_id, raw, ctx.now)
        return ok({"filter": filter_object(updated, full=True)})


@router.delete("/plans/{code}/charges/{charge_code}/filters/{filter_id}")
def delete_filter(ctx: Context, code: str, charge_code: str, filter_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        plan = service.find_plan(session, ctx.organization_id, code)
        charge = service.find_charge(session, plan, charge_code)
        deleted = service.delete_filter(session, charge, filter_id, ctx.now)
        return ok({"filter": filter_object(deleted, full=True)})
