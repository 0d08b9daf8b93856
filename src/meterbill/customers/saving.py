"""Saving a customer (POST /customers), with what a change of its settings sets off.

Kept apart from `customers.service` because it reaches into invoicing, which itself
relies on the customers service (as `customers.deletion` does for the cascade).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.customers import service
from meterbill.customers.models import Customer
from meterbill.customers.schemas import CustomerInput
from meterbill.invoices.service import redate_drafts

# Settings that date a subscription invoice: changing one dates the drafts again.
DRAFT_DATING = frozenset({
    "invoice_grace_period", "net_payment_term",
    "subscription_invoice_issuing_date_anchor", "subscription_invoice_issuing_date_adjustment",
})  # fmt: skip


def save_customer(
    session: Session, organization_id: uuid.UUID, data: CustomerInput, now: datetime
) -> Customer:
    """Create or update the customer; an update of a dating setting dates its drafts
    again and finalizes those now past their grace period (Lago's
    UpdateInvoiceIssuingDateSettingsService)."""
    customer, created = service.upsert_customer(session, organization_id, data, now)
    if not created and DRAFT_DATING.intersection(data.columns):
        redate_drafts(session, customer, now)
    return customer


def edit_customer(
    session: Session, organization_id: uuid.UUID, customer_id: str, data: CustomerInput,
    now: datetime, *, rename: bool = True,
) -> Customer:  # fmt: skip
    """The dashboard's edit of the customer with this lago_id: the same rules as
    POST /customers (a currency change once an object is assigned is 422
    currencies_does_not_match), plus, with `rename`, data.external_id as its new external
    id while the customer is editable."""
    customer = service.find_customer_by_id(session, organization_id, customer_id)
    if rename:
        service.rename_if_editable(session, customer, data.external_id)
    data = replace(data, external_id=customer.external_id)
    return save_customer(session, organization_id, data, now)


def add_customer(
    session: Session, organization_id: uuid.UUID, data: CustomerInput, now: datetime
) -> Customer:
    """The dashboard's "Create customer": POST /customers's rules, except that an
    external id a live customer already holds is 422 value_already_exist (as Lago's
    dashboard create) rather than an update of that customer."""
    if session.scalar(service.live_id(organization_id, data.external_id)) is not None:
        raise ValidationFailed.single("external_id", "value_already_exist")
    return save_customer(session, organization_id, data, now)
