"""Saving a customer (POST /customers), with what a change of its settings sets off.

Kept apart from `customers.service` because it reaches into invoicing, which itself
relies on the customers service (as `customers.deletion` does for the cascade).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

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
