"""Customer rules: Lago's upsert, metadata replacement, taxes, listing, soft deletion."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.orm import Session, selectinload

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.records import flush_unique, uuid_or_none
from meterbill.core.rehearsal import for_update
from meterbill.coupons.models import AppliedCoupon
from meterbill.customers.filters import CustomerFilters, apply_filters
from meterbill.customers.models import Customer, CustomerMetadata
from meterbill.customers.schemas import CustomerInput, MetadataInput
from meterbill.invoices.models import Invoice
from meterbill.organizations.models import Organization
from meterbill.organizations.service import get_organization
from meterbill.subscriptions.models import Subscription
from meterbill.taxes.models import CustomerTax, Tax
from meterbill.taxes.service import find_taxes_by_codes, taxes_by_owner
from meterbill.wallets.models import Wallet
from meterbill.webhooks.outbox import emit


def _live(organization_id: uuid.UUID, external_id: str) -> Select[tuple[Customer]]:
    return (
        select(Customer)
        .where(
            Customer.organization_id == organization_id,
            Customer.external_id == external_id,
            Customer.deleted_at.is_(None),
        )
        .options(selectinload(Customer.metadata_items))
    )


def live_id(organization_id: uuid.UUID, external_id: str) -> Select[tuple[uuid.UUID]]:
    """The id of the live customer holding this external id, for lists filtered by
    external_customer_id: a deleted customer's objects are not listed under the id
    (a customer re-created with it starts with empty lists); they stay reachable by
    their own id and in unfiltered lists."""
    return select(Customer.id).where(
        Customer.organization_id == organization_id,
        Customer.external_id == external_id,
        Customer.deleted_at.is_(None),
    )


# Separates the searched fields in search_text: no search term can span two of them.
SEARCH_SEPARATOR = "\x1f"
SEARCHED = ("name", "firstname", "lastname", "legal_name", "external_id", "email")


def search_text(customer: Customer) -> str:
    """What the customers list's search looks in (Lago's search_term fields)."""
    values = (getattr(customer, field) for field in SEARCHED)
    return SEARCH_SEPARATOR.join(value.lower() for value in values if value)


def find_customer(session: Session, organization_id: uuid.UUID, external_id: str) -> Customer:
    customer = session.scalar(_live(organization_id, external_id))
    if customer is None:
        raise NotFound("customer")
    return customer


def subscription_external_ids(
    session: Session, organization_id: uuid.UUID, external_id: str
) -> tuple[str, ...] | None:
    """The external ids of every subscription the live customer with this external id
    has had (events name a subscription, not a customer); None for no such customer."""
    if "\x00" in external_id:
        return None
    customer_id = session.scalar(live_id(organization_id, external_id))
    if customer_id is None:
        return None
    return tuple(
        session.scalars(
            select(Subscription.external_id)
            .where(
                Subscription.organization_id == organization_id,
                Subscription.customer_id == customer_id,
            )
            .distinct()
        )
    )


def is_editable(session: Session, customer: Customer) -> bool:
    """Lago's `editable?`: false once a billing object has been assigned to the customer.

    The objects are subscriptions, one-off invoices, invoices of any status,
    fixed-amount coupons (percentage coupons carry no currency) and wallets; each
    feature that creates one adds its relation here.
    """
    assigned = [
        select(Subscription.id).where(Subscription.customer_id == customer.id),
        select(AppliedCoupon.id).where(
            AppliedCoupon.customer_id == customer.id, AppliedCoupon.amount_currency.is_not(None)
        ),
        select(Wallet.id).where(Wallet.customer_id == customer.id),
        # Any invoice, drafts and voided ones included (a one-off invoice is the case
        # not already covered by a subscription or a wallet).
        select(Invoice.id).where(Invoice.customer_id == customer.id),
    ]
    return not any(session.scalar(select(exists(query))) for query in assigned)


def assign_currency(session: Session, customer: Customer, currency: str) -> None:
    """Lock check for attaching an object priced in `currency` (classic Lago rule).

    A customer without a currency takes the object's; one with another currency
    refuses the object with 422 currencies_does_not_match.
    """
    if customer.currency == currency:
        return
    if customer.currency is None and is_editable(session, customer):
        customer.currency = currency
        session.flush()
        return
    raise ValidationFailed.single("currency", "currencies_does_not_match")


_CHANGE = {True: "created", False: "updated"}


def upsert_customer(
    session: Session, organization_id: uuid.UUID, data: CustomerInput, now: datetime
) -> tuple[Customer, bool]:
    """Create the customer or update the live one with this external_id.

    Returns the customer and whether it was created.
    """
    organization = get_organization(session, organization_id)
    if data.billing_entity_code is not None and (
        data.billing_entity_code != organization.billing_entity_code
    ):
        raise NotFound("billing_entity")

    customer = session.scalar(_live(organization_id, data.external_id))
    if customer is None:
        # Creating serialises on the organization row: it guards the next
        # sequential_id, and a concurrent creator of the same external_id will
        # find the customer below once the first one commits.
        _lock_organization(session, organization_id)
        customer = session.scalar(
            _live(organization_id, data.external_id).execution_options(populate_existing=True)
        )
    created = customer is None
    if customer is None:
        customer = _new_customer(session, organization, data, now)
    else:
        _check_currency_change(session, customer, data)
        for key, value in data.columns.items():
            setattr(customer, key, value)
        customer.search_text = search_text(customer)
        customer.updated_at = now
        if data.metadata is not None:
            _replace_metadata(session, customer, data.metadata, now)
    if data.tax_codes is not None:
        _replace_taxes(session, customer, data.tax_codes, now)
    session.flush()
    emit(session, f"customer.{_CHANGE[created]}", customer, now)
    return customer, created


def _lock_organization(session: Session, organization_id: uuid.UUID) -> None:
    # SQLite renders no FOR UPDATE; there the process-wide write lock already
    # serialises writers. NO KEY UPDATE (key_share) does not wait for the KEY SHARE
    # locks that inserts referencing the organization take. A preview's made-up
    # customer takes none: real billing numbers invoices under this lock.
    query = select(Organization.id).where(Organization.id == organization_id)
    session.execute(for_update(session, query, key_share=True))


def _new_customer(
    session: Session, organization: Organization, data: CustomerInput, now: datetime
) -> Customer:
    # Deleted customers keep their numbers: sequential ids are never reused.
    last = session.scalar(
        select(func.max(Customer.sequential_id)).where(Customer.organization_id == organization.id)
    )
    sequential_id = (last or 0) + 1
    columns = {
        "finalize_zero_amount_invoice": "inherit",
        "skip_invoice_custom_sections": False,
        **data.columns,
    }
    customer = Customer(
        id=uuid.uuid4(),
        organization_id=organization.id,
        external_id=data.external_id,
        sequential_id=sequential_id,
        slug=f"{organization.document_number_prefix}-{sequential_id:03d}",
        account_type="customer",
        created_at=now,
        updated_at=now,
        **columns,
    )
    customer.search_text = search_text(customer)
    session.add(customer)
    flush_unique(session, "external_id")
    for position, item in enumerate(data.metadata or []):
        customer.metadata_items.append(_metadata_row(item, position, now))
    flush_unique(session, "key")
    return customer


def _check_currency_change(session: Session, customer: Customer, data: CustomerInput) -> None:
    if "currency" not in data.columns or data.columns["currency"] == customer.currency:
        return
    if not is_editable(session, customer):
        raise ValidationFailed.single("currency", "currencies_does_not_match")


def _metadata_row(item: MetadataInput, position: int, now: datetime) -> CustomerMetadata:
    return CustomerMetadata(
        key=item.key,
        value=item.value,
        display_in_invoice=item.display_in_invoice,
        position=position,
        created_at=now,
        updated_at=now,
    )


def _replace_metadata(
    session: Session, customer: Customer, items: Sequence[MetadataInput], now: datetime
) -> None:
    """Lago's replace-by-id: update referenced entries, create the others, drop the rest.

    Creation happens before deletion, so re-sending an existing key without its id
    collides with the entry that is about to go, exactly as in Lago.
    """
    existing = {str(entry.id): entry for entry in customer.metadata_items}
    kept: set[str] = set()
    for item in items:
        entry = existing.get(item.id) if item.id else None
        if entry is not None and item.id not in kept:
            kept.add(str(item.id))
            entry.key, entry.value = item.key, item.value
            entry.display_in_invoice = item.display_in_invoice
            entry.updated_at = now
    flush_unique(session, "key")
    next_position = max((entry.position for entry in customer.metadata_items), default=-1) + 1
    for item in items:
        if not (item.id and item.id in existing):
            session.add(
                CustomerMetadata(
                    customer_id=customer.id,
                    key=item.key,
                    value=item.value,
                    display_in_invoice=item.display_in_invoice,
                    position=next_position,
                    created_at=now,
                    updated_at=now,
                )
            )
            next_position += 1
    flush_unique(session, "key")
    stale = [entry.id for key, entry in existing.items() if key not in kept]
    if stale:
        session.execute(delete(CustomerMetadata).where(CustomerMetadata.id.in_(stale)))
    session.expire(customer, ["metadata_items"])


def _replace_taxes(
    session: Session, customer: Customer, codes: Sequence[str], now: datetime
) -> None:
    taxes = find_taxes_by_codes(session, customer.organization_id, codes)
    session.execute(delete(CustomerTax).where(CustomerTax.customer_id == customer.id))
    for tax in taxes:
        session.add(CustomerTax(customer_id=customer.id, tax_id=tax.id, created_at=now))


def customer_taxes(
    session: Session, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Tax]]:
    """The customers' own taxes, for a whole page in one query."""
    return taxes_by_owner(session, CustomerTax.customer_id, customer_ids)


def list_customers(
    session: Session,
    organization_id: uuid.UUID,
    filters: CustomerFilters,
    page: PageRequest,
) -> Page[Customer]:
    organization = get_organization(session, organization_id)
    query = (
        select(Customer)
        .where(Customer.organization_id == organization_id, Customer.deleted_at.is_(None))
        .options(selectinload(Customer.metadata_items))
        .order_by(Customer.created_at.desc(), Customer.id)
    )
    return paginate(session, apply_filters(query, filters, organization), page)


def find_customer_by_id(session: Session, organization_id: uuid.UUID, raw_id: str) -> Customer:
    """The organization's live customer with this lago_id (the dashboard's URLs carry
    it); anything else, another organization's customer included, is not found."""
    customer_id = uuid_or_none(raw_id)
    customer = (
        session.scalar(
            select(Customer)
            .where(
                Customer.id == customer_id,
                Customer.organization_id == organization_id,
                Customer.deleted_at.is_(None),
            )
            .options(selectinload(Customer.metadata_items))
        )
        if customer_id is not None
        else None
    )
    if customer is None:
        raise NotFound("customer")
    return customer


def rename_if_editable(session: Session, customer: Customer, external_id: str) -> None:
    """The dashboard's edit may give a customer another external id while it is
    editable (Lago's GraphQL update); once an object is assigned the new id is ignored,
    as Lago ignores it. A live customer already holding it is 422 value_already_exist."""
    if external_id == customer.external_id or not is_editable(session, customer):
        return
    customer.external_id = external_id
    customer.search_text = search_text(customer)
    flush_unique(session, "external_id")
