"""Pay-in-advance charges: a fee for every event, and the renewal of recurring ones.

billing.md §2.5. An event on a pay-in-advance charge costs what the charge model gives
for the period's usage with the event, minus what it gives without it (usage in
(timestamp, id) order, so events of one instant still count one after the other).
Invoiceable charges put that fee on an invoice of its own, finalized at once with
coupons and taxes; the others leave it standalone, on no invoice. The clock prices new
events; the unique (subscription, charge, event transaction) key of fees makes that
idempotent, across ticks and across workers.

A recurring metric keeps its level from period to period, so each billing day bills
the level reached (unprorated) again for the period that starts: on the periodic
invoice when the charge is invoiceable, as standalone fees when it is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill import pricing
from meterbill.core.db import Transactions, frozen_catalog
from meterbill.core.isolation import Failure, note
from meterbill.core.periods import local_date, local_midnight
from meterbill.core.times import iso_seconds
from meterbill.customers.models import Customer
from meterbill.event_store import store_for
from meterbill.events.models import Event
from meterbill.invoices.building import BillingContext, charge_fee, range_properties
from meterbill.invoices.computation import write_standalone_fee
from meterbill.invoices.lifecycle import finalize_built, new_invoice
from meterbill.invoices.models import Fee, Invoice, InvoiceSubscription
from meterbill.invoices.scope import Scope, within_subscriptions
from meterbill.metrics.models import BillableMetric
from meterbill.organizations.models import Organization
from meterbill.plans.models import Charge, Plan
from meterbill.pricing.result import per_unit
from meterbill.subscriptions.models import Subscription
from meterbill.usage.aggregation import Window
from meterbill.usage.periods import ChargesPeriod, charges_period
from meterbill.usage.service import PricedBucket, price_charge
from meterbill.webhooks.outbox import emit

ZERO = Decimal(0)
BATCH = 500
# A subscription's pay-in-advance charges, as a join condition.
ADVANCE_CHARGES = and_(
    Charge.plan_id == Subscription.plan_id,
    Charge.pay_in_advance.is_(True),
    Charge.deleted_at.is_(None),
)


@dataclass
class InAdvanceReport:
    fees: list[uuid.UUID] = field(default_factory=list)
    invoices: list[uuid.UUID] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _pending(
    session: Session, limit: int, scope: Scope | None, failed: set[int]
) -> list[tuple[Event, Subscription, Charge]]:
    """Events on a pay-in-advance charge of their active subscription, not yet billed
    (and not among those that already `failed` in this tick), oldest first: the
    session's event store finds them (`sql_pending` where events are relational)."""
    return store_for(session).pending_in_advance(session, limit, scope, failed)


def sql_pending(
    session: Session, limit: int, scope: Scope | None, failed: set[int]
) -> list[tuple[Event, Subscription, Charge]]:
    """`_pending` in one statement: events joined with their subscription and charges,
    those with a fee left out."""
    billed = exists().where(
        Fee.subscription_id == Subscription.id,
        Fee.charge_id == Charge.id,
        Fee.event_transaction_id == Event.transaction_id,
    )
    rows = session.execute(
        select(Event, Subscription, Charge)
        .join(
            Subscription,
            and_(
                Subscription.organization_id == Event.organization_id,
                Subscription.external_id == Event.external_subscription_id,
                Subscription.status == "active",
            ),
        )
        .join(Charge, ADVANCE_CHARGES)
        .join(
            BillableMetric,
            and_(BillableMetric.id == Charge.billable_metric_id, BillableMetric.code == Event.code),
        )
        .where(
            Event.timestamp >= Subscription.started_at,
            within_subscriptions(scope, Subscription),
            ~billed,
            Event.id.not_in(failed) if failed else true(),
        )
        .order_by(Event.timestamp, Event.id, Charge.position)
        .limit(limit)
    ).all()
    return [(event, subscription, charge) for event, subscription, charge in rows]


@dataclass(frozen=True)
class Target:
    """A pay-in-advance charge of an active subscription: the events of `code` from
    the subscription's start each get a fee of it."""

    subscription_id: uuid.UUID
    organization_id: uuid.UUID
    external_id: str
    started_at: datetime
    charge_id: uuid.UUID
    position: int
    code: str


def targets(session: Session, scope: Scope | None) -> list[Target]:
    """What `sql_pending` joins events with, for a store that holds events elsewhere
    (columns only: a tick reads them all, and most have nothing pending)."""
    rows = session.execute(
        select(
            Subscription.id,
            Subscription.organization_id,
            Subscription.external_id,
            Subscription.started_at,
            Charge.id,
            Charge.position,
            BillableMetric.code,
        )
        .join(Charge, ADVANCE_CHARGES)
        .join(BillableMetric, BillableMetric.id == Charge.billable_metric_id)
        .where(Subscription.status == "active", within_subscriptions(scope, Subscription))
        .order_by(Subscription.id, Charge.position)
    ).all()
    return [Target(*row) for row in rows]


def with_records(
    session: Session, found: Sequence[tuple[Event, Target]]
) -> list[tuple[Event, Subscription, Charge]]:
    """The events found with their subscription and charge, as `sql_pending` gives them."""
    subscriptions = {target.subscription_id for _event, target in found}
    charges = {target.charge_id for _event, target in found}
    by_id: dict[uuid.UUID, Any] = {}
    if found:
        by_id.update(
            (record.id, record)
            for record in session.scalars(
                select(Subscription).where(Subscription.id.in_(subscriptions))
            )
        )
        by_id.update(
            (record.id, record)
            for record in session.scalars(select(Charge).where(Charge.id.in_(charges)))
        )
    return [
        (event, by_id[target.subscription_id], by_id[target.charge_id]) for event, target in found
    ]


def priced_counts(
    session: Session, wanted: Sequence[Target]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """Per (subscription, charge): how many of its events have their fee (an index-only
    count on the fees' unique key)."""
    if not wanted:
        return {}
    subscriptions = {target.subscription_id for target in wanted}
    charges = {target.charge_id for target in wanted}
    rows = session.execute(
        select(Fee.subscription_id, Fee.charge_id, func.count())
        .where(
            Fee.subscription_id.in_(subscriptions),
            Fee.charge_id.in_(charges),
            Fee.event_transaction_id.is_not(None),
        )
        .group_by(Fee.subscription_id, Fee.charge_id)
    ).all()
    return {(row[0], row[1]): int(row[2]) for row in rows}


def priced_transactions(
    session: Session, wanted: Sequence[Target]
) -> dict[tuple[uuid.UUID, uuid.UUID], set[str]]:
    """Per (subscription, charge): the transaction ids of its events that have a fee."""
    found: dict[tuple[uuid.UUID, uuid.UUID], set[str]] = {
        (target.subscription_id, target.charge_id): set() for target in wanted
    }
    if not wanted:
        return found
    rows = session.execute(
        select(Fee.subscription_id, Fee.charge_id, Fee.event_transaction_id).where(
            Fee.subscription_id.in_({target.subscription_id for target in wanted}),
            Fee.charge_id.in_({target.charge_id for target in wanted}),
            Fee.event_transaction_id.is_not(None),
        )
    )
    for subscription_id, charge_id, transaction_id in rows:
        key = (subscription_id, charge_id)
        if key in found:
            found[key].add(transaction_id)
    return found


def bill_pending_events(
    db: Transactions, now: datetime, report: InAdvanceReport, scope: Scope | None = None
) -> None:
    """Price every event of a pay-in-advance charge that has no fee yet, oldest first.

    An event that cannot be billed is rolled back alone and stays pending: the next
    tick tries it again (this one does not)."""
    failed: set[int] = set()
    while True:
        billed = len(report.fees)
        with db.transaction() as session, frozen_catalog(session):
            pending = _pending(session, BATCH, scope, failed)
            for event, subscription, charge in pending:
                try:
                    bill_event(session, event, subscription, charge, now, report)
                except Exception as error:
                    failed.add(event.id)
                    note(report.failures, "bill_pending_events", error,
                         event=event.transaction_id, subscription=subscription.id,
                         charge=charge.id)  # fmt: skip
        # A batch that billed nothing would come back whole: stop rather than spin.
        if len(pending) < BATCH or len(report.fees) == billed:
            return


def _context(
    session: Session, subscription: Subscription, plan: Plan, now: datetime
) -> tuple[BillingContext, Organization]:
    customer = session.get(Customer, subscription.customer_id)
    organization = session.get(Organization, subscription.organization_id)
    assert customer is not None and organization is not None
    return BillingContext.of(
        session, customer, organization, plan.amount_currency, now
    ), organization


def _bucket_key(bucket: PricedBucket) -> tuple[str | None, tuple[str | None, ...]]:
    return bucket.filter_id, bucket.group


def event_increment(
    session: Session,
    event: Event,
    subscription: Subscription,
    plan: Plan,
    charge: Charge,
    metric: BillableMetric,
    timezone: str,
) -> tuple[ChargesPeriod, PricedBucket | None]:
    """The event's bucket with the units and amount the event adds to it."""
    period = charges_period(subscription, plan, timezone, event.timestamp)
    window = Window(
        organization_id=subscription.organization_id,
        external_subscription_id=subscription.external_id,
        start=period.start,
        end=period.end,
        duration_days=period.period.days,
        through=(event.timestamp, event.id),
    )
    active_days = (period.period.end - local_date(period.start, timezone)).days + 1

    def priced(through: Window) -> dict[tuple[str | None, tuple[str | None, ...]], PricedBucket]:
        usage = price_charge(
            session, through, charge, metric, plan.amount_currency, timezone, active_days
        )
        return {_bucket_key(bucket): bucket for bucket in usage.buckets}

    after = priced(window)
    before = priced(replace(window, through=(event.timestamp, event.id - 1)))
    for key, bucket in after.items():
        previous = before.get(key)
        if previous is not None and previous.events_count == bucket.events_count:
            continue
        # Nothing before the event (no units, no event): nothing was charged, not even a
        # first range's flat amount, which the event's own fee then carries (Lago's).
        charged_before = previous is not None and (previous.units or previous.events_count)
        old = previous.amount.amount if charged_before and previous and previous.amount else ZERO
        new = bucket.amount.amount if bucket.amount else ZERO
        added = max(new - old, ZERO)
        if charge.prorated and not (
            metric.recurring and metric.aggregation_type in ("sum_agg", "unique_count_agg")
        ):
            # Prorated recurring sums and unique counts are already priced on their days.
            days_left = (period.period.end - local_date(event.timestamp, timezone)).days + 1
            added = added * Decimal(days_left) / Decimal(period.period.days)
        units = bucket.units - (previous.units if previous else ZERO)
        amount = pricing.ChargeAmount(added, per_unit(added, units) if units else added)
        return period, replace(
            bucket,
            units=max(units, ZERO),
            events_count=1,
            amount_cents=amount.cents(plan.amount_currency),
            amount=amount,
        )
    return period, None


def bill_event(
    session: Session,
    event: Event,
    subscription: Subscription,
    charge: Charge,
    now: datetime,
    report: InAdvanceReport,
) -> None:
    """The event's fee, in a savepoint: whatever fails rolls back this event only."""
    try:
        with session.begin_nested():
            _bill_event(session, event, subscription, charge, now, report)
    except IntegrityError:
        # Another worker billed this event first.
        return


def _bill_event(
    session: Session,
    event: Event,
    subscription: Subscription,
    charge: Charge,
    now: datetime,
    report: InAdvanceReport,
) -> None:
    plan = session.get(Plan, subscription.plan_id)
    assert plan is not None
    metric = session.get(BillableMetric, charge.billable_metric_id)
    assert metric is not None
    ctx, organization = _context(session, subscription, plan, now)
    period, bucket = event_increment(
        session, event, subscription, plan, charge, metric, ctx.timezone
    )
    if bucket is None:
        return
    # The fee's range starts at the local start of its first day, its charges at the
    # period's start instant (a subscription started at 10:00: 00:00 and 10:00), as Lago's.
    day_start = local_midnight(local_date(period.start, ctx.timezone), ctx.timezone)
    properties = {
        **range_properties(period, timestamp=iso_seconds(event.timestamp)),
        "from_datetime": iso_seconds(day_start),
    }
    built = charge_fee(
        ctx, subscription, plan, charge, metric, bucket,
        (day_start, period.end), properties, from_event=True,
    )  # fmt: skip
    built.fee.event_transaction_id = event.transaction_id
    # Flushed before the fee is reported: another worker's fee for the event fails here.
    if charge.invoiceable:
        invoice = _invoice_for(session, ctx, organization, subscription, event, charge, period)
        finalize_built(session, invoice, [built], now, today=None, fresh=True)
        session.flush()
        report.invoices.append(invoice.id)
    else:
        write_standalone_fee(session, built, now)
        session.flush()
    emit(session, "fee.created", built.fee, now)
    report.fees.append(built.fee.id)


def _invoice_for(
    session: Session,
    ctx: BillingContext,
    organization: Organization,
    subscription: Subscription,
    event: Event,
    charge: Charge,
    period: ChargesPeriod,
) -> Invoice:
    today = local_date(ctx.now, ctx.timezone)
    invoice = new_invoice(
        ctx.customer,
        organization,
        invoice_type="subscription",
        currency=ctx.currency,
        billing_date=today,
        issuing_date=today,
        now=ctx.now,
    )
    session.add(invoice)
    session.add(
        InvoiceSubscription(
            invoice_id=invoice.id,
            subscription_id=subscription.id,
            invoicing_reason="in_advance_charge",
            boundary=f"{charge.id}:{event.transaction_id}",
            # The charges period the event falls in, as Lago's billing period shows it.
            charges_from_datetime=period.start,
            charges_to_datetime=period.end,
            created_at=ctx.now,
        )
    )
    session.flush()
    return invoice
