"""What a subscription is billed for, as ranges: the plan fee, the charges, the commitment.

billing.md §4.5-§4.6. Every billing moment of a subscription (its start when paid in
advance, each billing day, its termination) becomes one `EntrySpec`: pure date
arithmetic in the customer's timezone. The fees are built from the spec later, and
built again from the same stored ranges when a draft is refreshed or finalized.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from meterbill.core.periods import (
    Period,
    local_date,
    local_midnight,
    period_containing,
    utc_bounds,
)
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription
from meterbill.usage.periods import charges_interval

Range = tuple[datetime, datetime]


@dataclass(frozen=True)
class EntrySpec:
    invoicing_reason: (
        str  # subscription_starting | subscription_periodic | subscription_terminating
    )
    boundary: str
    billing_date: date
    plan_fee: Range | None = None
    charges: Range | None = None
    commitment: Range | None = None


def _period(
    plan: Plan, subscription: Subscription, interval: str, timezone: str, day: date
) -> Period:
    return period_containing(
        interval,  # type: ignore[arg-type]
        subscription.billing_time,  # type: ignore[arg-type]
        local_date(subscription.subscription_at, timezone),
        day,
    )


def _clamp(
    period: Period, timezone: str, subscription: Subscription, *, whole_days: bool = False
) -> Range:
    """The period's UTC bounds, starting no earlier than the subscription did: at its
    start instant for charges, at the local start of its start day with `whole_days`
    (the plan fee and commitment ranges, which count days: Lago's
    DatesService#from_datetime)."""
    start, end = utc_bounds(period, timezone)
    if subscription.started_at is not None and subscription.started_at > start:
        start = subscription.started_at
        if whole_days:
            start = local_midnight(local_date(start, timezone), timezone)
    if subscription.terminated_at is not None and subscription.terminated_at < end:
        end = subscription.terminated_at
    return start, end


def billing_days(
    subscription: Subscription, plan: Plan, timezone: str, after: date, until: date
) -> list[date]:
    """The billing days in (`after`, `until`]: each first day of a charges period."""
    interval = charges_interval(plan)
    days = []
    period = _period(plan, subscription, interval, timezone, after)
    day = period.end + timedelta(days=1)
    while day <= until:
        days.append(day)
        day = _period(plan, subscription, interval, timezone, day).end + timedelta(days=1)
    return days


def periodic(
    subscription: Subscription, plan: Plan, timezone: str, day: date, trial_end: date | None = None
) -> EntrySpec:
    """Billing day `day`: the charges period that just ended, and the plan fee it owes.

    A plan paid in advance bills nothing for a period that starts inside the trial:
    the end of the trial bills it (`trial_ended`).
    """
    previous_day = day - timedelta(days=1)
    charges = _period(plan, subscription, charges_interval(plan), timezone, previous_day)
    ended = _period(plan, subscription, plan.interval, timezone, previous_day)
    plan_ended = ended.end == previous_day
    plan_fee: Range | None = None
    if plan.pay_in_advance:
        starting = _period(plan, subscription, plan.interval, timezone, day)
        if starting.start == day and not (trial_end and trial_end > day):
            plan_fee = _clamp(starting, timezone, subscription, whole_days=True)
    elif plan_ended:
        plan_fee = _clamp(ended, timezone, subscription, whole_days=True)
    return EntrySpec(
        invoicing_reason="subscription_periodic",
        boundary=day.isoformat(),
        billing_date=day,
        plan_fee=plan_fee,
        charges=_clamp(charges, timezone, subscription),
        commitment=_clamp(ended, timezone, subscription, whole_days=True) if plan_ended else None,
    )


def starting(
    subscription: Subscription, plan: Plan, timezone: str, trial_end: date | None = None
) -> EntrySpec | None:
    """A plan paid in advance bills its first (possibly partial) period at once,
    unless it starts in a trial: then the trial's end bills it."""
    if not plan.pay_in_advance or subscription.started_at is None:
        return None
    day = local_date(subscription.started_at, timezone)
    if trial_end is not None and trial_end > day:
        return None
    first = _period(plan, subscription, plan.interval, timezone, day)
    return EntrySpec(
        invoicing_reason="subscription_starting",
        boundary=subscription.started_at.isoformat(),
        billing_date=day,
        plan_fee=_clamp(first, timezone, subscription, whole_days=True),
    )


def trial_ended(
    subscription: Subscription, plan: Plan, timezone: str, trial_end: date
) -> EntrySpec | None:
    """The end of a trial bills a plan paid in advance for the rest of its period,
    unless that period starts on that day (its billing day bills it whole)."""
    if not plan.pay_in_advance:
        return None
    running = _period(plan, subscription, plan.interval, timezone, trial_end)
    if running.start == trial_end:
        return None
    return EntrySpec(
        invoicing_reason="subscription_starting",
        boundary=f"trial_end:{trial_end.isoformat()}",
        billing_date=trial_end,
        plan_fee=_clamp(running, timezone, subscription, whole_days=True),
    )


def terminating(subscription: Subscription, plan: Plan, timezone: str) -> EntrySpec:
    """The last bill: charges up to the termination, and the plan fee if paid in arrears."""
    assert subscription.terminated_at is not None
    day = local_date(subscription.terminated_at, timezone)
    charges = _period(plan, subscription, charges_interval(plan), timezone, day)
    running = _period(plan, subscription, plan.interval, timezone, day)
    clamped = _clamp(running, timezone, subscription, whole_days=True)
    return EntrySpec(
        invoicing_reason="subscription_terminating",
        boundary=subscription.terminated_at.isoformat(),
        billing_date=day,
        plan_fee=None if plan.pay_in_advance else clamped,
        charges=_clamp(charges, timezone, subscription),
        commitment=clamped,
    )


def closing(
    ended: EntrySpec, plan: Plan, terminated_at: datetime, *, periodic: bool = False
) -> EntrySpec:
    """The termination bill of a subscription ended on billing day `ended.billing_date`
    before that day was billed: the period that ended (its charges, and its plan fee if
    paid in arrears), not the one that begins, which it never used (Lago's
    TerminatedDatesService). With `periodic` (no termination invoice wanted) it stays
    that day's periodic bill."""
    plan_fee = None if plan.pay_in_advance else ended.plan_fee
    if periodic:
        return replace(ended, plan_fee=plan_fee)
    return replace(
        ended,
        invoicing_reason="subscription_terminating",
        boundary=terminated_at.isoformat(),
        plan_fee=plan_fee,
    )
