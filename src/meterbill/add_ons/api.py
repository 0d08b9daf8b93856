"""/api/v1/add_ons."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from meterbill.add_ons import service
from meterbill.add_ons.models import AddOn
from meterbill.add_ons.schemas import add_on_object, parse_add_on
from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.organizations.service import get_organization
from meterbill.taxes.schemas import tax_object

router = APIRouter(prefix="/api/v1")


def _render(session: Session, add_ons: list[AddOn]) -> list[dict[str, Any]]:
    if not add_ons:
        return []
    entity = get_organization(session, add_ons[0].organization_id).billing_entity_code
    taxes = service.add_on_taxes(session, [add_on.id for add_on in add_ons])
    return [
        add_on_object(add_on, [tax_object(tax, entity) for tax in taxes[add_on.id]])
        for add_on in add_ons
    ]


@router.post("/add_ons")
def create_add_on(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_add_on(root_object(body, "add_on"), creating=True)
    with ctx.db.transaction() as session:
        add_on = service.create_add_on(session, ctx.organization_id, data, ctx.now)
        return ok({"add_on": _render(session, [add_on])[0]})


@router.get("/add_ons")
def list_add_ons(ctx: Context, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        page = service.list_add_ons(session, ctx.organization_id, PageRequest.from_query(params))
        return ok({"add_ons": _render(session, list(page.items)), "meta": page.meta})


@router.get("/add_ons/{code}")
def get_add_on(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        add_on = service.find_add_on(session, ctx.organization_id, code)
        return ok({"add_on": _render(session, [add_on])[0]})


@router.put("/add_ons/{code}")
def update_add_on(ctx: Context, code: str, body: JsonBody) -> JsonResponse:
    data = parse_add_on(root_object(body, "add_on"), creating=False)
    with ctx.db.transaction() as session:
        add_on = service.update_add_on(session, ctx.organization_id, code, data, ctx.now)
        return ok({"add_on": _render(session, [add_on])[0]})


@router.delete("/add_ons/{code}")
def delete_add_on(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        add_on = service.delete_add_on(session, ctx.organization_id, code, ctx.now)
        return ok({"add_on": _render(session, [add_on])[0]})
