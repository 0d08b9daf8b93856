"""When subscriptions are billed: at a start paid in advance, on billing days, at the end.

The clock calls `bill_due_subscriptions`; the subscription code calls `bill_started`,
`bill_terminated` and `bill_upgrade` as those moments happen. Each writes an
invoice entry under a unique (subscription, reason, boundary) key, so running any
of them twice, or from two workers at once, bills a moment exactly once.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from meterbill.core.db import Transactions, frozen_catalog
from meterbill.core.isolation import Failure, isolated, note
from meterbill.core.periods import local_date
from meterbill.core.rehearsal import for_update
from meterbill.credit_notes.termination import credit_unused_days
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices import entries
from meterbill.invoices.advance_charges import regroup_paid_fees
from meterbill.invoices.building import (
    bills_in_arrears,
    entry_charges_period,
    first_started_at,
    trial_end_of,
)
from meterbill.invoices.failures import (
    clear_errors,
    keep_error,
    periodic_key,
    record_failed_invoice,
)
from meterbill.invoices.lifecycle import (
    Billed,
    billing_run,
    create_subscription_invoice,
    finalize,
)
from meterbill.invoices.models import Invoice, InvoiceSubscription
from meterbill.invoices.scope import Scope, within, within_subscriptions
from meterbill.organizations.models import Organization
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription
from meterbill.usage.batch import reading_ahead
from meterbill.usage.service import read_ahead_charges
from meterbill.webhooks.outbox import emit

BATCH = 200

logger = logging.getLogger("meterbill.clock")


@dataclass
class BillingReport:
    invoices: list[uuid.UUID] = field(default_factory=list)
    finalized: list[uuid.UUID] = field(default_factory=list)
    # Failed invoices generated at last.
    retried: list[uuid.UUID] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _owner(session: Session, subscription: Subscription) -> tuple[Customer, Organization, Plan]:
    customer = session.get(Customer, subscription.customer_id)
    organization = session.get(Organization, subscription.organization_id)
    plan = session.get(Plan, subscription.plan_id)
    assert customer is not None and organization is not None and plan is not None
    return customer, organization, plan


def bill_started(session: Session, subscription: Subscription, now: datetime) -> Invoice | None:
    """The start invoice of a plan paid in advance (nothing for a plan paid in arrears)."""
    customer, organization, plan = _owner(session, subscription)
    timezone = applicable_timezone(customer, organization)
    spec = entries.starting(
        subscription, plan, timezone, trial_end_of(session, subscription, plan, timezone)
    )
    if spec is None:
        return None
    return billed_invoice(session, customer, organization, [Billed(subscription, spec)], now)


def bill_missed_days(
    session: Session, subscription: Subscription, until: datetime, now: datetime,
    *, ending: bool = False,
) -> entries.EntrySpec | None:  # fmt: skip
    """Billing days up to `until`'s local date that no clock run billed yet.

    A subscription that ends (or is upgraded) on a billing day before the clock ran
    would otherwise never be billed for the period that just ended: it is no longer
    active when the clock comes, and its termination invoice covers only its last days.

    `ending` (a termination, not a hand-over): a billing day on `until`'s own date is not
    billed here but returned, for the termination invoice to bill that ended period
    alone (Lago's TerminatedDatesService: ended less than a day after it).
    """
    customer, organization, plan = _owner(session, subscription)
    timezone = applicable_timezone(customer, organization)
    last = _last_boundaries(session, [subscription.id]).get(subscription.id)
    specs = _due_specs(session, subscription, plan, timezone, last, until)
    closing = None
    if ending and specs and specs[-1].billing_date == local_date(until, timezone):
        closing = specs.pop()
    for spec in specs:
        billed_invoice(session, customer, organization, [Billed(subscription, spec)], now)
    return closing


def _due_specs(
    session: Session,
    subscription: Subscription,
    plan: Plan,
    timezone: str,
    last_boundary: str | None,
    until: datetime,
) -> list[entries.EntrySpec]:
    """What each billing day up to `until`'s local date bills, after the last one billed."""
    days = entries.billing_days(
        subscription,
        plan,
        timezone,
        _billed_until(subscription, timezone, last_boundary),
        local_date(until, timezone),
    )
    if not days:
        return []
    trial_end = trial_end_of(session, subscription, plan, timezone)
    return [entries.periodic(subscription, plan, timezone, day, trial_end) for day in days]


def _billed_until(subscription: Subscription, timezone: str, boundary: str | None) -> date:
    """The local day after which billing days are still due."""
    assert subscription.started_at is not None
    after = max(
        local_date(subscription.started_at, timezone),
        local_date(subscription.created_at, timezone),
    )
    return after if boundary is None else max(after, date.fromisoformat(boundary))


def bill_terminated(session: Session, subscription: Subscription, now: datetime) -> Invoice | None:
    """The termination invoice, unless the subscription asked to skip it."""
    if subscription.terminated_at is None:
        return None
    closing = bill_missed_days(session, subscription, subscription.terminated_at, now,
                               ending=True)  # fmt: skip
    # Before the termination invoice, as Lago does: that invoice may spend the credit.
    credit_unused_days(session, subscription, now)
    customer, organization, plan = _owner(session, subscription)
    skip = subscription.on_termination_invoice == "skip"
    if closing is not None:
        # Terminated on a billing day whose period no invoice holds yet: that period is
        # what it owes, and no day of the one that begins (billing.md §4.4).
        spec = entries.closing(closing, plan, subscription.terminated_at, periodic=skip)
    elif skip:
        return None
    else:
        spec = entries.terminating(subscription, plan, applicable_timezone(customer, organization))
    return billed_invoice(session, customer, organization, [Billed(subscription, spec)], now)


def billed_invoice(
    session: Session,
    customer: Customer,
    organization: Organization,
    billed: list[Billed],
    now: datetime,
) -> Invoice | None:
    """The invoice of `billed`, then the paid fees its subscriptions regroup (an
    `advance_charges` invoice, when their charges ask for one)."""
    invoice = create_subscription_invoice(session, customer, organization, billed, now)
    if invoice is not None:
        regroup_paid_fees(session, customer, organization, billed, now)
    return invoice


def bill_upgrade(
    session: Session, previous: Subscription, upgraded: Subscription, now: datetime
) -> Invoice | None:
    """An upgrade bills the old plan's end and the new plan's start on one invoice."""
    return bill_handover(session, previous, upgraded, now, upgrade=True)


def bill_handover(
    session: Session, previous: Subscription, following: Subscription, now: datetime,
    *, upgrade: bool = False,
) -> Invoice | None:  # fmt: skip
    """One invoice for the moment `previous` hands over to `following` (an upgrade now, a
    downgrade at the end of the period): the old plan's last bill and the new plan's
    first, dated the day the new one starts (Lago's downgrade_spec, upgrade_spec)."""
    if previous.terminated_at is not None:
        bill_missed_days(session, previous, previous.terminated_at, now)
        credit_unused_days(session, previous, now, upgrade=upgrade)
    customer, organization, old_plan = _owner(session, previous)
    timezone = applicable_timezone(customer, organization)
    assert following.started_at is not None
    day = local_date(following.started_at, timezone)
    billed = []
    if previous.on_termination_invoice != "skip":
        ending = entries.terminating(previous, old_plan, timezone)
        billed.append(Billed(previous, replace(ending, billing_date=day)))
    new_plan = session.get(Plan, following.plan_id)
    assert new_plan is not None
    start = entries.starting(
        following, new_plan, timezone, trial_end_of(session, following, new_plan, timezone)
    )
    if start is not None:
        billed.append(Billed(following, start))
    if not billed:
        return None
    return billed_invoice(session, customer, organization, billed, now)


def _last_boundaries(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = session.execute(
        select(InvoiceSubscription.subscription_id, func.max(InvoiceSubscription.boundary))
        .where(
            InvoiceSubscription.subscription_id.in_(ids),
            InvoiceSubscription.invoicing_reason == "subscription_periodic",
        )
        .group_by(InvoiceSubscription.subscription_id)
    ).all()
    return {subscription_id: boundary for subscription_id, boundary in rows}


def _due_batches(db: Transactions, scope: Scope | None) -> Iterator[list[uuid.UUID]]:
    """Batches of about BATCH subscriptions that never split a customer: a customer's
    subscriptions due on one day are billed on one invoice, so they go together."""
    with db.transaction(write=False) as session:
        rows = session.execute(
            select(Subscription.customer_id, Subscription.id)
            .where(Subscription.status == "active", within_subscriptions(scope, Subscription))
            .order_by(Subscription.customer_id, Subscription.id)
        ).all()
    batch: list[uuid.UUID] = []
    previous = None
    for customer_id, subscription_id in rows:
        if len(batch) >= BATCH and customer_id != previous:
            yield batch
            batch = []
        batch.append(subscription_id)
        previous = customer_id
    if batch:
        yield batch


def _claim_with_owners(
    session: Session, *conditions: ColumnElement[bool]
) -> list[tuple[Subscription, Customer, Organization, Plan]]:
    """Subscriptions no other worker holds, locked, with their customer, organization, plan.

    FOR NO KEY UPDATE (key_share): a preview writing fees of the subscription holds KEY
    SHARE on it, which FOR UPDATE conflicts with: real billing would pass it over."""
    query = (
        select(Subscription, Customer, Organization, Plan)
        .join(Customer, Customer.id == Subscription.customer_id)
        .join(Organization, Organization.id == Subscription.organization_id)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(*conditions)
        .order_by(Subscription.customer_id, Subscription.created_at)
    )
    rows = session.execute(
        for_update(session, query, skip_locked=True, key_share=True, of=Subscription)
    ).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def bill_due_subscriptions(
    db: Transactions, now: datetime, report: BillingReport, scope: Scope | None = None
) -> None:
    """Bill every active subscription whose billing day has come (customer's timezone).

    Billing days missed while no clock ran are billed too, oldest first, but never
    one before the subscription was created: a back-dated start bills from the next
    billing day on, as Lago does.
    """
    for batch in _due_batches(db, scope):
        report.invoices.extend(_bill_batch(db, batch, now, report.failures))


def _bill_batch(
    db: Transactions, batch: list[uuid.UUID], now: datetime, failures: list[Failure]
) -> list[uuid.UUID]:
    """The batch in one billing run, written in one flush. If anything in it fails, that
    run is rolled back whole and the batch billed again one invoice at a time, each in a
    savepoint: only what fails then fails, recorded as a failed invoice."""
    try:
        return _bill_together(db, batch, now)
    except Exception as error:
        logger.warning("clock: a billing batch of %d subscriptions failed (%r); billing "
                       "them one invoice at a time", len(batch), error)  # fmt: skip
    return _bill_apart(db, batch, now, failures)


Unit = tuple[Customer, Organization, list[Billed]]
Owned = tuple[Subscription, Customer, Organization, Plan]
# What to do with a subscription whose billing days cannot be computed.
Broken = Callable[[Owned, str | None, Exception], None]


def _due_units(
    session: Session, rows: list[Owned], now: datetime, broken: Broken | None = None
) -> list[Unit]:
    """The invoices due, one per customer and billing day, in billing-day order. Without
    `broken`, a subscription whose days cannot be computed fails the whole call."""
    last = _last_boundaries(session, [row[0].id for row in rows])
    due: dict[tuple[uuid.UUID, date], list[Billed]] = defaultdict(list)
    owners: dict[uuid.UUID, tuple[Customer, Organization]] = {}
    for row in rows:
        subscription, customer, organization, plan = row
        timezone = applicable_timezone(customer, organization)
        if _ends_by(subscription, timezone, now):
            continue
        boundary = last.get(subscription.id)
        if broken is None:
            specs = _due_specs(session, subscription, plan, timezone, boundary, now)
        else:
            try:
                with session.begin_nested():
                    specs = _due_specs(session, subscription, plan, timezone, boundary, now)
            except Exception as error:
                broken(row, boundary, error)
                continue
        for spec in specs:
            due[(customer.id, spec.billing_date)].append(Billed(subscription, spec))
            owners[customer.id] = (customer, organization)
    ordered = sorted(due.items(), key=lambda item: item[0][1])
    return [(*owners[customer_id], billed) for (customer_id, _day), billed in ordered]


def _ends_by(subscription: Subscription, timezone: str, now: datetime) -> bool:
    """An active subscription whose ending_at date has come is the termination's to bill
    (terminate_ended ends it first; if that failed, billing its day here would make its
    termination bill one more day): Lago's periodic run skips it too (billing.md §4.5)."""
    ending = subscription.ending_at
    return ending is not None and local_date(ending, timezone) <= local_date(now, timezone)


def _bill_together(db: Transactions, batch: list[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    billed_ids: list[uuid.UUID] = []
    with db.transaction() as session:
        rows = _claim_with_owners(
            session, Subscription.id.in_(batch), Subscription.status == "active"
        )
        with billing_run(session, (row[1] for row in rows)), reading_ahead(session):
            units = _due_units(session, rows, now)
            _read_ahead_usage(session, units)
            for customer, organization, billed in units:
                invoice = billed_invoice(session, customer, organization, billed, now)
                if invoice is not None:
                    billed_ids.append(invoice.id)
    return billed_ids


def _read_ahead_usage(session: Session, units: list[Unit]) -> None:
    """The usage the batch's charge fees will price, read ahead in a few queries per
    metric (usage/batch.py) rather than one per charge and subscription."""
    periods = []
    for customer, organization, billed in units:
        timezone = applicable_timezone(customer, organization)
        for item in billed:
            if item.spec.charges is None:
                continue
            plan = session.get(Plan, item.subscription.plan_id)
            assert plan is not None
            start, end = item.spec.charges
            period = entry_charges_period(item.subscription, plan, timezone, start, end)
            periods.append((item.subscription, plan, period))
    read_ahead_charges(session, periods, bills_in_arrears)


def _bill_apart(
    db: Transactions, batch: list[uuid.UUID], now: datetime, failures: list[Failure]
) -> list[uuid.UUID]:
    """The slow, careful way: each invoice in a savepoint, numbered as it is finalized
    (a billing run's counters could not survive a savepoint rolled back)."""
    billed_ids: list[uuid.UUID] = []
    with db.transaction() as session, frozen_catalog(session):
        rows = _claim_with_owners(
            session, Subscription.id.in_(batch), Subscription.status == "active"
        )

        def broken(row: Owned, boundary: str | None, error: Exception) -> None:
            _record_broken(session, row, boundary, error, now, failures)

        for customer, organization, billed in _due_units(session, rows, now, broken):
            try:
                with session.begin_nested():
                    invoice = billed_invoice(session, customer, organization, billed, now)
            except Exception as error:
                failed = record_failed_invoice(session, customer, organization, billed, error, now)
                ids = ",".join(str(item.subscription.id) for item in billed)
                failed_id = failed.id if failed else None
                note(failures, "bill_due_subscriptions", error, customer=customer.id,
                     subscriptions=ids, invoice=failed_id)  # fmt: skip
                continue
            if invoice is not None:
                billed_ids.append(invoice.id)
    return billed_ids


def _record_broken(
    session: Session, row: Owned, boundary: str | None, error: Exception, now: datetime,
    failures: list[Failure],
) -> None:  # fmt: skip
    """A subscription whose billing days could not be computed (a trial ending after
    year 9999...): a failed invoice holds each day due, to be completed by a retry."""
    subscription, customer, organization, plan = row
    timezone = applicable_timezone(customer, organization)
    recorded = []
    try:
        with session.begin_nested():
            days = entries.billing_days(
                subscription, plan, timezone,
                _billed_until(subscription, timezone, boundary), local_date(now, timezone),
            )  # fmt: skip
    except Exception:
        days = []  # not even the days: nothing holds them, the next tick tries again
    for day in days:
        billed = [Billed(subscription, periodic_key(subscription, plan, timezone, day))]
        failed = record_failed_invoice(session, customer, organization, billed, error, now)
        if failed is not None:
            recorded.append(str(failed.id))
    note(failures, "bill_due_subscriptions", error, customer=customer.id,
         subscriptions=subscription.id, invoice=",".join(recorded) or None)  # fmt: skip


def bill_ended_trials(
    db: Transactions, now: datetime, report: BillingReport, scope: Scope | None = None
) -> None:
    """Trials that ended by `now`: marked ended, and a plan paid in advance is billed
    for the rest of its period (billing.md §13, FreeTrialSubscriptionsBillerJob)."""
    with db.transaction() as session:
        rows = _claim_with_owners(
            session,
            Subscription.status == "active",
            Subscription.trial_ended_at.is_(None),
            Plan.trial_period > 0,
            within_subscriptions(scope, Subscription),
        )
        for subscription, customer, organization, plan in rows:
            assert plan.trial_period is not None
            first = first_started_at(session, subscription)
            # In whole microseconds: a trial too long for a datetime has not ended.
            trial = int(plan.trial_period * 86_400) * 1_000_000
            if trial > (now - first) // timedelta(microseconds=1):
                continue
            with isolated(session, report.failures, "bill_ended_trials",
                          subscription=subscription.id, customer=customer.id):  # fmt: skip
                invoice = _end_trial(session, subscription, customer, organization, plan, first,
                                     now)  # fmt: skip
                if invoice is not None:
                    report.invoices.append(invoice.id)


def _end_trial(
    session: Session, subscription: Subscription, customer: Customer,
    organization: Organization, plan: Plan, first: datetime, now: datetime,
) -> Invoice | None:  # fmt: skip
    assert plan.trial_period is not None
    subscription.trial_ended_at = first + timedelta(seconds=int(plan.trial_period * 86_400))
    subscription.updated_at = now
    emit(session, "subscription.trial_ended", subscription, now)
    timezone = applicable_timezone(customer, organization)
    trial_end = trial_end_of(session, subscription, plan, timezone)
    spec = entries.trial_ended(subscription, plan, timezone, trial_end) if trial_end else None
    if spec is None:
        return None
    return billed_invoice(session, customer, organization, [Billed(subscription, spec)], now)


def finalize_due_drafts(
    db: Transactions, now: datetime, report: BillingReport, scope: Scope | None = None
) -> None:
    """Drafts whose grace period is over (in their customer's timezone) are finalized."""
    with db.transaction(write=False) as session:
        candidates = list(
            session.scalars(
                select(Invoice.id).where(
                    Invoice.status == "draft",
                    within(scope, Invoice.customer_id),
                    Invoice.expected_finalization_date <= (now + timedelta(days=1)).date(),
                )
            )
        )
    for index in range(0, len(candidates), BATCH):
        with db.transaction() as session, frozen_catalog(session):
            drafts = select(Invoice).where(
                Invoice.id.in_(candidates[index : index + BATCH]), Invoice.status == "draft"
            )
            for invoice in session.scalars(for_update(session, drafts, skip_locked=True)):
                customer = session.get(Customer, invoice.customer_id)
                organization = session.get(Organization, invoice.organization_id)
                assert customer is not None and organization is not None
                today = local_date(now, applicable_timezone(customer, organization))
                expected = invoice.expected_finalization_date
                if expected and expected <= today and _finalize_alone(session, invoice, now,
                                                                      today, report):  # fmt: skip
                    report.finalized.append(invoice.id)


def _finalize_alone(
    session: Session, invoice: Invoice, now: datetime, today: date, report: BillingReport
) -> bool:
    """Finalize one draft in a savepoint. If that fails, it stays a draft (the next tick
    tries again) and carries the error meanwhile."""
    had_errors = bool(invoice.error_details)
    try:
        with session.begin_nested():
            finalize(session, invoice, now, today=today)
    except Exception as error:
        note(report.failures, "finalize_due_drafts", error, invoice=invoice.id,
             customer=invoice.customer_id)  # fmt: skip
        keep_error(session, invoice, error, now)
        return False
    if had_errors:
        clear_errors(session, invoice)
    return True
