"""Credit notes paying invoices (billing.md §5.3 step 8): after taxes, before wallets.

A finalized subscription invoice takes the customer's available credit notes in its
currency, oldest first, each giving min(its balance, what is left to pay). Each use is
a `credits` row pointing at the note, so voiding the invoice can give it back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from meterbill.core.rehearsal import for_update
from meterbill.credit_notes.models import CreditNote
from meterbill.invoices.models import Credit, Invoice

# Within a billing run: the customers that had credit to spend when it began (a run
# only ever spends credit notes, never issues one for another customer).
CREDIT_NOTE_HOLDERS = "meterbill.credit_note_holders"


def _available(customer_ids: set[uuid.UUID] | None = None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        CreditNote.status == "finalized",
        CreditNote.credit_status == "available",
        CreditNote.balance_amount_cents > 0,
    ]
    if customer_ids is not None:
        conditions.append(CreditNote.customer_id.in_(customer_ids))
    return conditions


def note_credit_note_holders(session: Session, customer_ids: set[uuid.UUID]) -> None:
    session.info[CREDIT_NOTE_HOLDERS] = set(
        session.scalars(select(CreditNote.customer_id).where(*_available(customer_ids)).distinct())
    )


def forget_credit_note_holders(session: Session) -> None:
    session.info.pop(CREDIT_NOTE_HOLDERS, None)


def apply_credit_notes(
    session: Session, invoice: Invoice, now: datetime, *, coupon_credits: int = 0
) -> None:
    """Spend available credit notes on a subscription invoice being finalized.

    Their credits follow the invoice's `coupon_credits` coupon credits (not counted in
    the database: a billing run has not written them yet)."""
    if invoice.invoice_type != "subscription":
        return
    known = session.info.get(CREDIT_NOTE_HOLDERS)
    if known is not None and invoice.customer_id not in known:
        return
    remaining = invoice.total_amount_cents
    if remaining <= 0:
        return
    query = (
        select(CreditNote)
        .where(
            *_available(),
            CreditNote.customer_id == invoice.customer_id,
            CreditNote.currency == invoice.currency,
            CreditNote.invoice_id != invoice.id,
        )
        .order_by(CreditNote.created_at, CreditNote.sequential_id, CreditNote.id)
    )
    notes = list(session.scalars(for_update(session, query)))
    if not notes:
        return
    position = coupon_credits
    spent = 0
    for note in notes:
        if remaining <= 0:
            break
        amount = min(note.balance_amount_cents, remaining)
        note.balance_amount_cents -= amount
        if note.balance_amount_cents == 0:
            note.credit_status = "consumed"
        note.updated_at = now
        source = session.get(Invoice, note.invoice_id)
        session.add(
            Credit(
                invoice_id=invoice.id,
                credit_note_id=note.id,
                item_code=note.number,
                item_name=source.number if source is not None else note.number,
                item_id=note.id,
                item_type="credit_note",
                amount_cents=amount,
                amount_currency=invoice.currency,
                before_taxes=False,
                position=position,
                created_at=now,
            )
        )
        position += 1
        spent += amount
        remaining -= amount
    invoice.credit_notes_amount_cents = spent
    invoice.total_amount_cents -= spent
    invoice.updated_at = now


def give_back(session: Session, invoice: Invoice, now: datetime) -> None:
    """A voided invoice returns what it took from credit notes that still stand."""
    for credit in session.scalars(
        select(Credit).where(Credit.invoice_id == invoice.id, Credit.credit_note_id.is_not(None))
    ):
        note = session.get(CreditNote, credit.credit_note_id, with_for_update=True)
        if note is None or note.credit_status == "voided":
            continue
        note.balance_amount_cents += credit.amount_cents
        note.credit_status = "available"
        note.updated_at = now


def has_standing_credit_notes(session: Session, invoice: Invoice) -> bool:
    """Lago refuses to void an invoice that issued credit notes not voided since."""
    return (
        session.scalar(
            select(CreditNote.id)
            .where(CreditNote.invoice_id == invoice.id, CreditNote.credit_status != "voided")
            .limit(1)
        )
        is not None
    )
