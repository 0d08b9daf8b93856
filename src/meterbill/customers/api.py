"""/api/v1/customers."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.customers import deletion, service
from meterbill.customers.filters import parse_filters
from meterbill.customers.models import Customer
from meterbill.customers.saving import save_customer
from meterbill.customers.schemas import customer_object, parse_customer
from meterbill.organizations.service import get_organization
from meterbill.taxes.schemas import tax_object

router = APIRouter(prefix="/api/v1")


def render_customers(
    session: Session, customers: list[Customer], *, full: bool
) -> list[dict[str, Any]]:
    if not customers:
        return []
    organization = get_organization(session, customers[0].organization_id)
    taxes = service.customer_taxes(session, [customer.id for customer in customers])
    return [
        customer_object(
            customer,
            organization,
            [tax_object(tax, organization.billing_entity_code) for tax in taxes[customer.id]],
            full=full,
        )
        for customer in customers
    ]


def embedded_customers(
    session: Session, customer_ids: set[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The short customer objects that invoices and credit notes embed, by id (deleted
    customers included: their documents outlive them)."""
    customers = list(
        session.scalars(
            select(Customer)
            .where(Customer.id.in_(customer_ids))
            # One query for all their metadata, not one each (a billing run embeds
            # thousands of customers in its webhooks).
            .options(selectinload(Customer.metadata_items))
        )
    )
    rendered = render_customers(session, customers, full=False)
    return {customer.id: body for customer, body in zip(customers, rendered, strict=True)}


@router.post("/customers")
def upsert_customer(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_customer(root_object(body, "customer"))
    with ctx.db.transaction() as session:
        customer = save_customer(session, ctx.organization_id, data, ctx.now)
        return ok({"customer": render_customers(session, [customer], full=True)[0]})


@router.get("/customers")
def list_customers(ctx: Context, params: Query) -> JsonResponse:
    filters = parse_filters(params)
    with ctx.db.transaction(write=False) as session:
        page = service.list_customers(
            session, ctx.organization_id, filters, PageRequest.from_query(params)
        )
        return ok(
            {
                "customers": render_customers(session, list(page.items), full=False),
                "meta": page.meta,
            }
        )


@router.get("/customers/{external_id}")
def get_customer(ctx: Context, external_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        customer = service.find_customer(session, ctx.organization_id, external_id)
        return ok({"customer": render_customers(session, [customer], full=True)[0]})


@router.delete("/customers/{external_id}")
def delete_customer(ctx: Context, external_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        customer = deletion.delete_customer(session, ctx.organization_id, external_id, ctx.now)
        return ok({"customer": render_customers(session, [customer], full=True)[0]})
