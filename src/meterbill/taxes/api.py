"""/api/v1/taxes."""

from __future__ import annotations

from fastapi import APIRouter

from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.organizations.service import get_organization
from meterbill.taxes import service
from meterbill.taxes.schemas import parse_tax, tax_object

router = APIRouter(prefix="/api/v1")


@router.post("/taxes")
def create_tax(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_tax(root_object(body, "tax"), creating=True)
    with ctx.db.transaction() as session:
        tax = service.create_tax(session, ctx.organization_id, data, ctx.now)
        code = get_organization(session, ctx.organization_id).billing_entity_code
        return ok({"tax": tax_object(tax, code)})


@router.put("/taxes/{code}")
def update_tax(ctx: Context, code: str, body: JsonBody) -> JsonResponse:
    data = parse_tax(root_object(body, "tax"), creating=False)
    with ctx.db.transaction() as session:
        tax = service.update_tax(session, ctx.organization_id, code, data, ctx.now)
        counts = service.customers_counts(session, [tax.id])
        entity = get_organization(session, ctx.organization_id).billing_entity_code
        return ok({"tax": tax_object(tax, entity, counts.get(tax.id, 0))})


@router.get("/taxes/{code}")
def get_tax(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        tax = service.find_tax(session, ctx.organization_id, code)
        counts = service.customers_counts(session, [tax.id])
        entity = get_organization(session, ctx.organization_id).billing_entity_code
        return ok({"tax": tax_object(tax, entity, counts.get(tax.id, 0))})


@router.delete("/taxes/{code}")
def delete_tax(ctx: Context, code: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        tax = service.delete_tax(session, ctx.organization_id, code, ctx.now)
        entity = get_organization(session, ctx.organization_id).billing_entity_code
        return ok({"tax": tax_object(tax, entity)})


@router.get("/taxes")
def list_taxes(ctx: Context, params: Query) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        page = service.list_taxes(session, ctx.organization_id, PageRequest.from_query(params))
        counts = service.customers_counts(session, [tax.id for tax in page.items])
        entity = get_organization(session, ctx.organization_id).billing_entity_code
        return {
            "taxes": [tax_object(tax, entity, counts.get(tax.id, 0)) for tax in page.items],
            "meta": page.meta,
        }
