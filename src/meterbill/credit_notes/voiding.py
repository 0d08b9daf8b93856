"""Credit notes that a voided invoice leaves behind when asked (`generate_credit_note`).

The invoice's remaining value is split in two notes: the one asked for (`credit_amount`
credited, `refund_amount` refunded), its items the fees' remaining amounts scaled down to
that total; and a note for what is left, issued then voided at once, so that nothing of
the invoice can be credited any more and the record says where its value went.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.core.validation import Reader
from meterbill.credit_notes.amounts import Split
from meterbill.credit_notes.models import CreditNote
from meterbill.credit_notes.service import amounts_on, credited_on_fees, issue, issued_on
from meterbill.invoices.models import Fee, Invoice


@dataclass(frozen=True)
class VoidNotes:
    """What the caller of a void asked to get back, in cents."""

    credit_amount: int = 0
    refund_amount: int = 0

    @property
    def total(self) -> int:
        return self.credit_amount + self.refund_amount


def parse_void_notes(body: object) -> VoidNotes | None:
    """POST /invoices/{id}/void's optional body: `generate_credit_note`, `credit_amount`,
    `refund_amount` (cents). None when no note is asked for."""
    if not isinstance(body, dict):
        return None
    reader = Reader(body)
    generate = reader.boolean("generate_credit_note")
    credit = reader.amount_cents("credit_amount")
    refund = reader.amount_cents("refund_amount")
    reader.raise_if_any()
    if generate is not True:
        return None
    return VoidNotes(
        credit_amount=credit if isinstance(credit, int) else 0,
        refund_amount=refund if isinstance(refund, int) else 0,
    )


def check_void_notes(session: Session, invoice: Invoice, asked: VoidNotes) -> None:
    """The asked amounts fit what the invoice can still give back (Lago's 422
    `credit_refund_amount: total_amount_exceeds_invoice_amount`)."""
    issued = issued_on(session, invoice.id)
    creditable = _creditable(invoice, issued.credited + issued.offset)
    refundable = max(min(issued.paid_left(invoice), creditable), 0)
    if (
        asked.credit_amount > creditable
        or asked.refund_amount > refundable
        or asked.total > creditable
    ):
        raise ValidationFailed.single("credit_refund_amount", "total_amount_exceeds_invoice_amount")


def _creditable(invoice: Invoice, taken: int) -> int:
    # A wallet top-up gives its value back through its wallet, never a credit note.
    if invoice.invoice_type == "credit":
        return 0
    return invoice.sub_total_including_taxes_amount_cents - taken


def issue_void_notes(
    session: Session, invoice: Invoice, asked: VoidNotes, now: datetime
) -> list[CreditNote]:
    notes: list[CreditNote] = []
    description = f"Credit note created due to voided invoice {invoice.id}"
    if asked.total > 0:
        remaining = _remaining_items(session, invoice)
        worth = amounts_on(session, invoice, remaining).total_amount_cents
        if worth > 0:
            ratio = Decimal(asked.total) / Decimal(worth)
            items = [(fee, amount * ratio) for fee, amount in remaining]
            split = Split(asked.credit_amount, asked.refund_amount, 0)
            notes.append(
                issue(session, invoice, items, split, now, reason="other", description=description)
            )
    issued = issued_on(session, invoice.id)
    if _creditable(invoice, issued.credited + issued.offset) > 0:
        remaining = _remaining_items(session, invoice)
        worth = amounts_on(session, invoice, remaining).total_amount_cents
        if worth > 0:
            rest = issue(
                session, invoice, remaining, Split(worth, 0, 0), now,
                reason="other", description=description,
            )  # fmt: skip
            rest.credit_status = "voided"
            rest.balance_amount_cents = 0
            rest.voided_at = now
            notes.append(rest)
    session.flush()
    return notes


def _remaining_items(session: Session, invoice: Invoice) -> list[tuple[Fee, Decimal]]:
    """Each fee of the invoice with what earlier notes have not taken from it."""
    fees = list(
        session.scalars(select(Fee).where(Fee.invoice_id == invoice.id).order_by(Fee.created_at))
    )
    taken = credited_on_fees(session, [fee.id for fee in fees])
    return [
        (fee, Decimal(fee.amount_cents - taken.get(fee.id, 0)))
        for fee in fees
        if fee.amount_cents - taken.get(fee.id, 0) > 0
    ]
