"""An invoice's life: created (draft or finalized), refreshed, finalized, numbered.

billing.md §5.4-§5.5: a subscription invoice stays a draft for the grace period,
then is rebuilt (late events count) and finalized with coupons, a number and its
issuing and due dates.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.db import flush_in_table_order, frozen_catalog
from meterbill.core.periods import local_date
from meterbill.core.rehearsal import rehearsing
from meterbill.coupons.models import AppliedCoupon, Coupon
from meterbill.credit_notes.consumption import (
    apply_credit_notes,
    forget_credit_note_holders,
    note_credit_note_holders,
)
from meterbill.credit_notes.termination import credit_terminations_on
from meterbill.customers.models import Customer
from meterbill.documents.service import queue as queue_document
from meterbill.invoices.building import BillingContext, BuiltFee, entry_fees, renewal_fees
from meterbill.invoices.computation import (
    COUPON_HOLDERS,
    CouponUse,
    apply_amounts,
    note_coupon_holders,
    remove_fees,
    write_standalone_fee,
)
from meterbill.invoices.entries import EntrySpec
from meterbill.invoices.models import Invoice, InvoiceSubscription
from meterbill.invoices.run import (
    RUN_KEY,
    BillingRun,
    current_run,
    deferring,
    flush_unless_deferred,
    lock_rows,
    prepare_for,
)
from meterbill.invoices.taxes import prefetch_customer_taxes
from meterbill.organizations.models import Organization
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription
from meterbill.wallets.consumption import (
    apply_prepaid_credits,
    forget_wallet_holders,
    note_wallet_holders,
)
from meterbill.webhooks.outbox import emit, materialize


@dataclass(frozen=True)
class Billed:
    subscription: Subscription
    spec: EntrySpec


def grace_period(customer: Customer, organization: Organization) -> int:
    if customer.invoice_grace_period is not None:
        return customer.invoice_grace_period
    return organization.invoice_grace_period


def net_payment_term(customer: Customer, organization: Organization) -> int:
    if customer.net_payment_term is not None:
        return customer.net_payment_term
    return organization.net_payment_term


def subscription_issuing_date(billing_date: date, customer: Customer, grace: int) -> date:
    """§5.4: the billing day moved by the customer's anchor and adjustment settings."""
    anchor = customer.subscription_invoice_issuing_date_anchor or "next_period_start"
    adjustment = customer.subscription_invoice_issuing_date_adjustment or (
        "align_with_finalization_date"
    )
    if anchor == "next_period_start":
        shift = grace if adjustment == "align_with_finalization_date" else 0
    elif adjustment == "keep_anchor":
        shift = -1
    else:
        shift = grace if grace else -1
    return billing_date + timedelta(days=shift)


def draft_number(organization: Organization) -> str:
    return f"{organization.document_number_prefix}-DRAFT"


def _context(session: Session, invoice: Invoice, now: datetime) -> BillingContext:
    customer = session.get(Customer, invoice.customer_id)
    organization = session.get(Organization, invoice.organization_id)
    assert customer is not None and organization is not None
    return BillingContext.of(session, customer, organization, invoice.currency, now)


def new_invoice(
    customer: Customer,
    organization: Organization,
    *,
    invoice_type: str,
    currency: str,
    billing_date: date,
    issuing_date: date,
    now: datetime,
    expected_finalization_date: date | None = None,
) -> Invoice:
    """A draft, unsaved, due `net_payment_term` days after it is issued."""
    term = net_payment_term(customer, organization)
    return Invoice(
        id=uuid.uuid4(),
        organization_id=organization.id,
        customer_id=customer.id,
        number=draft_number(organization),
        invoice_type=invoice_type,
        status="draft",
        currency=currency,
        billing_date=billing_date,
        issuing_date=issuing_date,
        payment_due_date=issuing_date + timedelta(days=term),
        net_payment_term=term,
        expected_finalization_date=expected_finalization_date,
        created_at=now,
        updated_at=now,
    )


def billed_entries(
    session: Session, invoice: Invoice
) -> list[tuple[InvoiceSubscription, Subscription, Plan]]:
    rows = []
    for entry in session.scalars(
        select(InvoiceSubscription)
        .where(InvoiceSubscription.invoice_id == invoice.id)
        .order_by(InvoiceSubscription.position)
    ):
        subscription = session.get(Subscription, entry.subscription_id)
        assert subscription is not None
        plan = session.get(Plan, subscription.plan_id)
        assert plan is not None
        rows.append((entry, subscription, plan))
    return rows


def _fees_of_entries(
    ctx: BillingContext, rows: list[tuple[InvoiceSubscription, Subscription, Plan]]
) -> list[BuiltFee]:
    built: list[BuiltFee] = []
    for entry, subscription, plan in rows:
        built.extend(entry_fees(ctx, entry, subscription, plan))
    return built


def build_fees(session: Session, invoice: Invoice, now: datetime) -> list[BuiltFee]:
    return _fees_of_entries(_context(session, invoice, now), billed_entries(session, invoice))


def subscription_invoice(
    session: Session,
    customer: Customer,
    organization: Organization,
    billed: list[Billed],
    now: datetime,
) -> tuple[Invoice, list[tuple[InvoiceSubscription, Subscription, Plan]]]:
    """A new draft for `billed` entries of one customer, and its entries: both unsaved."""
    plan = session.get(Plan, billed[0].subscription.plan_id)
    assert plan is not None
    grace = grace_period(customer, organization)
    billing_date = billed[0].spec.billing_date
    issuing = subscription_issuing_date(billing_date, customer, grace)
    invoice = new_invoice(
        customer,
        organization,
        invoice_type="subscription",
        currency=plan.amount_currency,
        billing_date=billing_date,
        issuing_date=issuing,
        now=now,
        expected_finalization_date=billing_date + timedelta(days=grace),
    )
    rows = [
        (_entry(invoice, position, item, now), item.subscription, _plan_of(session, item))
        for position, item in enumerate(billed)
    ]
    return invoice, rows


def create_subscription_invoice(
    session: Session,
    customer: Customer,
    organization: Organization,
    billed: list[Billed],
    now: datetime,
) -> Invoice | None:
    """One invoice for `billed` entries of one customer, or None if already billed.

    The entries' unique key (subscription, reason, boundary) settles races between
    workers: the loser's savepoint rolls back and nothing is written twice.
    """
    invoice, rows = subscription_invoice(session, customer, organization, billed, now)
    if deferring(session):
        # No savepoint: the batch holds these subscriptions FOR UPDATE, which no other
        # writer of their entries gets past (the entries' foreign key needs KEY SHARE),
        # and SQLite has one writer.
        prepare_for(session, customer.id)
        session.add(invoice)
        session.add_all(entry for entry, _s, _p in rows)
    else:
        try:
            with session.begin_nested():
                session.add(invoice)
                session.add_all(entry for entry, _s, _p in rows)
                session.flush()
        except IntegrityError:
            return None
    generate(session, customer, organization, invoice, rows, now, today=invoice.billing_date)
    if invoice.status == "draft":
        emit(session, "invoice.drafted", invoice, now, deferred=deferring(session))
    return invoice


def generate(
    session: Session,
    customer: Customer,
    organization: Organization,
    invoice: Invoice,
    rows: list[tuple[InvoiceSubscription, Subscription, Plan]],
    now: datetime,
    *,
    today: date,
) -> None:
    """The fees of a draft's new entries (and the standalone renewals they bill); then
    it stays a draft for its grace period, or is finalized once `today` (the customer's
    local date) reaches the end of it."""
    ctx = BillingContext.of(session, customer, organization, invoice.currency, now)
    for entry, subscription, entry_plan in rows:
        bill_standalone_renewals(ctx, entry, subscription, entry_plan)
    built = _fees_of_entries(ctx, rows)
    expected = invoice.expected_finalization_date
    if expected is not None and today < expected:
        apply_amounts(session, invoice, built, now, with_coupons=False, fresh=True)
    else:
        finalize_built(session, invoice, built, now, today=today, fresh=True)


def _plan_of(session: Session, item: Billed) -> Plan:
    plan = session.get(Plan, item.subscription.plan_id)
    assert plan is not None
    return plan


def _entry(invoice: Invoice, position: int, item: Billed, now: datetime) -> InvoiceSubscription:
    spec = item.spec
    return InvoiceSubscription(
        id=uuid.uuid4(),
        invoice_id=invoice.id,
        subscription_id=item.subscription.id,
        invoicing_reason=spec.invoicing_reason,
        boundary=spec.boundary,
        from_datetime=spec.plan_fee[0] if spec.plan_fee else None,
        to_datetime=spec.plan_fee[1] if spec.plan_fee else None,
        charges_from_datetime=spec.charges[0] if spec.charges else None,
        charges_to_datetime=spec.charges[1] if spec.charges else None,
        commitment_from_datetime=spec.commitment[0] if spec.commitment else None,
        commitment_to_datetime=spec.commitment[1] if spec.commitment else None,
        position=position,
        created_at=now,
    )


def bill_standalone_renewals(
    ctx: BillingContext, entry: InvoiceSubscription, subscription: Subscription, plan: Plan
) -> None:
    """Renewals of non-invoiceable recurring charges: fees on no invoice, once per entry."""
    for built in renewal_fees(ctx, entry, subscription, plan, invoiceable=False):
        write_standalone_fee(ctx.session, built, ctx.now)


def refresh(session: Session, invoice: Invoice, now: datetime) -> None:
    """Rebuild a draft from the current events and catalog."""
    if invoice.status != "draft":
        return
    remove_fees(session, invoice)
    session.flush()
    apply_amounts(session, invoice, build_fees(session, invoice, now), now, with_coupons=False)


def finalize(
    session: Session, invoice: Invoice, now: datetime, *, today: date | None = None
) -> None:
    """Rebuild the draft with late events, apply coupons, number and date it; then the
    credit notes of subscriptions that ended while it was a draft."""
    # Its invoice.drafted, if still to render, shows the draft.
    materialize(session, object_ids=[invoice.id])
    remove_fees(session, invoice)
    session.flush()
    finalize_built(session, invoice, build_fees(session, invoice, now), now, today=today)
    credit_terminations_on(session, invoice, now)


def finalize_built(
    session: Session,
    invoice: Invoice,
    built: list[BuiltFee],
    now: datetime,
    *,
    today: date | None,
    fresh: bool = False,
) -> None:
    uses = apply_amounts(session, invoice, built, now, with_coupons=True, fresh=fresh, flush=False)
    apply_credit_notes(session, invoice, now, coupon_credits=len(uses))
    apply_prepaid_credits(session, invoice, built, now)
    customer = session.get(Customer, invoice.customer_id)
    organization = session.get(Organization, invoice.organization_id)
    assert customer is not None and organization is not None
    if today is not None and invoice.invoice_type == "subscription":
        grace = grace_period(customer, organization)
        issuing = subscription_issuing_date(invoice.billing_date, customer, grace)
        expected = invoice.expected_finalization_date
        if expected is not None and today < expected:
            # Finalized by hand before the grace period ran out: dated the day it happens.
            issuing = today
        invoice.issuing_date = issuing
        invoice.payment_due_date = issuing + timedelta(days=invoice.net_payment_term)
    close_or_number(session, invoice, customer, organization, now)
    _consume_coupons(session, uses, now)
    flush_unless_deferred(session)


# Lago's webhook for a finalized invoice, by type (invoice.created otherwise).
FINALIZED_WEBHOOKS = {
    "one_off": "invoice.one_off_created",
    "credit": "invoice.paid_credit_added",
}


def close_or_number(
    session: Session, invoice: Invoice, customer: Customer, organization: Organization,
    now: datetime,
) -> None:  # fmt: skip
    """The end of every finalization: an invoice of no fees is closed (unless the
    customer or organization finalizes those), any other numbered; nothing due, paid."""
    if invoice.fees_amount_cents == 0 and not zero_amount_finalized(customer, organization):
        invoice.status = "closed"
    else:
        invoice.status = "finalized"
        assign_number(session, invoice, customer, organization, now)
        # A billing run's thousands are rendered after it (outbox.materialize).
        webhook_type = FINALIZED_WEBHOOKS.get(invoice.invoice_type, "invoice.created")
        emit(session, webhook_type, invoice, now, deferred=deferring(session))
        # Its PDF is made in the background (documents.service), never here.
        queue_document(session, "invoice", invoice, now)
    invoice.finalized_at = now
    invoice.payment_status = "succeeded" if invoice.total_amount_cents == 0 else "pending"


def zero_amount_finalized(customer: Customer, organization: Organization) -> bool:
    setting = customer.finalize_zero_amount_invoice
    if setting == "finalize":
        return True
    if setting == "skip":
        return False
    return organization.finalize_zero_amount_invoice


@contextmanager
def billing_run(session: Session, customers: Iterable[Customer]) -> Iterator[BillingRun]:
    """One batch of the clock: shared reads, sequences counted in memory, and writes
    held back to one flush at the end (invoices/run.py). Nothing inside may roll a
    savepoint back past a numbering (the row locks guarding the counters would go)."""
    by_organization: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for customer in customers:
        by_organization[customer.organization_id].add(customer.id)
    customer_ids = {id_ for ids in by_organization.values() for id_ in ids}
    run = BillingRun(by_organization)
    session.info[RUN_KEY] = run
    prefetch_customer_taxes(session, customer_ids)
    note_coupon_holders(session, customer_ids)
    note_credit_note_holders(session, customer_ids)
    note_wallet_holders(session, customer_ids)
    try:
        with frozen_catalog(session), session.no_autoflush:
            yield run
            flush_in_table_order(session)
    finally:
        session.info.pop(RUN_KEY, None)
        session.info.pop(COUPON_HOLDERS, None)
        forget_credit_note_holders(session)
        forget_wallet_holders(session)


def assign_number(
    session: Session,
    invoice: Invoice,
    customer: Customer,
    organization: Organization,
    now: datetime,
) -> None:
    """§5.5. Sequences are taken under row locks so concurrent finalizations never share one.

    No autoflush on the way: the invoice's other changes go out with its numbers, in
    one UPDATE.

    A rehearsal (a preview) numbers nothing: its invoice keeps its draft number, as
    Lago's preview (an invoice never saved) has none. Sequences are unique per
    organization: one written by a rehearsal would make every finalization of the
    organization wait for its rollback, and a number shown in a preview may be taken
    by another invoice before that one exists.
    """
    if rehearsing(session):
        return
    with session.no_autoflush:
        _assign_sequences(session, invoice, customer, organization)
    prefix = organization.document_number_prefix
    if organization.document_numbering == "per_billing_entity":
        month = local_date(now, organization.timezone).strftime("%Y%m")
        invoice.number = f"{prefix}-{month}-{invoice.organization_sequential_id:03d}"
    else:
        invoice.number = f"{prefix}-{customer.sequential_id:03d}-{invoice.sequential_id:03d}"


def _assign_sequences(
    session: Session, invoice: Invoice, customer: Customer, organization: Organization
) -> None:
    # The organization first, then the customer, everywhere: a billing run holds its
    # organization's lock from its first invoice on, so the other order could deadlock.
    # FOR NO KEY UPDATE (key_share): rows that reference these (invoices, fees) take KEY
    # SHARE locks on them, which a plain FOR UPDATE waits for: two workers that had
    # each written an invoice would then wait for each other.
    run = current_run(session)
    if run is None:
        lock_rows(session, Organization, organization.id)
        lock_rows(session, Customer, customer.id)
        invoice.organization_sequential_id = _last_organization_sequence(session, organization) + 1
        invoice.sequential_id = _last_customer_sequences(session, [customer.id])[customer.id] + 1
        return
    if organization.id not in run.organization_sequences:
        # Locked and counted once per run: the locks hold until it commits.
        lock_rows(session, Organization, organization.id)
        run.organization_sequences[organization.id] = _last_organization_sequence(
            session, organization
        )
        batch = sorted(run.customers_by_organization.get(organization.id, set()))
        lock_rows(session, Customer, *batch)
        run.customer_sequences.update(_last_customer_sequences(session, batch))
    if customer.id not in run.customer_sequences:
        lock_rows(session, Customer, customer.id)
        run.customer_sequences.update(_last_customer_sequences(session, [customer.id]))
    run.organization_sequences[organization.id] += 1
    run.customer_sequences[customer.id] += 1
    invoice.organization_sequential_id = run.organization_sequences[organization.id]
    invoice.sequential_id = run.customer_sequences[customer.id]


def _last_organization_sequence(session: Session, organization: Organization) -> int:
    return (
        session.scalar(
            select(func.max(Invoice.organization_sequential_id)).where(
                Invoice.organization_id == organization.id
            )
        )
        or 0
    )


def _last_customer_sequences(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    last = dict.fromkeys(ids, 0)
    for customer_id, sequence in session.execute(
        select(Invoice.customer_id, func.max(Invoice.sequential_id))
        .where(Invoice.customer_id.in_(ids))
        .group_by(Invoice.customer_id)
    ):
        last[customer_id] = sequence or 0
    return last


def _consume_coupons(session: Session, uses: list[CouponUse], now: datetime) -> None:
    """§7 step 7: once-coupons end when used up, recurring ones count a period down.

    A fixed amount is used up when this invoice took all it had left before: what it
    took on earlier invoices was read when the pipeline priced this one, so nothing is
    summed (or flushed) again here."""
    for use in uses:
        credit = use.credit
        if credit.applied_coupon_id is None:
            continue
        applied = session.get(AppliedCoupon, credit.applied_coupon_id)
        coupon = session.get(Coupon, applied.coupon_id) if applied else None
        if applied is None or coupon is None:
            continue
        if applied.frequency == "once":
            used_up = coupon.coupon_type == "percentage" or (
                credit.amount_cents >= (use.left_before or 0)
            )
            if used_up:
                _end(applied, now)
        elif applied.frequency == "recurring":
            remaining = (applied.frequency_duration_remaining or 0) - 1
            applied.frequency_duration_remaining = max(remaining, 0)
            applied.updated_at = now
            if remaining <= 0:
                _end(applied, now)


def _end(applied: AppliedCoupon, now: datetime) -> None:
    applied.status = "terminated"
    applied.terminated_at = now
    applied.updated_at = now
