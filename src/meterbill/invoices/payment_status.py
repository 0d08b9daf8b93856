"""An invoice's payment status, and its fees', which Lago keeps equal to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from meterbill.invoices.models import Fee, Invoice


def mark_payment_status(
    session: Session, invoice: Invoice, payment_status: str, now: datetime
) -> None:
    """A paid invoice is no longer overdue; its fees take its status."""
    invoice.payment_status = payment_status
    invoice.updated_at = now
    if payment_status == "succeeded":
        invoice.payment_overdue = False
    session.execute(
        update(Fee)
        .where(Fee.invoice_id == invoice.id)
        .values(payment_status=payment_status, updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
