"""Add-on rules: unique codes among live add-ons, taxes, soft deletion."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from meterbill.add_ons.models import AddOn, AddOnTax
from meterbill.add_ons.schemas import AddOnInput
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.records import find_live, flush_unique
from meterbill.core.text_search import name_or_code_contains
from meterbill.taxes.models import Tax
from meterbill.taxes.service import find_taxes_by_codes, taxes_by_owner


def find_add_on(session: Session, organization_id: uuid.UUID, code: str) -> AddOn:
    return find_live(session, AddOn, organization_id, "add_on", code=code)


def _replace_taxes(session: Session, add_on: AddOn, codes: Sequence[str], now: datetime) -> None:
    taxes = find_taxes_by_codes(session, add_on.organization_id, codes)
    session.execute(delete(AddOnTax).where(AddOnTax.add_on_id == add_on.id))
    session.add_all(AddOnTax(add_on_id=add_on.id, tax_id=tax.id, created_at=now) for tax in taxes)


def create_add_on(
    session: Session, organization_id: uuid.UUID, data: AddOnInput, now: datetime
) -> AddOn:
    add_on = AddOn(
        id=uuid.uuid4(), organization_id=organization_id, created_at=now, updated_at=now,
        **data.columns,
    )  # fmt: skip
    session.add(add_on)
    flush_unique(session, "code")
    if data.tax_codes is not None:
        _replace_taxes(session, add_on, data.tax_codes, now)
    return add_on


def update_add_on(
    session: Session, organization_id: uuid.UUID, code: str, data: AddOnInput, now: datetime
) -> AddOn:
    add_on = find_add_on(session, organization_id, code)
    for key, value in data.columns.items():
        setattr(add_on, key, value)
    add_on.updated_at = now
    flush_unique(session, "code")
    if data.tax_codes is not None:
        _replace_taxes(session, add_on, data.tax_codes, now)
    return add_on


def delete_add_on(session: Session, organization_id: uuid.UUID, code: str, now: datetime) -> AddOn:
    add_on = find_add_on(session, organization_id, code)
    add_on.deleted_at = now
    session.flush()
    return add_on


def list_add_ons(
    session: Session,
    organization_id: uuid.UUID,
    page: PageRequest,
    *,
    search_term: str | None = None,
) -> Page[AddOn]:
    """Newest first; `search_term` narrows to add-ons whose name or code contains it."""
    query = (
        select(AddOn)
        .where(AddOn.organization_id == organization_id, AddOn.deleted_at.is_(None))
        .order_by(AddOn.created_at.desc(), AddOn.id)
    )
    if search_term:
        query = query.where(name_or_code_contains(AddOn, search_term))
    return paginate(session, query, page)


def customers_counts(session: Session, add_on_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Customers billed each add-on (on a live invoice), in one query for a whole page."""
    from meterbill.invoices.models import Fee, Invoice  # invoices depend on add-ons

    if not add_on_ids:
        return {}
    rows = session.execute(
        select(Fee.add_on_id, func.count(func.distinct(Invoice.customer_id)))
        .join(Invoice, Invoice.id == Fee.invoice_id)
        .where(Fee.add_on_id.in_(add_on_ids), Fee.deleted_at.is_(None))
        .group_by(Fee.add_on_id)
    ).all()
    return {add_on_id: count for add_on_id, count in rows}


def add_on_taxes(session: Session, add_on_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Tax]]:
    return taxes_by_owner(session, AddOnTax.add_on_id, add_on_ids)


def add_ons_by_name(session: Session, organization_id: uuid.UUID) -> list[AddOn]:
    """Every live add-on, by name (what a one-off invoice can bill)."""
    return list(
        session.scalars(
            select(AddOn)
            .where(AddOn.organization_id == organization_id, AddOn.deleted_at.is_(None))
            .order_by(AddOn.name, AddOn.code)
        )
    )
