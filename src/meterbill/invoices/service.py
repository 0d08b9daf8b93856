"""Invoice operations behind the API: find, list, pay, finalize, refresh, void, retry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from meterbill.core.errors import Forbidden, MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, build_meta
from meterbill.core.periods import local_date
from meterbill.core.text_search import contains_ignoring_case, in_selection
from meterbill.coupons.models import AppliedCoupon, Coupon
from meterbill.credit_notes.consumption import give_back, has_standing_credit_notes
from meterbill.credit_notes.service import issued_on
from meterbill.credit_notes.voiding import VoidNotes, check_void_notes, issue_void_notes
from meterbill.customers.filters import customer_ids_matching
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.customers.service import live_id
from meterbill.invoices import failures, lifecycle
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.models import Credit, Invoice, InvoiceMetadata
from meterbill.invoices.payment_status import mark_payment_status
from meterbill.organizations.models import Organization
from meterbill.wallets import service as wallets
from meterbill.webhooks.outbox import emit

PAYMENT_STATUSES = ("pending", "succeeded", "failed")
# What the API lists: every status but schemas.HIDDEN_STATUSES (generating, open, closed).
VISIBLE_STATUSES = ("draft", "finalized", "voided", "failed", "pending")


# Ids read past a page to learn the count without counting (list_invoices).
COUNT_LOOKAHEAD = 500
# Newest first; the id settles invoices created in the same microsecond.
INVOICE_ORDER = (Invoice.created_at.desc(), Invoice.id.desc())


@dataclass(frozen=True)
class InvoiceFilters:
    external_customer_id: str | None = None
    statuses: Sequence[str] = ()
    payment_status: str | None = None
    payment_overdue: bool | None = None
    invoice_type: str | None = None
    currency: str | None = None
    issuing_date_from: date | None = None
    issuing_date_to: date | None = None
    customer_id: uuid.UUID | None = None
    # Any of these payment statuses (the dashboard's "Outstanding": pending or failed).
    payment_statuses: Sequence[str] = ()
    # Lago's search_term: part of the number, the exact id, or part of the customer's
    # name, external id or e-mail (customers.filters.customer_ids_matching).
    search_term: str | None = None
    # Bounds on total_amount_cents, both included.
    amount_from: int | None = None
    amount_to: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def invoice_query(organization_id: uuid.UUID, filters: InvoiceFilters) -> Select[tuple[Invoice]]:
    # The visible statuses named (not the hidden ones excluded): on the (organization,
    # status, ...) index a count is then a few ranges, not a test of every row.
    query = select(Invoice).where(Invoice.organization_id == organization_id)
    if filters.search_term:
        # First: SQLite tests the conditions in this order, and the search keeps few.
        query = query.where(_searched(organization_id, filters.search_term))
    query = query.where(Invoice.status.in_(VISIBLE_STATUSES))
    if filters.customer_id is not None:
        query = query.where(Invoice.customer_id == filters.customer_id)
    if filters.external_customer_id:
        # One live customer at most holds the id: an equality, which the databases serve
        # from the customer's own index (an IN list let SQLite scan the organization's).
        live = live_id(organization_id, filters.external_customer_id).scalar_subquery()
        query = query.where(Invoice.customer_id == live)
    if filters.statuses:
        query = query.where(Invoice.status.in_(filters.statuses))
    if filters.payment_status:
        query = query.where(Invoice.payment_status == filters.payment_status)
    if filters.payment_overdue is not None:
        query = query.where(Invoice.payment_overdue.is_(filters.payment_overdue))
    if filters.invoice_type:
        query = query.where(Invoice.invoice_type == filters.invoice_type)
    if filters.currency:
        query = query.where(Invoice.currency == filters.currency.upper())
    if filters.issuing_date_from:
        query = query.where(Invoice.issuing_date >= filters.issuing_date_from)
    if filters.issuing_date_to:
        query = query.where(Invoice.issuing_date <= filters.issuing_date_to)
    if filters.payment_statuses:
        query = query.where(Invoice.payment_status.in_(filters.payment_statuses))
    if filters.amount_from is not None:
        query = query.where(Invoice.total_amount_cents >= filters.amount_from)
    if filters.amount_to is not None:
        query = query.where(Invoice.total_amount_cents <= filters.amount_to)
    return query.order_by(*INVOICE_ORDER)


def _searched(organization_id: uuid.UUID, term: str) -> ColumnElement[bool]:
    """Lago's invoice search: the number contains the term, the id is the term, or the
    customer's name, first or last name, legal name, external id or e-mail contains it
    (deleted customers too: their invoices stay listed)."""
    term = term.strip().lower()
    matches: list[ColumnElement[bool]] = [
        contains_ignoring_case(Invoice.number, term),
        in_selection(Invoice.customer_id, customer_ids_matching(organization_id, term)),
    ]
    exact = _uuid(term)
    if exact is not None:
        matches.append(Invoice.id == exact)
    return or_(*matches)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def list_invoices(
    session: Session, organization_id: uuid.UUID, filters: InvoiceFilters, page: PageRequest
) -> Page[Invoice]:
    """One page of the invoices the filters keep, newest first, and their count.

    The page's ids are found first, on the ids alone: the databases read them from the
    list's index (ix_invoices_org_listing), testing the search and the statuses there, and
    fetch only the page's rows (a scan fetching every row to test it took 150 ms among
    100,000 invoices on PostgreSQL). When fewer ids than asked come back, that is the
    count; a search asks for a little more than the page, so it scans the invoices once,
    not twice."""
    query = invoice_query(organization_id, filters)
    ids = query.with_only_columns(Invoice.id)
    start = (page.page - 1) * page.per_page
    # Only a search reads every id anyway (on the index): other filters count on the
    # (organization, status, ...) index, while their rows' test needs the table.
    asked = page.per_page + (COUNT_LOOKAHEAD if filters.search_term else 0)
    found = list(session.scalars(ids.offset(start).limit(asked)))
    if len(found) < asked and (found or start == 0):
        total = start + len(found)
    else:
        count = select(func.count()).select_from(ids.order_by(None).subquery())
        total = session.scalar(count) or 0
    wanted = found[: page.per_page]
    items = (
        session.scalars(select(Invoice).where(Invoice.id.in_(wanted)).order_by(*INVOICE_ORDER))
        .unique()
        .all()
        if wanted
        else []
    )
    return Page(items=items, meta=build_meta(page.page, page.per_page, total))


def invoice_actions(invoice: Invoice, due_cents: int) -> frozenset[str]:
    """What the services below accept for this invoice now (the dashboard offers these,
    to members whose role allows them): refresh and finalize a subscription draft;
    update the payment status, void, or credit a finalized invoice; record a payment
    while something is due. `due_cents` is schemas.total_due_amount_cents. Voiding is
    still refused when the invoice has credit notes standing (void_invoice says so)."""
    actions: set[str] = set()
    if invoice.status == "draft" and invoice.invoice_type == "subscription":
        actions |= {"refresh", "finalize"}
    if invoice.status == "finalized":
        actions |= {"update_payment_status", "void", "credit_note"}
        if due_cents > 0:
            actions.add("record_payment")
    return frozenset(actions)


def update_invoice(
    session: Session,
    organization_id: uuid.UUID,
    invoice_id: str,
    payment_status: str | None,
    metadata: list[dict[str, Any]] | None,
    now: datetime,
) -> Invoice:
    invoice = find_invoice(session, organization_id, invoice_id, lock=True, payable=True)
    if payment_status is not None and payment_status not in PAYMENT_STATUSES:
        raise ValidationFailed.single("payment_status", "value_is_invalid")
    if invoice.status == "voided":
        raise MethodNotAllowed("update_on_voided_invoice")
    if invoice.status == "failed" and payment_status is not None:
        # Nothing was generated: nothing to pay until a retry generates it.
        raise MethodNotAllowed("invalid_status")
    if invoice.status == "draft":
        if payment_status is not None:
            raise MethodNotAllowed("payment_status_update_on_draft_invoice")
        if metadata:
            raise MethodNotAllowed("metadata_on_draft_invoice")
    if payment_status is not None and payment_status != invoice.payment_status:
        if payment_status == "succeeded":
            # Marked paid by hand: what was still due came in too (set, not added, so
            # recorded payments are not counted twice; what offsets took off was not paid).
            due = issued_on(session, invoice.id).due(invoice)
            invoice.total_paid_amount_cents += max(due, 0)
        change_payment_status(session, invoice, payment_status, now)
    if metadata is not None:
        _replace_metadata(session, invoice, metadata, now)
    invoice.updated_at = now
    session.flush()
    session.refresh(invoice)
    return invoice


def change_payment_status(
    session: Session, invoice: Invoice, payment_status: str, now: datetime
) -> None:
    """The invoice's and its fees' payment status, and a credit invoice's credits follow
    its payment."""
    if mark_payment_status(session, invoice, payment_status, now):
        wallets.credit_invoice_paid(session, invoice, payment_status, now)


def _replace_metadata(
    session: Session, invoice: Invoice, items: list[dict[str, Any]], now: datetime
) -> None:
    """Items with an id update that entry; the others are added; unlisted ones go."""
    existing = {
        str(item.id): item
        for item in session.scalars(
            select(InvoiceMetadata).where(InvoiceMetadata.invoice_id == invoice.id)
        )
    }
    kept: set[str] = set()
    for item in items:
        key, value = item.get("key"), item.get("value")
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValidationFailed.single("metadata", "value_is_invalid")
        current = existing.get(str(item.get("id"))) if item.get("id") else None
        if current is not None:
            current.key, current.value, current.updated_at = key, value, now
            kept.add(str(current.id))
        else:
            session.add(
                InvoiceMetadata(
                    invoice_id=invoice.id, key=key, value=value, created_at=now, updated_at=now
                )
            )
    for key, item in existing.items():
        if key not in kept:
            session.delete(item)


def _today(session: Session, invoice: Invoice, now: datetime) -> date:
    customer = session.get(Customer, invoice.customer_id)
    organization = session.get(Organization, invoice.organization_id)
    assert customer is not None and organization is not None
    return local_date(now, applicable_timezone(customer, organization))


def finalize_invoice(
    session: Session, organization_id: uuid.UUID, invoice_id: str, now: datetime
) -> Invoice:
    invoice = find_invoice(session, organization_id, invoice_id, lock=True)
    if invoice.status != "draft":
        raise NotFound("invoice")
    if invoice.invoice_type != "subscription":
        raise Forbidden("forbidden")
    finalize_now(session, invoice, now)
    session.refresh(invoice)
    return invoice


def finalize_now(session: Session, invoice: Invoice, now: datetime) -> None:
    """A draft finalized now, before its grace period ends (by hand, or its plan deleted)."""
    lifecycle.finalize(session, invoice, now, today=_today(session, invoice, now))
    failures.clear_errors(session, invoice)


def redate_drafts(session: Session, customer: Customer, now: datetime) -> list[Invoice]:
    """After the customer's grace period or issuing-date settings changed: its draft
    subscription invoices are dated again from their billing day, and those whose grace
    period is now over are finalized (Lago's UpdateInvoiceIssuingDateSettingsService).
    Returns the drafts finalized."""
    organization = session.get(Organization, customer.organization_id)
    assert organization is not None
    grace = lifecycle.grace_period(customer, organization)
    term = lifecycle.net_payment_term(customer, organization)
    today = local_date(now, applicable_timezone(customer, organization))
    drafts = session.scalars(
        select(Invoice)
        .where(
            Invoice.customer_id == customer.id,
            Invoice.status == "draft",
            Invoice.invoice_type == "subscription",
        )
        .order_by(Invoice.billing_date, Invoice.created_at, Invoice.id)
        .with_for_update()
    ).all()
    finalized = []
    for invoice in drafts:
        issuing = lifecycle.subscription_issuing_date(invoice.billing_date, customer, grace)
        invoice.issuing_date = issuing
        invoice.net_payment_term = term
        invoice.payment_due_date = issuing + timedelta(days=term)
        invoice.expected_finalization_date = invoice.billing_date + timedelta(days=grace)
        invoice.updated_at = now
        if invoice.expected_finalization_date <= today:
            lifecycle.finalize(session, invoice, now, today=today)
            finalized.append(invoice)
    return finalized


def retry_invoice(
    session: Session, organization_id: uuid.UUID, invoice_id: str, now: datetime
) -> Invoice:
    """Generate a failed invoice again now (the clock also retries it on every tick).
    If it fails again, it stays failed with the new error in its error_details."""
    invoice = find_invoice(session, organization_id, invoice_id, lock=True)
    if invoice.status != "failed":
        raise MethodNotAllowed("invalid_status")
    failures.retry(session, invoice, now, [], job="retry_invoice")
    session.refresh(invoice)
    return invoice


def refresh_invoice(
    session: Session, organization_id: uuid.UUID, invoice_id: str, now: datetime
) -> Invoice:
    invoice = find_invoice(session, organization_id, invoice_id, lock=True)
    if invoice.status != "draft":
        return invoice
    if invoice.invoice_type != "subscription":
        raise Forbidden("forbidden")
    lifecycle.refresh(session, invoice, now)
    session.refresh(invoice)
    return invoice


def is_voidable(session: Session, invoice: Invoice) -> bool:
    """Only a finalized invoice is voided, and not while credit notes it issued stand."""
    return invoice.status == "finalized" and not has_standing_credit_notes(session, invoice)


def void_invoice(
    session: Session,
    organization_id: uuid.UUID,
    invoice_id: str,
    now: datetime,
    credit_notes: VoidNotes | None = None,
) -> Invoice:
    """A finalized invoice becomes voided; coupons and credit notes it consumed come
    back (§5.6). An invoice with standing credit notes of its own cannot be voided.

    With `credit_notes` (Lago's generate_credit_note), what the invoice is worth goes
    to credit notes instead: the one asked for, and a voided one for the rest. Wallet
    credits it consumed then stay spent, since the notes count them."""
    invoice = find_invoice(session, organization_id, invoice_id, lock=True)
    if not is_voidable(session, invoice):
        raise MethodNotAllowed("not_voidable")
    if credit_notes is not None:
        check_void_notes(session, invoice, credit_notes)
    give_back(session, invoice, now)
    invoice.status = "voided"
    invoice.voided_at = now
    invoice.payment_overdue = False
    invoice.updated_at = now
    for credit in session.scalars(
        select(Credit).where(Credit.invoice_id == invoice.id, Credit.applied_coupon_id.is_not(None))
    ):
        applied = (
            session.get(AppliedCoupon, credit.applied_coupon_id)
            if credit.applied_coupon_id
            else None
        )
        coupon = session.get(Coupon, applied.coupon_id) if applied else None
        if applied is None or coupon is None or coupon.status != "active":
            continue
        if applied.frequency == "forever":
            continue
        if applied.frequency == "recurring":
            applied.frequency_duration_remaining = (applied.frequency_duration_remaining or 0) + 1
        if applied.status == "terminated":
            applied.status = "active"
            applied.terminated_at = None
        applied.updated_at = now
    if credit_notes is None:
        wallets.invoice_voided(session, invoice, now)
    else:
        issue_void_notes(session, invoice, credit_notes, now)
    # Last, as Lago sends it once the void's transaction is over: after the credits given
    # back to wallets and the credit notes it issued.
    emit(session, "invoice.voided", invoice, now)
    session.flush()
    session.refresh(invoice)
    return invoice
