"""When subscriptions are billed: at a start paid in advance, on billing days, at the end.

The clock calls `bill_due_subscriptions`; the subscription code calls `bill_started`,
`bill_terminated` and `bill_upgrade` as those moments happen. Each writes an
invoice entry under a unique (subscription, reason, boundary) key, so running any
of them twice, or from two workers at once, bills a moment exactly once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from meterbill.core.db import Transactions, frozen_catalog
from meterbill.core.periods import local_date
from meterbill.core.rehearsal import for_update
from meterbill.credit_notes.termination import credit_unused_days
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices import entries
from meterbill.invoices.building import first_started_at, trial_end_of
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

BATCH = 200


@dataclass
class BillingReport:
    invoices: list[uuid.UUID] = field(default_factory=list)
    finalized: list[uuid.UUID] = field(default_factory=list)


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
    return create_subscription_invoice(
        session, customer, organization, [Billed(subscription, spec)], now
    )


def bill_missed_days(
    session: Session, subscription: Subscription, until: datetime, now: datetime
) -> None:
    """Billing days up to `until`'s local date that no clock run billed yet.

    A subscription that ends (or is upgraded) on a billing day before the clock ran
    would otherwise never be billed for the period that just ended: it is no longer
    active when the clock comes, and its termination invoice covers only its last days.
    """
    customer, organization, plan = _owner(session, subscription)
    timezone = applicable_timezone(customer, organization)
    last = _last_boundaries(session, [subscription.id]).get(subscription.id)
    for spec in _due_specs(session, subscription, plan, timezone, last, until):
        create_subscription_invoice(
            session, customer, organization, [Billed(subscription, spec)], now
        )


def _due_specs(
    session: Session,
    subscription: Subscription,
    plan: Plan,
    timezone: str,
    last_boundary: str | None,
    until: datetime,
) -> list[entries.EntrySpec]:
    """What each billing day up to `until`'s local date bills, after the last one billed."""
    trial_end = trial_end_of(session, subscription, plan, timezone)
    return [
        entries.periodic(subscription, plan, timezone, day, trial_end)
        for day in entries.billing_days(
            subscription,
            plan,
            timezone,
            _billed_until(subscription, timezone, last_boundary),
            local_date(until, timezone),
        )
    ]


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
    bill_missed_days(session, subscription, subscription.terminated_at, now)
    # Before the termination invoice, as Lago does: that invoice may spend the credit.
    credit_unused_days(session, subscription, now)
    if subscription.on_termination_invoice == "skip":
        return None
    customer, organization, plan = _owner(session, subscription)
    spec = entries.terminating(subscription, plan, applicable_timezone(customer, organization))
    return create_subscription_invoice(
        session, customer, organization, [Billed(subscription, spec)], now
    )


def bill_upgrade(
    session: Session, previous: Subscription, upgraded: Subscription, now: datetime
) -> Invoice | None:
    """An upgrade bills the old plan's end and the new plan's start on one invoice."""
    if previous.terminated_at is not None:
        bill_missed_days(session, previous, previous.terminated_at, now)
        credit_unused_days(session, previous, now, upgrade=True)
    customer, organization, old_plan = _owner(session, previous)
    timezone = applicable_timezone(customer, organization)
    billed = []
    if previous.on_termination_invoice != "skip":
        billed.append(Billed(previous, entries.terminating(previous, old_plan, timezone)))
    new_plan = session.get(Plan, upgraded.plan_id)
    assert new_plan is not None
    start = entries.starting(
        upgraded, new_plan, timezone, trial_end_of(session, upgraded, new_plan, timezone)
    )
    if start is not None:
        billed.append(Billed(upgraded, start))
    if not billed:
        return None
    return create_subscription_invoice(session, customer, organization, billed, now)


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
    with db.transaction(write=False) as session:
        ids = list(
            session.scalars(
                select(Subscription.id)
                .where(Subscription.status == "active", within_subscriptions(scope, Subscription))
                .order_by(Subscription.customer_id, Subscription.id)
            )
        )
    for index in range(0, len(ids), BATCH):
        yield ids[index : index + BATCH]


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
        report.invoices.extend(_bill_batch(db, batch, now))


def _bill_batch(db: Transactions, batch: list[uuid.UUID], now: datetime) -> list[uuid.UUID]:
    billed_ids: list[uuid.UUID] = []
    with db.transaction() as session:
        rows = _claim_with_owners(
            session, Subscription.id.in_(batch), Subscription.status == "active"
        )
        with billing_run(session, (row[1] for row in rows)):
            last = _last_boundaries(session, [row[0].id for row in rows])
            due: dict[tuple[uuid.UUID, date], list[Billed]] = defaultdict(list)
            owners: dict[uuid.UUID, tuple[Customer, Organization]] = {}
            for subscription, customer, organization, plan in rows:
                timezone = applicable_timezone(customer, organization)
                boundary = last.get(subscription.id)
                for spec in _due_specs(session, subscription, plan, timezone, boundary, now):
                    due[(customer.id, spec.billing_date)].append(Billed(subscription, spec))
                    owners[customer.id] = (customer, organization)
            for (customer_id, _day), billed in sorted(due.items(), key=lambda item: item[0][1]):
                customer, organization = owners[customer_id]
                invoice = create_subscription_invoice(session, customer, organization, billed, now)
                if invoice is not None:
                    billed_ids.append(invoice.id)
    return billed_ids


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
            ends_at = first + timedelta(seconds=int(plan.trial_period * 86_400))
            if ends_at > now:
                continue
            subscription.trial_ended_at = ends_at
            subscription.updated_at = now
            timezone = applicable_timezone(customer, organization)
            trial_end = trial_end_of(session, subscription, plan, timezone)
            spec = (
                entries.trial_ended(subscription, plan, timezone, trial_end) if trial_end else None
            )
            if spec is None:
                continue
            invoice = create_subscription_invoice(
                session, customer, organization, [Billed(subscription, spec)], now
            )
            if invoice is not None:
                report.invoices.append(invoice.id)


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
                if (
                    invoice.expected_finalization_date
                    and invoice.expected_finalization_date <= today
                ):
                    finalize(session, invoice, now, today=today)
                    report.finalized.append(invoice.id)
