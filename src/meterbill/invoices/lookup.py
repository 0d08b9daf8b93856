"""Finding an invoice the API may show, by its id, for the services that act on one."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound
from meterbill.core.records import key_or_not_found
from meterbill.invoices.models import Invoice
from meterbill.invoices.schemas import HIDDEN_STATUSES
from meterbill.webhooks.outbox import materialize


def find_invoice(
    session: Session,
    organization_id: uuid.UUID,
    invoice_id: str,
    *,
    lock: bool = False,
    payable: bool = False,
) -> Invoice:
    """A visible invoice; with `payable`, also an open credit invoice waiting for its
    payment (a wallet top-up that must be paid before it is issued)."""
    key = key_or_not_found(invoice_id, "invoice")
    visible = Invoice.status.not_in(HIDDEN_STATUSES)
    if payable:
        visible = or_(visible, and_(Invoice.status == "open", Invoice.invoice_type == "credit"))
    query = select(Invoice).where(
        Invoice.id == key,
        Invoice.organization_id == organization_id,
        visible,
    )
    invoice = session.scalar(query.with_for_update() if lock else query)
    if invoice is None:
        raise NotFound("invoice")
    if lock:
        # Locked to be changed: a webhook still to render shows it as it was before.
        materialize(session, object_ids=[invoice.id])
    return invoice
