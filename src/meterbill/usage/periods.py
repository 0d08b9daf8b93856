"""Which period a subscription's charges are counted over, in UTC instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from meterbill.core.periods import Period, local_date, period_containing, utc_bounds
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription


@dataclass(frozen=True)
class ChargesPeriod:
    period: Period
    start: datetime
    end: datetime

    @property
    def issuing_date(self) -> date:
        return self.period.end


def charges_interval(plan: Plan) -> str:
    # Yearly and semiannual plans may bill their usage every month.
    if plan.interval in ("yearly", "semiannual") and plan.bill_charges_monthly:
        return "monthly"
    return plan.interval


def charges_period(
    subscription: Subscription, plan: Plan, timezone: str, now: datetime
) -> ChargesPeriod:
    """The charges period containing `now` (local date in the customer's timezone).

    It starts at the subscription's exact start when the subscription began inside it.
    """
    anchor = local_date(subscription.subscription_at, timezone)
    period = period_containing(
        charges_interval(plan),  # type: ignore[arg-type]
        subscription.billing_time,  # type: ignore[arg-type]
        anchor,
        local_date(now, timezone),
    )
    start, end = utc_bounds(period, timezone)
    if subscription.started_at is not None and subscription.started_at > start:
        start = subscription.started_at
    return ChargesPeriod(period=period, start=start, end=end)
