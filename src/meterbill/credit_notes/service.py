"""Credit note rules: issue against a finalized invoice within its limits, estimate,
list, mark refunds, void (billing.md §10)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.metadata import Metadata, MetadataChange
from meterbill.core.money import round_half_up
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.periods import local_date
from meterbill.core.records import key_or_not_found, uuid_or_none
from meterbill.credit_notes.amounts import (
    ItemLine,
    ItemTax,
    NoteAmounts,
    Split,
    estimated_figures,
    matches_items,
    note_amounts,
    settle,
)
from meterbill.credit_notes.models import CreditNote, CreditNoteItem, CreditNoteTax
from meterbill.credit_notes.schemas import CreditNoteInput, ItemInput
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.customers.service import live_id
from meterbill.documents.service import queue as queue_document
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.models import Fee, Invoice
from meterbill.invoices.payment_status import mark_payment_status
from meterbill.organizations.models import Organization
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription
from meterbill.wallets.refunds import refundable_cents, top_up_wallet, void_refunded_credits
from meterbill.webhooks.outbox import emit


@dataclass(frozen=True)
class Issued:
    """What an invoice has already given back through its finalized credit notes."""

    credited: int = 0
    refunded: int = 0
    offset: int = 0

    @property
    def total(self) -> int:
        return self.credited + self.refunded + self.offset

    def due(self, invoice: Invoice) -> int:
        """What the invoice still owes: its total less payments and offsets (below 0 when
        more came in than it asked)."""
        return invoice.total_amount_cents - invoice.total_paid_amount_cents - self.offset

    def paid_left(self, invoice: Invoice) -> int:
        """What was paid for the invoice and not refunded yet."""
        return invoice.total_paid_amount_cents - self.refunded


def issued_on(session: Session, invoice_id: uuid.UUID) -> Issued:
    credited, refunded, offset = session.execute(
        select(
            func.coalesce(func.sum(CreditNote.credit_amount_cents), 0),
            func.coalesce(func.sum(CreditNote.refund_amount_cents), 0),
            func.coalesce(func.sum(CreditNote.offset_amount_cents), 0),
        ).where(CreditNote.invoice_id == invoice_id, CreditNote.status == "finalized")
    ).one()
    return Issued(int(credited), int(refunded), int(offset))


def offsets_by_invoice(session: Session, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Σ offset amounts of finalized credit notes, per invoice (the invoice's due shrinks)."""
    if not invoice_ids:
        return {}
    rows = session.execute(
        select(CreditNote.invoice_id, func.sum(CreditNote.offset_amount_cents))
        .where(
            CreditNote.invoice_id.in_(invoice_ids),
            CreditNote.status == "finalized",
            CreditNote.offset_amount_cents > 0,
        )
        .group_by(CreditNote.invoice_id)
    ).all()
    return {invoice_id: int(total) for invoice_id, total in rows}


def credited_on_fees(session: Session, fee_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """What earlier credit notes already took from each fee."""
    if not fee_ids:
        return {}
    rows = session.execute(
        select(CreditNoteItem.fee_id, func.sum(CreditNoteItem.amount_cents))
        .join(CreditNote, CreditNote.id == CreditNoteItem.credit_note_id)
        .where(CreditNoteItem.fee_id.in_(fee_ids), CreditNote.status == "finalized")
        .group_by(CreditNoteItem.fee_id)
    ).all()
    return {fee_id: int(total) for fee_id, total in rows}


def _note_amounts(
    session: Session, invoice: Invoice, items: Sequence[tuple[Fee, Decimal]]
) -> NoteAmounts:
    """The note's amounts. The note that takes all the invoice has left also takes back
    the cents earlier notes rounded their taxes by, so that all the notes together give
    back the invoice's taxes, not a cent more or less (Lago's
    adjust_credit_note_tax_precise_rounding: 13.67 then 13.66 of 27.33)."""
    amounts = note_amounts(item_lines(items))
    fees = session.execute(
        select(Fee.id, Fee.amount_cents).where(Fee.invoice_id == invoice.id)
    ).all()
    credited = credited_on_fees(session, [fee_id for fee_id, _amount in fees])
    left = sum(amount - credited.get(fee_id, 0) for fee_id, amount in fees)
    if sum((amount for _fee, amount in items), Decimal(0)) != left:
        return amounts
    # Summed here: exact decimals are not summed by SQLite (stored as text).
    earlier = session.execute(
        select(CreditNote.taxes_amount_cents, CreditNote.precise_taxes_amount_cents).where(
            CreditNote.invoice_id == invoice.id, CreditNote.status == "finalized"
        )
    ).all()
    rounded = sum((Decimal(taxes) - precise for taxes, precise in earlier), Decimal(0))
    return replace(amounts, precise_taxes=amounts.precise_taxes - rounded)


def amounts_on(
    session: Session, invoice: Invoice, items: Sequence[tuple[Fee, Decimal]]
) -> NoteAmounts:
    """What a note of these items would give back (its rounding settled as issued)."""
    return _note_amounts(session, invoice, items)


def _creditable_invoice(session: Session, organization_id: uuid.UUID, invoice_id: str) -> Invoice:
    invoice = find_invoice(session, organization_id, invoice_id, lock=True)
    # A draft or voided invoice owes nothing.
    if invoice.status != "finalized":
        raise MethodNotAllowed("invalid_type_or_status")
    # A wallet top-up is refunded only once paid, and only while its wallet is active to
    # take the credits back (Lago's valid_type_or_status?). Lago also offsets a whole unpaid
    # top-up; meterbill does not yet (README, "Not yet").
    if invoice.invoice_type == "credit" and (
        invoice.payment_status != "succeeded" or top_up_wallet(session, invoice) is None
    ):
        raise MethodNotAllowed("invalid_type_or_status")
    return invoice


def item_lines(items: Sequence[tuple[Fee, Decimal]]) -> list[ItemLine]:
    return [
        ItemLine(
            amount=amount,
            fee_amount_cents=fee.amount_cents,
            fee_precise_coupons=fee.precise_coupons_amount_cents,
            taxes=[
                ItemTax(tax.tax_id, tax.tax_code, tax.tax_name, tax.tax_description, tax.tax_rate)
                for tax in fee.applied_taxes
            ],
        )
        for fee, amount in items
    ]


def resolve_items(
    session: Session, invoice: Invoice, items: Sequence[ItemInput]
) -> list[tuple[Fee, Decimal]]:
    """Items checked one by one: the fee is on the invoice, the amount fits what is left."""
    keys = [uuid_or_none(item.fee_id) for item in items]
    fees = {
        fee.id: fee
        for fee in session.scalars(
            select(Fee).where(
                Fee.invoice_id == invoice.id, Fee.id.in_([key for key in keys if key is not None])
            )
        )
    }
    taken = credited_on_fees(session, list(fees))
    # A top-up gives back no more credits than its wallet still holds.
    wallet_cents = refundable_cents(session, invoice) if invoice.invoice_type == "credit" else None
    resolved: list[tuple[Fee, Decimal]] = []
    for item, key in zip(items, keys, strict=True):
        fee = fees.get(key) if key is not None else None
        if fee is None:
            raise NotFound("fee")
        if item.amount_cents < 0:
            raise ValidationFailed.single("amount_cents", "invalid_value")
        already = taken.get(fee.id, 0)
        if wallet_cents is not None and item.amount_cents > wallet_cents:
            raise ValidationFailed.single("amount_cents", "higher_than_wallet_balance")
        if item.amount_cents > fee.amount_cents - already:
            raise ValidationFailed.single("amount_cents", "higher_than_remaining_fee_amount")
        taken[fee.id] = already + item.amount_cents
        resolved.append((fee, Decimal(item.amount_cents)))
    return resolved


def _fee_total(invoice: Invoice) -> int:
    """What the invoice's fees came to after coupons, with taxes: all that can be given back."""
    return invoice.sub_total_including_taxes_amount_cents


def _check_limits(invoice: Invoice, issued: Issued, amounts: NoteAmounts, split: Split) -> None:
    """Lago's ValidateService: every failing limit is reported, by field."""
    errors: dict[str, list[str]] = {}

    def add(field: str, code: str) -> None:
        errors.setdefault(field, []).append(code)

    if invoice.invoice_type == "credit" and split.credit > 0:
        add("credit_amount_cents", "cannot_credit_invoice")
    if split.refund > 0:
        if invoice.total_paid_amount_cents <= 0:
            add("refund_amount_cents", "cannot_refund_unpaid_invoice")
        elif split.refund > issued.paid_left(invoice):
            add("refund_amount_cents", "higher_than_remaining_invoice_amount")
    if not matches_items(amounts, split):
        add("base", "does_not_match_item_amounts")
    creditable = _fee_total(invoice) - issued.credited - issued.offset
    if split.credit > creditable + 1:
        add("credit_amount_cents", "higher_than_remaining_invoice_amount")
    if split.offset > 0 and split.offset > min(issued.due(invoice), creditable):
        add("offset_amount_cents", "higher_than_remaining_invoice_amount")
    if split.total > _fee_total(invoice) - issued.total + 1:
        add("base", "higher_than_remaining_invoice_amount")
    if split.total <= 0:
        add("base", "total_amount_must_be_positive")
    if errors:
        raise ValidationFailed(errors)


def issue(
    session: Session,
    invoice: Invoice,
    items: Sequence[tuple[Fee, Decimal]],
    split: Split,
    now: datetime,
    *,
    reason: str,
    description: str | None = None,
    metadata: dict[str, str | None] | None = None,
    automatic: bool = False,
    issuing_date: date | None = None,
) -> CreditNote:
    """Write a finalized credit note on a locked, finalized invoice, or refuse it whole;
    dated `now` in the customer's time zone unless `issuing_date` says otherwise."""
    amounts = _note_amounts(session, invoice, items)
    issued = issued_on(session, invoice.id)
    _check_limits(invoice, issued, amounts, split)
    split = settle(amounts, split)
    customer = session.get(Customer, invoice.customer_id)
    organization = session.get(Organization, invoice.organization_id)
    assert customer is not None and organization is not None
    sequence = (
        session.scalar(
            select(func.max(CreditNote.sequential_id)).where(CreditNote.invoice_id == invoice.id)
        )
        or 0
    ) + 1
    note = CreditNote(
        id=uuid.uuid4(),
        organization_id=invoice.organization_id,
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        sequential_id=sequence,
        number=f"{invoice.number}-CN{sequence:03d}",
        issuing_date=issuing_date or local_date(now, applicable_timezone(customer, organization)),
        status="finalized",
        credit_status="available",
        refund_status="pending" if split.refund > 0 else None,
        reason=reason,
        description=description,
        currency=invoice.currency,
        total_amount_cents=split.total,
        precise_total_amount_cents=amounts.precise_total,
        taxes_amount_cents=amounts.taxes_amount_cents,
        precise_taxes_amount_cents=amounts.precise_taxes,
        sub_total_excluding_taxes_amount_cents=amounts.sub_total_excluding_taxes_amount_cents,
        balance_amount_cents=split.credit,
        credit_amount_cents=split.credit,
        refund_amount_cents=split.refund,
        offset_amount_cents=split.offset,
        coupons_adjustment_amount_cents=amounts.coupons_adjustment_amount_cents,
        precise_coupons_adjustment_amount_cents=amounts.precise_coupons,
        taxes_rate=amounts.taxes_rate,
        metadata_values=metadata or {},
        automatic=automatic,
        created_at=now,
        updated_at=now,
    )
    session.add(note)
    session.flush()
    for position, (fee, amount) in enumerate(items):
        session.add(
            CreditNoteItem(
                credit_note_id=note.id,
                fee_id=fee.id,
                amount_cents=int(round_half_up(amount)),
                precise_amount_cents=amount,
                amount_currency=invoice.currency,
                position=position,
                created_at=now,
            )
        )
    for part in amounts.taxes:
        session.add(
            CreditNoteTax(
                credit_note_id=note.id,
                tax_id=part.tax.tax_id,
                tax_name=part.tax.name,
                tax_code=part.tax.code,
                tax_rate=part.tax.rate,
                tax_description=part.tax.description,
                amount_cents=part.amount_cents,
                base_amount_cents=part.base_amount_cents,
                amount_currency=invoice.currency,
                created_at=now,
            )
        )
    invoice.updated_at = now
    if split.offset > 0:
        after = replace(issued, offset=issued.offset + split.offset)
        _settle_if_offset_in_full(session, invoice, after, now)
    if invoice.invoice_type == "credit":
        void_refunded_credits(session, invoice, split.refund, note.id, now)
    session.flush()
    session.refresh(note)
    emit(session, "credit_note.created", note, now)
    queue_document(session, "credit_note", note, now)
    return note


def _settle_if_offset_in_full(
    session: Session, invoice: Invoice, issued: Issued, now: datetime
) -> None:
    """Lago counts an offset as settling the invoice: once payments and offsets cover
    it, it is paid. Never a credit invoice: only paid ones are credited, owing nothing."""
    if issued.due(invoice) > 0:
        return
    mark_payment_status(session, invoice, "succeeded", now)


def create_credit_note(
    session: Session, organization_id: uuid.UUID, data: CreditNoteInput, now: datetime
) -> CreditNote:
    invoice = _creditable_invoice(session, organization_id, data.invoice_id)
    items = resolve_items(session, invoice, data.items)
    split = Split(data.credit_amount_cents, data.refund_amount_cents, data.offset_amount_cents)
    return issue(
        session, invoice, items, split, now,
        reason=data.reason, description=data.description, metadata=data.metadata,
    )  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    invoice: Invoice
    items: list[tuple[Fee, Decimal]]
    amounts: NoteAmounts
    taxes_amount_cents: int  # the note's taxes as Lago's estimate rounds them
    max_creditable_amount_cents: int
    max_refundable_amount_cents: int
    max_offsettable_amount_cents: int


def estimate(
    session: Session, organization_id: uuid.UUID, invoice_id: str, items: Sequence[ItemInput]
) -> Estimate:
    invoice = _creditable_invoice(session, organization_id, invoice_id)
    resolved = resolve_items(session, invoice, items)
    amounts = _note_amounts(session, invoice, resolved)
    issued = issued_on(session, invoice.id)
    # What issuing these items gives, rounded as Lago's estimate rounds it.
    taxes, creditable = estimated_figures(amounts)
    paid_left = max(issued.paid_left(invoice), 0)
    due = max(issued.due(invoice), 0)
    if invoice.invoice_type == "credit":
        # A top-up is only refunded, within what its wallet still holds.
        refundable = min(creditable, paid_left, refundable_cents(session, invoice))
        return Estimate(invoice, resolved, amounts, taxes, 0, refundable, 0)
    return Estimate(
        invoice=invoice,
        items=resolved,
        amounts=amounts,
        taxes_amount_cents=taxes,
        max_creditable_amount_cents=creditable,
        max_refundable_amount_cents=min(creditable, paid_left),
        max_offsettable_amount_cents=min(creditable, due),
    )


@dataclass(frozen=True)
class CreditableFee:
    """A fee of the invoice and what credit notes may still take from it."""

    fee: Fee
    creditable_cents: int
    subscription_id: uuid.UUID | None
    subscription_label: str | None  # the subscription's name, else its plan's


def creditable_fees(
    session: Session, organization_id: uuid.UUID, invoice_id: str
) -> tuple[Invoice, list[CreditableFee]]:
    """The invoice a credit note may be issued on (refused as issuing refuses) and its
    fees that still have something to give back, in the invoice's order (the dashboard's
    credit note form lists them, grouped by subscription)."""
    invoice = _creditable_invoice(session, organization_id, invoice_id)
    fees = [fee for fee in invoice.fees if fee.amount_cents > 0]
    taken = credited_on_fees(session, [fee.id for fee in fees])
    labels = {
        subscription_id: name or plan_name
        for subscription_id, name, plan_name in session.execute(
            select(Subscription.id, Subscription.name, Plan.name)
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(
                Subscription.id.in_({fee.subscription_id for fee in fees if fee.subscription_id})
            )
        )
    }
    creditable = [
        CreditableFee(
            fee=fee,
            creditable_cents=fee.amount_cents - taken.get(fee.id, 0),
            subscription_id=fee.subscription_id,
            subscription_label=labels.get(fee.subscription_id) if fee.subscription_id else None,
        )
        for fee in fees
    ]
    return invoice, [entry for entry in creditable if entry.creditable_cents > 0]


def voidable(note: CreditNote) -> bool:
    """Whether `void_credit_note` would accept it: finalized with a balance left."""
    return note.status == "finalized" and note.balance_amount_cents > 0


def find_credit_note(
    session: Session, organization_id: uuid.UUID, credit_note_id: str, *, lock: bool = False
) -> CreditNote:
    key = key_or_not_found(credit_note_id, "credit_note")
    query = select(CreditNote).where(
        CreditNote.id == key, CreditNote.organization_id == organization_id
    )
    note = session.scalar(query.with_for_update() if lock else query)
    if note is None:
        raise NotFound("credit_note")
    return note


def update_credit_note(
    session: Session,
    organization_id: uuid.UUID,
    credit_note_id: str,
    refund_status: str | None,
    metadata: dict[str, str | None] | None,
    now: datetime,
) -> CreditNote:
    note = find_credit_note(session, organization_id, credit_note_id, lock=True)
    if refund_status is not None:
        note.refund_status = refund_status
        if refund_status == "succeeded":
            note.refunded_at = now
    if metadata is not None:
        note.metadata_values = metadata
    note.updated_at = now
    session.flush()
    return note


def change_metadata(
    session: Session,
    organization_id: uuid.UUID,
    credit_note_id: str,
    change: MetadataChange,
    now: datetime,
) -> Metadata:
    note = find_credit_note(session, organization_id, credit_note_id, lock=True)
    note.metadata_values = change.apply(note.metadata_values)
    note.updated_at = now
    session.flush()
    return note.metadata_values


def void_credit_note(
    session: Session, organization_id: uuid.UUID, credit_note_id: str, now: datetime
) -> CreditNote:
    note = find_credit_note(session, organization_id, credit_note_id, lock=True)
    if not voidable(note):
        raise MethodNotAllowed("no_voidable_amount")
    note.credit_status = "voided"
    note.balance_amount_cents = 0
    note.voided_at = now
    note.updated_at = now
    session.flush()
    return note


@dataclass(frozen=True)
class CreditNoteFilters:
    external_customer_id: str | None = None
    customer_id: uuid.UUID | None = None
    issuing_date_from: date | None = None
    issuing_date_to: date | None = None
    search_term: str | None = None
    currency: str | None = None
    reason: str | None = None
    credit_status: str | None = None
    refund_status: str | None = None
    invoice_number: str | None = None
    amount_from: int | None = None
    amount_to: int | None = None
    self_billed: bool | None = None
    billing_entity_codes: Sequence[str] = ()
    extra: dict[str, Any] | None = None


def credit_note_query(
    organization: Organization, filters: CreditNoteFilters
) -> Select[tuple[CreditNote]]:
    query = select(CreditNote).where(
        CreditNote.organization_id == organization.id, CreditNote.status == "finalized"
    )
    if filters.customer_id is not None:
        query = query.where(CreditNote.customer_id == filters.customer_id)
    if filters.external_customer_id:
        customer = live_id(organization.id, filters.external_customer_id)
        query = query.where(CreditNote.customer_id.in_(customer))
    if filters.issuing_date_from:
        query = query.where(CreditNote.issuing_date >= filters.issuing_date_from)
    if filters.issuing_date_to:
        query = query.where(CreditNote.issuing_date <= filters.issuing_date_to)
    if filters.currency:
        query = query.where(CreditNote.currency == filters.currency.upper())
    if filters.reason:
        query = query.where(CreditNote.reason == filters.reason)
    if filters.credit_status:
        query = query.where(CreditNote.credit_status == filters.credit_status)
    if filters.refund_status:
        query = query.where(CreditNote.refund_status == filters.refund_status)
    if filters.invoice_number:
        query = query.where(
            CreditNote.invoice_id.in_(
                select(Invoice.id).where(
                    Invoice.organization_id == organization.id,
                    Invoice.number == filters.invoice_number,
                )
            )
        )
    if filters.amount_from is not None:
        query = query.where(CreditNote.total_amount_cents >= filters.amount_from)
    if filters.amount_to is not None:
        query = query.where(CreditNote.total_amount_cents <= filters.amount_to)
    if filters.self_billed:
        # No invoice here is self-billed.
        query = query.where(CreditNote.id.is_(None))
    if filters.billing_entity_codes and (
        organization.billing_entity_code not in filters.billing_entity_codes
    ):
        query = query.where(CreditNote.id.is_(None))
    if filters.search_term:
        term = f"%{filters.search_term.lower()}%"
        customers = select(Customer.id).where(
            Customer.organization_id == organization.id,
            or_(
                func.lower(Customer.name).like(term),
                func.lower(Customer.external_id).like(term),
                func.lower(Customer.email).like(term),
            ),
        )
        query = query.where(
            or_(
                func.lower(CreditNote.number).like(term),
                CreditNote.customer_id.in_(customers),
                *([CreditNote.id == uuid_or_none(filters.search_term)]
                  if uuid_or_none(filters.search_term) else []),
            )
        )  # fmt: skip
    return query.order_by(CreditNote.created_at.desc(), CreditNote.id.desc())


def list_credit_notes(
    session: Session,
    organization: Organization,
    filters: CreditNoteFilters,
    page: PageRequest,
) -> Page[CreditNote]:
    return paginate(session, credit_note_query(organization, filters), page)


def invoice_numbers(session: Session, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The numbers of the invoices a page of credit notes was issued on, in one query."""
    if not invoice_ids:
        return {}
    rows = session.execute(
        select(Invoice.id, Invoice.number).where(Invoice.id.in_(set(invoice_ids)))
    ).all()
    return {invoice_id: number for invoice_id, number in rows}
