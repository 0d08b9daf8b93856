"""The clock: periodic jobs, each idempotent, run by `tick(now)`.

Every job evaluates "today" in the customer's timezone, so ticking every hour (or
every minute, or once late) gives the same result. Rows are claimed with
FOR UPDATE SKIP LOCKED, so several `meterbill worker` processes can tick at once
against one PostgreSQL (SQLite has one writer anyway). Subscriptions are claimed FOR NO
KEY UPDATE: rows being written that refer to one (a preview's fees) hold KEY SHARE on
it, and a claim that conflicted with that would pass the subscription over. A
rehearsal (a preview) claims nothing (core/rehearsal.py).

Order, as Lago's clock: activate pending subscriptions, bill the events of
pay-in-advance charges (Lago does it as events arrive), terminate ended ones (with
their termination invoices), hand over to scheduled downgrades, generate again the
invoices whose generation failed, bill the subscriptions whose billing day it is, bill
plans paid in advance whose trial just ended, finalize drafts past their grace period,
create customers at the payment provider, collect finalized invoices and send credit
notes' refunds through it (payment_providers.jobs), flag overdue invoices, terminate
expired coupons, then the wallets: terminate expired wallets and recurring rules,
interval top-ups, threshold top-ups, then (once this tick's invoices have spent
credits) tell which wallets' ongoing balance ran out. Last,
the jobs that only report: termination alerts (subscription.termination_alert) and the
hourly report of invalid events (events.errors). The reporting jobs read nothing but
the webhook endpoints when no endpoint receives their type; the alerts and the report
run only for the whole clock (not in a preview).

A failure never stops a tick: each unit of work (a subscription, an event, a draft, a
wallet...) runs in a savepoint, and one that fails is rolled back alone, logged with its
ids and counted in the report's `failures` (invoices.failures records the failed
invoices); a job that fails as a whole is noted the same way and the next job runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from meterbill.core.db import Transactions
from meterbill.core.isolation import Failure, isolated, note
from meterbill.core.periods import local_date, utc_bounds
from meterbill.core.rehearsal import Rehearsal, for_update, rehearsing
from meterbill.coupons.models import Coupon
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.events.validation import report_invalid_events
from meterbill.invoices.billing import (
    BillingReport,
    bill_due_subscriptions,
    bill_ended_trials,
    bill_handover,
    bill_started,
    bill_terminated,
    finalize_due_drafts,
)
from meterbill.invoices.failures import retry_failed_invoices
from meterbill.invoices.in_advance import InAdvanceReport, bill_pending_events
from meterbill.invoices.models import Invoice
from meterbill.invoices.scope import Scope, within, within_subscriptions
from meterbill.operations.telemetry import CLOCK_JOB_SECONDS
from meterbill.organizations.models import Organization
from meterbill.payment_providers import jobs as provider_jobs
from meterbill.payment_providers.options import ProviderOptions
from meterbill.plans.models import Plan
from meterbill.subscriptions.alerts import DEFAULT_DAYS, alert_terminations
from meterbill.subscriptions.lifecycle import billing_period
from meterbill.subscriptions.models import Subscription
from meterbill.wallets import depletion as wallet_depletion
from meterbill.wallets import jobs as wallet_jobs
from meterbill.webhooks.outbox import emit, materialize
from meterbill.webhooks.service import DEFAULT_RETENTION, purge_webhooks


@dataclass(frozen=True)
class ClockOptions:
    """What the settings tell the clock (Settings.clock_options)."""

    # Delivery records untouched this long are deleted.
    webhook_retention: timedelta = DEFAULT_RETENTION
    # Days before ending_at that subscription.termination_alert is sent.
    termination_alert_days: tuple[int, ...] = DEFAULT_DAYS
    # The hourly events.errors report (off: Lago's LAGO_DISABLE_EVENTS_VALIDATION).
    validate_events: bool = True
    # Payment providers: the secrets' key and how Stripe is called.
    payments: ProviderOptions = field(default_factory=ProviderOptions)


@dataclass
class TickReport:
    activated: list[str] = field(default_factory=list)
    terminated: list[str] = field(default_factory=list)
    downgraded: list[str] = field(default_factory=list)
    in_advance: InAdvanceReport = field(default_factory=InAdvanceReport)
    billing: BillingReport = field(default_factory=BillingReport)
    overdue: list[str] = field(default_factory=list)
    purged_webhooks: int = 0
    expired_coupons: list[str] = field(default_factory=list)
    expired_wallets: list[str] = field(default_factory=list)
    wallet_top_ups: int = 0
    termination_alerts: list[str] = field(default_factory=list)
    # Organizations sent an events.errors report.
    events_errors: list[str] = field(default_factory=list)
    depleted_wallets: int = 0
    payments: provider_jobs.PaymentsReport = field(default_factory=provider_jobs.PaymentsReport)
    # Units of work that failed, in the order they did (the sub-reports share this list).
    failures: list[Failure] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.in_advance.failures = self.failures
        self.billing.failures = self.failures


def _timezone(session: Session, subscription: Subscription) -> str:
    customer = session.get(Customer, subscription.customer_id)
    organization = session.get(Organization, subscription.organization_id)
    assert customer is not None and organization is not None
    return applicable_timezone(customer, organization)


def _alone(
    session: Session, report: TickReport, job: str, subscription: Subscription
) -> AbstractContextManager[None]:
    """One subscription's step in a savepoint: if it fails, nothing of it is kept (its
    status does not move), so the next tick tries it again."""
    return isolated(session, report.failures, job, subscription=subscription.id,
                    customer=subscription.customer_id)  # fmt: skip


def _claim(session: Session, scope: Scope | None, *conditions: object) -> list[Subscription]:
    query = (
        select(Subscription)
        .where(within_subscriptions(scope, Subscription), *conditions)  # type: ignore[arg-type]
        .order_by(Subscription.created_at)
    )
    return list(session.scalars(for_update(session, query, skip_locked=True, key_share=True)))


def activate_pending(
    session: Session, now: datetime, report: TickReport, scope: Scope | None = None
) -> None:
    """Pending subscriptions whose start date has come (in the customer's timezone)."""
    for subscription in _claim(
        session,
        scope,
        Subscription.status == "pending",
        Subscription.previous_subscription_id.is_(None),
        Subscription.subscription_at <= now + timedelta(days=1),
    ):
        with _alone(session, report, "activate_pending", subscription):
            timezone = _timezone(session, subscription)
            if local_date(subscription.subscription_at, timezone) <= local_date(now, timezone):
                subscription.status = "active"
                subscription.started_at = subscription.subscription_at
                subscription.updated_at = now
                session.flush()
                emit(session, "subscription.started", subscription, now)
                bill_started(session, subscription, now)
                report.activated.append(subscription.external_id)


def terminate_ended(
    session: Session, now: datetime, report: TickReport, scope: Scope | None = None
) -> None:
    """Active subscriptions end on the local date of their ending_at (customer's
    timezone), as Lago's TerminateEndedSubscriptionsJob: on that date the clock ends
    them, before it bills the day; one whose date passed while no clock ran ends at its
    ending_at."""
    for subscription in _claim(
        session,
        scope,
        Subscription.status == "active",
        Subscription.ending_at.is_not(None),
        # A day either way holds every timezone's local date (UTC-12 to UTC+14).
        Subscription.ending_at <= now + timedelta(days=1),
    ):
        with _alone(session, report, "terminate_ended", subscription):
            assert subscription.ending_at is not None
            timezone = _timezone(session, subscription)
            if local_date(subscription.ending_at, timezone) > local_date(now, timezone):
                continue
            _terminate(session, subscription, min(subscription.ending_at, now), now)
            report.terminated.append(subscription.external_id)


def _terminate(session: Session, subscription: Subscription, at: datetime, now: datetime) -> None:
    for pending in session.scalars(
        select(Subscription).where(
            Subscription.previous_subscription_id == subscription.id,
            Subscription.status == "pending",
        )
    ):
        pending.status, pending.canceled_at, pending.updated_at = "canceled", now, now
    subscription.status = "terminated"
    subscription.terminated_at = at
    subscription.updated_at = now
    session.flush()
    emit(session, "subscription.terminated", subscription, now)
    bill_terminated(session, subscription, now)


def apply_downgrades(
    session: Session, now: datetime, report: TickReport, scope: Scope | None = None
) -> None:
    """At the end of its period, a subscription hands over to its scheduled downgrade."""
    for pending in _claim(
        session,
        scope,
        Subscription.status == "pending",
        Subscription.previous_subscription_id.is_not(None),
    ):
        with _alone(session, report, "apply_downgrades", pending):
            current = _downgrade(session, pending, now)
            if current is not None:
                report.downgraded.append(current.external_id)


def _downgrade(session: Session, pending: Subscription, now: datetime) -> Subscription | None:
    """The subscription `pending` takes over from, once its period has ended."""
    current = session.get(Subscription, pending.previous_subscription_id)
    if current is None or current.status != "active":
        return None
    plan = session.get(Plan, current.plan_id)
    assert plan is not None
    timezone = _timezone(session, current)
    # The period running when the downgrade was asked for.
    asked = max(pending.created_at, current.started_at or pending.created_at)
    running = billing_period(current, plan, timezone, asked)
    if local_date(now, timezone) <= running.end:
        return None
    _start, end = utc_bounds(running, timezone)
    current.status, current.terminated_at, current.updated_at = "terminated", end, now
    session.flush()  # before the new one is active: one active subscription per external id
    emit(session, "subscription.terminated", current, now)
    pending.status = "active"
    pending.started_at = end + timedelta(seconds=1)
    pending.updated_at = now
    session.flush()
    emit(session, "subscription.started", pending, now)
    # One invoice: the old plan's last bill and the new plan's first.
    bill_handover(session, current, pending, now)
    return current


def mark_overdue(
    session: Session, now: datetime, report: TickReport, scope: Scope | None = None
) -> None:
    """Finalized, unpaid invoices past their due date are flagged payment_overdue."""
    overdue = select(Invoice).where(
        within(scope, Invoice.customer_id),
        Invoice.status == "finalized",
        Invoice.payment_status != "succeeded",
        Invoice.payment_overdue.is_(False),
        Invoice.payment_dispute_lost_at.is_(None),
        Invoice.payment_due_date < now.date(),
    )
    invoices = list(session.scalars(for_update(session, overdue, skip_locked=True)))
    # Their webhooks still to render show them before the flag.
    materialize(session, object_ids=[invoice.id for invoice in invoices])
    for invoice in invoices:
        invoice.payment_overdue = True
        invoice.updated_at = now
        emit(session, "invoice.payment_overdue", invoice, now)
        report.overdue.append(invoice.number)


def terminate_expired_coupons(
    session: Session, now: datetime, report: TickReport, scope: Scope | None = None
) -> None:
    """Time-limited coupons past expiration_at can no longer be applied.

    Not in a rehearsal: coupons are the whole organization's, so every rehearsal would
    write the same rows, and ending one changes no invoice (applied coupons run on).
    """
    if rehearsing(session):
        return
    organization = None if scope is None else scope.organization_id
    for coupon in session.scalars(
        select(Coupon)
        .where(
            true() if organization is None else Coupon.organization_id == organization,
            Coupon.status == "active",
            Coupon.expiration == "time_limit",
            Coupon.expiration_at.is_not(None),
            Coupon.expiration_at < now,
        )
        .with_for_update(skip_locked=True)
    ):
        coupon.status = "terminated"
        coupon.terminated_at = now
        coupon.updated_at = now
        report.expired_coupons.append(coupon.code)


def expire_wallets(
    session: Session, now: datetime, report: TickReport, scope: Scope | None = None
) -> None:
    """Wallets past expiration_at are terminated, and so are rules past theirs."""
    report.expired_wallets.extend(wallet_jobs.expire_wallets(session, now, report.failures, scope))
    wallet_jobs.expire_rules(session, now, scope)


def top_up_wallets(
    session: Session, now: datetime, report: TickReport, scope: Scope | None = None
) -> None:
    """Recurring top-ups: anniversaries of interval rules, then thresholds reached."""
    report.wallet_top_ups += wallet_jobs.interval_top_ups(session, now, report.failures, scope)
    report.wallet_top_ups += wallet_jobs.threshold_top_ups(session, now, report.failures, scope)


def check_depleted_wallets(
    session: Session, now: datetime, report: TickReport, scope: Scope | None = None
) -> None:
    """wallet.depleted_ongoing_balance, for the organizations that receive it only."""
    report.depleted_wallets += wallet_depletion.check_depleted_wallets(
        session, now, report.failures, scope
    )


Job = Callable[[Session, datetime, TickReport, Scope | None], None]
# A step of the tick: opens its own transaction(s).
Step = Callable[[Transactions, datetime, TickReport, Scope | None, ClockOptions], None]


def _in_transaction(job: Job) -> Step:
    def step(db: Transactions, now: datetime, report: TickReport, scope: Scope | None,
             options: ClockOptions) -> None:  # fmt: skip
        with db.transaction() as session:
            job(session, now, report, scope)

    return step


def _pending_events(db: Transactions, now: datetime, report: TickReport,
                    scope: Scope | None, options: ClockOptions) -> None:  # fmt: skip
    bill_pending_events(db, now, report.in_advance, scope)


def _retry_failed(db: Transactions, now: datetime, report: TickReport,
                  scope: Scope | None, options: ClockOptions) -> None:  # fmt: skip
    retry_failed_invoices(db, now, report.billing.retried, report.failures, scope)


def _due_subscriptions(db: Transactions, now: datetime, report: TickReport,
                       scope: Scope | None, options: ClockOptions) -> None:  # fmt: skip
    bill_due_subscriptions(db, now, report.billing, scope)


def _ended_trials(db: Transactions, now: datetime, report: TickReport,
                  scope: Scope | None, options: ClockOptions) -> None:  # fmt: skip
    bill_ended_trials(db, now, report.billing, scope)


def _due_drafts(db: Transactions, now: datetime, report: TickReport,
                scope: Scope | None, options: ClockOptions) -> None:  # fmt: skip
    finalize_due_drafts(db, now, report.billing, scope)


def _provider_step(job: Callable[..., None]) -> Step:
    def step(db: Transactions, now: datetime, report: TickReport, scope: Scope | None,
             options: ClockOptions) -> None:  # fmt: skip
        # A preview rehearses billing only: nothing is sent to a provider for it.
        if not isinstance(db, Rehearsal):
            job(db, now, options.payments, report.payments, scope)

    return step


def _termination_alerts(db: Transactions, now: datetime, report: TickReport,
                        scope: Scope | None, options: ClockOptions) -> None:  # fmt: skip
    # Telling of the whole organization's subscriptions is no part of a preview.
    if scope is not None:
        return
    with db.transaction() as session:
        report.termination_alerts.extend(
            alert_terminations(session, now, options.termination_alert_days, report.failures)
        )


def _events_errors(db: Transactions, now: datetime, report: TickReport,
                   scope: Scope | None, options: ClockOptions) -> None:  # fmt: skip
    if scope is not None or not options.validate_events:
        return
    with db.transaction() as session:
        report.events_errors.extend(report_invalid_events(session, now, report.failures))


STEPS: tuple[tuple[str, Step], ...] = (
    ("activate_pending", _in_transaction(activate_pending)),
    ("bill_pending_events", _pending_events),
    ("terminate_ended", _in_transaction(terminate_ended)),
    ("apply_downgrades", _in_transaction(apply_downgrades)),
    ("retry_failed_invoices", _retry_failed),
    ("bill_due_subscriptions", _due_subscriptions),
    ("bill_ended_trials", _ended_trials),
    ("finalize_due_drafts", _due_drafts),
    ("register_provider_webhooks", _provider_step(provider_jobs.register_provider_webhooks)),
    # Customers first: an invoice is collected once its customer exists at Stripe.
    ("sync_provider_customers", _provider_step(provider_jobs.sync_provider_customers)),
    ("collect_payments", _provider_step(provider_jobs.collect_payments)),
    ("refund_through_providers", _provider_step(provider_jobs.refund_through_providers)),
    ("mark_overdue", _in_transaction(mark_overdue)),
    ("terminate_expired_coupons", _in_transaction(terminate_expired_coupons)),
    ("expire_wallets", _in_transaction(expire_wallets)),
    ("top_up_wallets", _in_transaction(top_up_wallets)),
    ("check_depleted_wallets", _in_transaction(check_depleted_wallets)),
    ("alert_terminations", _termination_alerts),
    ("report_invalid_events", _events_errors),
)


def tick(
    db: Transactions,
    now: datetime,
    scope: Scope | None = None,
    *,
    options: ClockOptions = ClockOptions(),
) -> TickReport:
    """Run every periodic job once, in Lago's order, each in its own transaction(s).

    Never raises for a job's sake: what fails is in the report's `failures` (and the
    log), and the other units and the later jobs still run. With a scope, only that
    customer's subscriptions and invoices (and its organization's coupons) are
    touched: previews rehearse one customer.
    """
    report = TickReport()
    for name, step in STEPS:
        started = time.perf_counter()
        try:
            step(db, now, report, scope, options)
        except Exception as error:
            note(report.failures, name, error)
        if scope is None:  # a preview's rehearsal is no job of the clock
            CLOCK_JOB_SECONDS.labels(name).observe(time.perf_counter() - started)
    if scope is None:
        try:
            with db.transaction() as session:
                report.purged_webhooks = purge_webhooks(session, now, options.webhook_retention)
        except Exception as error:
            note(report.failures, "purge_webhooks", error)
    return report
