"""subscription.termination_alert: a warning some days before a subscription ends.

As Lago's Clock::SubscriptionsToBeTerminatedJob: active subscriptions whose ending_at
falls on the UTC date that is N days after today's UTC date (N in the configured days,
15 and 45 by default), at most once per subscription per UTC calendar day. Lago compares
UTC dates, not the customer's: so does this job.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from meterbill.core.isolation import Failure, isolated
from meterbill.core.rehearsal import for_update
from meterbill.subscriptions.models import Subscription
from meterbill.webhooks.outbox import emit, subscribed_organizations

WEBHOOK_TYPE = "subscription.termination_alert"
DEFAULT_DAYS: tuple[int, ...] = (15, 45)


def parse_days(text: str) -> tuple[int, ...]:
    """ "15,45" -> (15, 45): Lago's LAGO_SUBSCRIPTION_TERMINATION_ALERT_SENT_AT_DAYS."""
    days = sorted({int(part) for part in text.split(",") if part.strip()})
    if any(day < 0 for day in days):
        raise ValueError("termination alert days must be zero or more")
    return tuple(days)


def _ending_on(days: Sequence[int], today: date) -> ColumnElement[bool]:
    """ending_at falls on one of the UTC dates `days` after today (each a UTC day's
    bounds, so the ending_at column's order serves)."""
    bounds = []
    for day in days:
        start = datetime.combine(today + timedelta(days=day), time(), UTC)
        bounds.append(
            (Subscription.ending_at >= start) & (Subscription.ending_at < start + timedelta(days=1))
        )
    return or_(*bounds)


def alert_terminations(
    session: Session, now: datetime, days: Sequence[int], failures: list[Failure]
) -> list[str]:
    """Send the day's termination alerts; the external ids alerted."""
    if not days:
        return []
    organizations = subscribed_organizations(session, WEBHOOK_TYPE)
    if not organizations:
        # Nobody listens: nothing to read, and nothing marked (an endpoint added later
        # today still gets the day's alerts).
        return []
    today = now.astimezone(UTC).date()
    due = (
        select(Subscription)
        .where(
            Subscription.organization_id.in_(organizations),
            Subscription.status == "active",
            _ending_on(days, today),
            or_(
                Subscription.termination_alert_sent_on.is_(None),
                Subscription.termination_alert_sent_on < today,
            ),
        )
        .order_by(Subscription.created_at)
    )
    alerted = []
    # Another clock process holding one sends it; the date written settles the rest.
    for subscription in session.scalars(for_update(session, due, skip_locked=True, key_share=True)):
        with isolated(session, failures, "alert_terminations", subscription=subscription.id):
            # Not updated_at: nothing the API shows has changed.
            subscription.termination_alert_sent_on = today
            session.flush()
            emit(session, WEBHOOK_TYPE, subscription, now)
            alerted.append(subscription.external_id)
    return alerted
