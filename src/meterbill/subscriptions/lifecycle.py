"""Status transitions shared by subscription termination and customer deletion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.periods import Period, local_date, period_containing
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription
from meterbill.webhooks.outbox import emit


def billing_period(
    subscription: Subscription, plan: Plan, timezone: str, moment: datetime
) -> Period:
    """The subscription's billing period (of its plan's interval) containing `moment`."""
    return period_containing(
        plan.interval,  # type: ignore[arg-type]
        subscription.billing_time,  # type: ignore[arg-type]
        local_date(subscription.subscription_at, timezone),
        local_date(moment, timezone),
    )


def cancel_next(session: Session, subscription: Subscription, now: datetime) -> None:
    """Cancel the pending downgrade waiting on `subscription`, if any."""
    for pending in session.scalars(
        select(Subscription).where(
            Subscription.previous_subscription_id == subscription.id,
            Subscription.status == "pending",
        )
    ):
        pending.status = "canceled"
        pending.canceled_at = now
        pending.updated_at = now


def terminate(session: Session, subscription: Subscription, now: datetime) -> None:
    """An active subscription is terminated now; a pending one is canceled."""
    if subscription.status == "pending":
        subscription.status = "canceled"
        subscription.canceled_at = now
        emit(session, "subscription.terminated", subscription, now)
    elif subscription.status == "active":
        cancel_next(session, subscription, now)
        subscription.status = "terminated"
        subscription.terminated_at = now
        subscription.updated_at = now
        session.flush()
        emit(session, "subscription.terminated", subscription, now)
        # Imported here: invoicing builds on subscriptions, not the other way round.
        from meterbill.invoices.billing import bill_terminated

        bill_terminated(session, subscription, now)
    subscription.updated_at = now
