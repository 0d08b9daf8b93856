"""Tax rules: codes unique per organization among live taxes; soft deletion."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.records import find_live, flush_unique
from meterbill.core.text_search import name_or_code_contains
from meterbill.customers.models import Customer
from meterbill.taxes.models import CustomerTax, Tax
from meterbill.taxes.schemas import TaxInput


def find_tax(session: Session, organization_id: uuid.UUID, code: str) -> Tax:
    return find_live(session, Tax, organization_id, "tax", code=code)


def find_taxes_by_codes(
    session: Session, organization_id: uuid.UUID, codes: Sequence[str]
) -> list[Tax]:
    """Every code must name a live tax of the organization, else 404 tax_not_found."""
    wanted = set(codes)
    if not wanted:
        return []
    taxes = session.scalars(
        select(Tax).where(
            Tax.organization_id == organization_id,
            Tax.code.in_(wanted),
            Tax.deleted_at.is_(None),
        )
    ).all()
    if len(taxes) != len(wanted):
        raise NotFound("tax")
    return sorted(taxes, key=lambda tax: tax.code)


def create_tax(session: Session, organization_id: uuid.UUID, data: TaxInput, now: datetime) -> Tax:
    tax = Tax(
        organization_id=organization_id,
        created_at=now,
        updated_at=now,
        **{"applied_to_organization": False, **data.values},
    )
    session.add(tax)
    flush_unique(session, "code")
    return tax


def update_tax(
    session: Session, organization_id: uuid.UUID, code: str, data: TaxInput, now: datetime
) -> Tax:
    tax = find_tax(session, organization_id, code)
    for key, value in data.values.items():
        setattr(tax, key, value)
    tax.updated_at = now
    flush_unique(session, "code")
    return tax


def delete_tax(session: Session, organization_id: uuid.UUID, code: str, now: datetime) -> Tax:
    tax = find_tax(session, organization_id, code)
    tax.deleted_at = now
    session.execute(delete(CustomerTax).where(CustomerTax.tax_id == tax.id))
    session.flush()
    return tax


def list_taxes(
    session: Session,
    organization_id: uuid.UUID,
    page: PageRequest,
    *,
    search_term: str | None = None,
) -> Page[Tax]:
    """Newest first; `search_term` narrows to taxes whose name or code contains it."""
    query = (
        select(Tax)
        .where(Tax.organization_id == organization_id, Tax.deleted_at.is_(None))
        .order_by(Tax.created_at.desc(), Tax.id)
    )
    if search_term:
        query = query.where(name_or_code_contains(Tax, search_term))
    return paginate(session, query, page)


def customers_counts(session: Session, tax_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Live customers carrying each tax, in one query for a whole page."""
    if not tax_ids:
        return {}
    rows = session.execute(
        select(CustomerTax.tax_id, func.count())
        .join(Customer, Customer.id == CustomerTax.customer_id)
        .where(CustomerTax.tax_id.in_(tax_ids), Customer.deleted_at.is_(None))
        .group_by(CustomerTax.tax_id)
    ).all()
    return {tax_id: count for tax_id, count in rows}


def organization_default_taxes(session: Session, organization_id: uuid.UUID) -> list[Tax]:
    """Taxes applied to the organization: the fallback for customers without their own."""
    return list(
        session.scalars(
            select(Tax)
            .where(
                Tax.organization_id == organization_id,
                Tax.applied_to_organization.is_(True),
                Tax.deleted_at.is_(None),
            )
            .order_by(Tax.code)
        )
    )


def taxes_by_owner(
    session: Session, owner_column: Any, owner_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Tax]]:
    """Taxes attached to each owner through a link table (customer, plan, charge, add-on...),
    for a whole page of owners in one query. `owner_column` is the link table's owner key."""
    grouped: dict[uuid.UUID, list[Tax]] = {owner: [] for owner in owner_ids}
    if owner_ids:
        link = owner_column.class_
        for owner, tax in session.execute(
            select(owner_column, Tax)
            .join(Tax, Tax.id == link.tax_id)
            .where(owner_column.in_(owner_ids))
            .order_by(Tax.code)
        ).all():
            grouped[owner].append(tax)
    return grouped
