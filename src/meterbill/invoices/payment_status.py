"""An invoice's payment status, and its fees', which Lago keeps equal to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from meterbill.invoices.models import Fee, Invoice
from meterbill.webhooks.outbox import emit


def mark_payment_status(
    session: Session, invoice: Invoice, payment_status: str, now: datetime
) -> bool:
    """A paid invoice is no longer overdue; its fees take its status. False when the
    invoice already had it (nothing written)."""
    if invoice.payment_status == payment_status:
        return False
    invoice.payment_status = payment_status
    invoice.updated_at = now
    if payment_status == "succeeded":
        invoice.payment_overdue = False
    session.execute(
        update(Fee)
        .where(Fee.invoice_id == invoice.id)
        .values(payment_status=payment_status, updated_at=now)
    )
    emit(session, "invoice.payment_status_updated", invoice, now)
    return True
