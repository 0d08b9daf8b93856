"""A customer's Current usage report (the dashboard's Analytics tab): one block per
active subscription, priced by the very function behind GET .../current_usage, and
what each day of the period added, for a chart."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.errors import MeterbillError
from meterbill.core.periods import local_date
from meterbill.customers.schemas import applicable_timezone
from meterbill.customers.service import find_customer
from meterbill.organizations.service import get_organization
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription
from meterbill.usage.aggregation import MetricSpec, Window, daily_units
from meterbill.usage.service import CurrentUsage, compute_current_usage


@dataclass(frozen=True)
class DailySeries:
    """One charge's figure for each local day of the period, days without events at 0."""

    charge_id: uuid.UUID
    label: str
    # "units" for counts and sums; "events" for other aggregations (their units do not
    # add up day by day).
    measure: str
    days: list[tuple[date, Decimal]]


@dataclass
class UsageBlock:
    subscription: Subscription
    plan: Plan
    timezone: str
    usage: CurrentUsage | None = None
    # Why there is no usage (a refusal of the usage path, e.g. an amount out of range).
    error: str | None = None
    daily: list[DailySeries] = field(default_factory=list)

    @property
    def period_from(self) -> datetime | None:
        """The period's first instant in the customer's time zone."""
        return None if self.usage is None else _local(self.usage.period.start, self.timezone)

    @property
    def period_to(self) -> datetime | None:
        return None if self.usage is None else _local(self.usage.period.end, self.timezone)


def _local(instant: datetime, timezone: str) -> datetime:
    return instant.astimezone(ZoneInfo(timezone))


def active_subscriptions(
    session: Session, organization_id: uuid.UUID, customer_id: uuid.UUID
) -> list[tuple[Subscription, Plan]]:
    return [
        (subscription, plan)
        for subscription, plan in session.execute(
            select(Subscription, Plan)
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(
                Subscription.organization_id == organization_id,
                Subscription.customer_id == customer_id,
                Subscription.status == "active",
            )
            .order_by(Subscription.started_at, Subscription.created_at, Subscription.id)
        ).all()
    ]


def usage_report(
    session: Session,
    organization_id: uuid.UUID,
    customer_external_id: str,
    now: datetime,
    *,
    daily: bool = True,
) -> list[UsageBlock]:
    """Every active subscription's current usage, exactly as the API computes it (taxes
    applied), with the daily series of each charge when `daily`."""
    customer = find_customer(session, organization_id, customer_external_id)
    timezone = applicable_timezone(customer, get_organization(session, organization_id))
    return [
        usage_block(session, customer_external_id, subscription, plan, timezone, now, daily=daily)
        for subscription, plan in active_subscriptions(session, organization_id, customer.id)
    ]


def usage_block(
    session: Session,
    customer_external_id: str,
    subscription: Subscription,
    plan: Plan,
    timezone: str,
    now: datetime,
    *,
    daily: bool = True,
) -> UsageBlock:
    """One active subscription's block of the report (also the subscription page's)."""
    block = UsageBlock(subscription=subscription, plan=plan, timezone=timezone)
    try:
        block.usage = compute_current_usage(
            session, subscription.organization_id, customer_external_id,
            subscription.external_id, now,
        )  # fmt: skip
    except MeterbillError as error:
        block.error = error.code or error.error
    if block.usage is not None and daily:
        block.daily = daily_series(session, block.usage, timezone)
    return block


def daily_series(session: Session, usage: CurrentUsage, timezone: str) -> list[DailySeries]:
    """Per charge, what each day of the usage's period added (the whole period: the
    days to come show what is already there, usually nothing)."""
    period = usage.period
    window = Window(
        organization_id=usage.subscription.organization_id,
        external_subscription_id=usage.subscription.external_id,
        start=period.start,
        end=period.end,
        duration_days=period.period.days,
    )
    first = local_date(period.start, timezone)
    last = local_date(period.end, timezone)
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    specs = {
        charge.metric.code: MetricSpec(
            code=charge.metric.code,
            aggregation_type=charge.metric.aggregation_type,
            field_name=charge.metric.field_name,
        )
        for charge in usage.charges
    }
    read = daily_units(session, window, list(specs.values()), timezone)
    series = []
    for charge in usage.charges:
        metric = charge.metric
        figures = read[metric.code]
        series.append(
            DailySeries(
                charge_id=charge.charge.id,
                label=charge.charge.invoice_display_name or metric.name,
                measure="units"
                if metric.aggregation_type in ("count_agg", "sum_agg")
                else "events",
                days=[(day, figures.get(day, Decimal(0))) for day in days],
            )
        )
    return series
