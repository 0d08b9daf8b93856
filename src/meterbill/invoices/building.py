"""Fees of one billed subscription entry: plan fee, charge fees, true-ups, commitment.

Built from the ranges stored on the entry, so a draft rebuilt at finalization prices
the same ranges with the events that arrived meanwhile.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterbill import pricing
from meterbill.core.db import memo
from meterbill.core.money import round_half_up, subunit_to_unit
from meterbill.core.periods import Period, local_date, period_containing
from meterbill.core.times import iso_seconds
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices.models import Fee, InvoiceSubscription
from meterbill.invoices.proration import plan_fee, trial_end_date
from meterbill.invoices.taxes import TaxResolver
from meterbill.metrics.models import BillableMetric
from meterbill.organizations.models import Organization
from meterbill.plans.models import Charge, MinimumCommitment, Plan
from meterbill.subscriptions.models import Subscription
from meterbill.taxes.models import Tax
from meterbill.usage.aggregation import Window
from meterbill.usage.periods import ChargesPeriod, charges_interval, charges_period
from meterbill.usage.service import (
    ChargeUsage,
    PricedBucket,
    plan_charges,
    price_charge,
    usage_in_period,
)

ZERO = Decimal(0)


@dataclass
class BuiltFee:
    fee: Fee
    taxes: list[Tax]
    metric_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None


@dataclass
class BillingContext:
    session: Session
    customer: Customer
    timezone: str
    currency: str
    now: datetime
    taxes: TaxResolver = field(init=False)

    def __post_init__(self) -> None:
        self.taxes = TaxResolver(self.session, self.customer)

    @classmethod
    def of(
        cls,
        session: Session,
        customer: Customer,
        organization: Organization,
        currency: str,
        now: datetime,
    ) -> BillingContext:
        """A context in the customer's applicable timezone."""
        timezone = applicable_timezone(customer, organization)
        return cls(session=session, customer=customer, timezone=timezone, currency=currency,
                   now=now)  # fmt: skip

    def new_fee(self, **columns: Any) -> Fee:
        return Fee(
            id=uuid.uuid4(),
            organization_id=self.customer.organization_id,
            customer_id=self.customer.id,
            amount_currency=self.currency,
            created_at=self.now,
            updated_at=self.now,
            **columns,
        )


def _full_period(
    plan: Plan, subscription: Subscription, interval: str, tz: str, at: datetime
) -> Period:
    return period_containing(
        interval,  # type: ignore[arg-type]
        subscription.billing_time,  # type: ignore[arg-type]
        local_date(subscription.subscription_at, tz),
        local_date(at, tz),
    )


def first_started_at(session: Session, subscription: Subscription) -> datetime:
    """A trial counts from the first start of the external id (upgrades keep it)."""
    first = session.scalar(
        select(func.min(Subscription.started_at)).where(
            Subscription.customer_id == subscription.customer_id,
            Subscription.external_id == subscription.external_id,
        )
    )
    return first or subscription.started_at or subscription.subscription_at


def trial_end_of(
    session: Session, subscription: Subscription, plan: Plan, timezone: str
) -> date | None:
    """The first paid local day of the subscription's trial, or None without one."""
    if not plan.trial_period:
        return None
    return trial_end_date(
        local_date(first_started_at(session, subscription), timezone), plan.trial_period
    )


def is_upgrade_termination(session: Session, subscription: Subscription) -> bool:
    return (
        subscription.terminated_at is not None
        and session.scalar(
            select(Subscription.id).where(
                Subscription.previous_subscription_id == subscription.id,
                Subscription.started_at == subscription.terminated_at,
            )
        )
        is not None
    )


def _properties(entry: InvoiceSubscription, duration: int | None = None) -> dict[str, Any]:
    return {
        "from_datetime": iso_seconds(entry.from_datetime),
        "to_datetime": iso_seconds(entry.to_datetime),
        "charges_from_datetime": iso_seconds(entry.charges_from_datetime),
        "charges_to_datetime": iso_seconds(entry.charges_to_datetime),
        "charges_duration": duration,
    }


def range_properties(period: ChargesPeriod, **extra: Any) -> dict[str, Any]:
    """Fee properties of a fee billed for one charges period (pay-in-advance fees)."""
    return {
        "from_datetime": iso_seconds(period.start),
        "to_datetime": iso_seconds(period.end),
        "charges_from_datetime": iso_seconds(period.start),
        "charges_to_datetime": iso_seconds(period.end),
        "charges_duration": period.period.days,
        **extra,
    }


def subscription_fee(
    ctx: BillingContext, entry: InvoiceSubscription, subscription: Subscription, plan: Plan
) -> BuiltFee | None:
    if entry.from_datetime is None or entry.to_datetime is None:
        return None
    tz = ctx.timezone
    full = _full_period(plan, subscription, plan.interval, tz, entry.from_datetime)
    last = local_date(entry.to_datetime, tz)
    if entry.invoicing_reason == "subscription_terminating" and is_upgrade_termination(
        ctx.session, subscription
    ):
        # The upgrade day is billed by the new plan.
        last -= timedelta(days=1)
    trial_end = trial_end_of(ctx.session, subscription, plan, tz)
    fee = plan_fee(plan.amount_cents, full, local_date(entry.from_datetime, tz), last, trial_end)
    built = ctx.new_fee(
        fee_type="subscription",
        subscription_id=subscription.id,
        item_code=plan.code,
        item_name=plan.name,
        item_id=subscription.id,
        item_type="Subscription",
        invoice_display_name=plan.invoice_display_name or plan.name,
        pay_in_advance=plan.pay_in_advance,
        amount_cents=fee.amount_cents,
        precise_amount_cents=fee.precise_amount_cents,
        unit_amount_cents=fee.amount_cents,
        precise_unit_amount=Decimal(fee.amount_cents) / subunit_to_unit(ctx.currency),
        units=Decimal(1),
        total_aggregated_units=Decimal(1),
        events_count=0,
        amount_details={"plan_amount_cents": plan.amount_cents},
        from_datetime=entry.from_datetime,
        to_datetime=entry.to_datetime,
        properties=_properties(entry),
    )
    return BuiltFee(built, ctx.taxes.for_subscription(plan.id), plan_id=plan.parent_id or plan.id)


def _upgrade_eve(
    ctx: BillingContext, entry: InvoiceSubscription, subscription: Subscription
) -> date | None:
    """The last day an upgraded subscription is active in its last charges period: the
    day before the upgrade, which the new plan bills."""
    if entry.invoicing_reason != "subscription_terminating" or entry.charges_to_datetime is None:
        return None
    if not is_upgrade_termination(ctx.session, subscription):
        return None
    return local_date(entry.charges_to_datetime, ctx.timezone) - timedelta(days=1)


def entry_charges_period(
    subscription: Subscription, plan: Plan, tz: str, start: datetime, end: datetime
) -> ChargesPeriod:
    """The charges period an entry's charges range bills, in its full period."""
    full = _full_period(plan, subscription, charges_interval(plan), tz, start)
    return ChargesPeriod(period=full, start=start, end=end)


def bills_in_arrears(charge: Charge) -> bool:
    """Whether an entry's charge fees price the charge (pay-in-advance ones bill apart)."""
    return not charge.pay_in_advance


def charge_fees(
    ctx: BillingContext, entry: InvoiceSubscription, subscription: Subscription, plan: Plan
) -> list[BuiltFee]:
    if entry.charges_from_datetime is None or entry.charges_to_datetime is None:
        return []
    tz = ctx.timezone
    period = entry_charges_period(
        subscription, plan, tz, entry.charges_from_datetime, entry.charges_to_datetime
    )
    full = period.period
    usage = usage_in_period(
        ctx.session,
        ctx.customer,
        subscription,
        plan,
        period,
        tz,
        apply_taxes=False,
        charge_filter=bills_in_arrears,
        active_until=_upgrade_eve(ctx, entry, subscription),
    )
    billed_days = (
        local_date(entry.charges_to_datetime, tz) - local_date(entry.charges_from_datetime, tz)
    ).days + 1
    built: list[BuiltFee] = []
    for charge_usage in usage.charges:
        built.extend(
            _fees_of_charge(ctx, entry, subscription, plan, charge_usage, full, billed_days)
        )
    return built


def charge_fee(
    ctx: BillingContext,
    subscription: Subscription,
    plan: Plan,
    charge: Charge,
    metric: BillableMetric,
    bucket: PricedBucket,
    bounds: tuple[datetime, datetime],
    properties: dict[str, Any],
    *,
    from_event: bool = False,
) -> BuiltFee:
    """The fee of one priced bucket (a filter and group) of a charge.

    A fee is `pay_in_advance` when an event created it, or when it stands outside any
    invoice (a charge that is not invoiceable); a pay-in-advance charge's fee on a
    billing day's invoice (a recurring renewal) is not, as in Lago."""
    amount = bucket.amount or pricing.ChargeAmount(ZERO, ZERO)
    figures = amount.fee_amounts(ctx.currency)
    charge_filter = next(
        (item for item in charge.filters if str(item.id) == bucket.filter_id), None
    )
    fee = ctx.new_fee(
        **_charge_item(subscription, charge, metric),
        charge_filter_id=charge_filter.id if charge_filter else None,
        filter_display_name=charge_filter.invoice_display_name if charge_filter else None,
        filter_values=charge_filter.values if charge_filter else None,
        grouped_by=bucket.grouped_by,
        pay_in_advance=charge.pay_in_advance and (from_event or not charge.invoiceable),
        amount_cents=figures.amount_cents,
        precise_amount_cents=figures.precise_amount_cents,
        unit_amount_cents=figures.unit_amount_cents,
        precise_unit_amount=figures.precise_unit_amount,
        units=bucket.units,
        total_aggregated_units=bucket.units,
        events_count=bucket.events_count,
        amount_details=_plain(amount.amount_details),
        from_datetime=bounds[0],
        to_datetime=bounds[1],
        properties=properties,
    )
    taxes = ctx.taxes.for_charge(charge.id, plan.id)
    return BuiltFee(fee, taxes, metric.id, plan.parent_id or plan.id)


def _charge_item(
    subscription: Subscription, charge: Charge, metric: BillableMetric
) -> dict[str, Any]:
    """The columns every fee of a charge shares: its item is the charge's metric."""
    return {
        "fee_type": "charge",
        "subscription_id": subscription.id,
        "charge_id": charge.id,
        "item_code": metric.code,
        "item_name": metric.name,
        "item_id": metric.id,
        "item_type": "BillableMetric",
        "invoice_display_name": charge.invoice_display_name or metric.name,
        "invoiceable": charge.invoiceable,
    }


def _fees_of_charge(
    ctx: BillingContext,
    entry: InvoiceSubscription,
    subscription: Subscription,
    plan: Plan,
    usage: ChargeUsage,
    full: Period,
    billed_days: int,
) -> list[BuiltFee]:
    charge: Charge = usage.charge
    metric = usage.metric
    taxes = ctx.taxes.for_charge(charge.id, plan.id)
    base_plan = plan.parent_id or plan.id
    properties = _properties(entry, full.days)
    assert entry.charges_from_datetime is not None and entry.charges_to_datetime is not None
    bounds = (entry.charges_from_datetime, entry.charges_to_datetime)
    fees: list[BuiltFee] = []
    for bucket in usage.buckets:
        if not (bucket.units or bucket.amount_cents or bucket.events_count):
            continue
        fees.append(
            charge_fee(
                ctx, subscription, plan, charge, metric, bucket, bounds, properties,
            )
        )  # fmt: skip
    if charge.min_amount_cents:
        used = sum(item.fee.amount_cents for item in fees)
        used_precise = sum((item.fee.precise_amount_cents for item in fees), ZERO)
        true_up = pricing.true_up(
            charge.min_amount_cents, used, used_precise, full.days, billed_days, ctx.currency
        )
        if true_up is not None:
            parent = _true_up_parent(
                ctx, subscription, plan, charge, metric, usage, bounds, properties, fees
            )
            fee = ctx.new_fee(
                **_charge_item(subscription, charge, metric),
                true_up_parent_fee_id=parent.id if parent else None,
                grouped_by={},
                amount_cents=true_up.amount_cents,
                precise_amount_cents=true_up.precise_amount_cents,
                unit_amount_cents=true_up.unit_amount_cents,
                precise_unit_amount=true_up.precise_unit_amount,
                units=Decimal(1),
                total_aggregated_units=Decimal(1),
                events_count=0,
                amount_details={},
                from_datetime=entry.charges_from_datetime,
                to_datetime=entry.charges_to_datetime,
                properties=properties,
            )
            fees.append(BuiltFee(fee, taxes, metric.id, base_plan))
    return fees


def _true_up_parent(
    ctx: BillingContext,
    subscription: Subscription,
    plan: Plan,
    charge: Charge,
    metric: BillableMetric,
    usage: ChargeUsage,
    bounds: tuple[datetime, datetime],
    properties: dict[str, Any],
    fees: list[BuiltFee],
) -> Fee | None:
    """The fee a spending minimum's true-up hangs on: as in Lago, the charge's unfiltered
    fee, kept on the invoice even when it is zero (the usage all went to filters, or there
    was none) so that the true-up always has its parent line."""
    for item in fees:
        if item.fee.charge_filter_id is None:
            return item.fee
    unfiltered = next((bucket for bucket in usage.buckets if bucket.filter_id is None), None)
    if unfiltered is None:
        return fees[0].fee if fees else None
    built = charge_fee(ctx, subscription, plan, charge, metric, unfiltered, bounds, properties)
    fees.insert(0, built)
    return built.fee


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    """Charge-model details with Decimals as strings, ready for a JSON column."""

    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [convert(item) for item in value]
        return value

    return convert(details)


def _plan_fee_billed_before(
    ctx: BillingContext, entry: InvoiceSubscription, subscription: Subscription
) -> bool:
    """Whether another invoice billed this subscription a plan fee (paid in advance)."""
    return (
        ctx.session.scalar(
            select(Fee.id)
            .where(
                Fee.subscription_id == subscription.id,
                Fee.fee_type == "subscription",
                Fee.invoice_id != entry.invoice_id,
                Fee.deleted_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def commitment_fee(
    ctx: BillingContext,
    entry: InvoiceSubscription,
    subscription: Subscription,
    plan: Plan,
    invoice_fees: list[BuiltFee],
) -> BuiltFee | None:
    """Tops the plan period's fees up to its minimum commitment (prorated to its days)."""
    if entry.commitment_from_datetime is None or entry.commitment_to_datetime is None:
        return None
    commitment = memo(
        ctx.session,
        ("minimum_commitment", plan.id),
        lambda: ctx.session.scalar(
            select(MinimumCommitment).where(MinimumCommitment.plan_id == plan.id)
        ),
    )
    if commitment is None or not commitment.amount_cents:
        return None
    if plan.pay_in_advance and not _plan_fee_billed_before(ctx, entry, subscription):
        # The period's fee was never billed (it ran in a trial): no true-up for it, as
        # Lago's should_create_minimum_commitment_true_up_fee? (previous_invoice_subscription).
        return None
    tz = ctx.timezone
    full = _full_period(plan, subscription, plan.interval, tz, entry.commitment_from_datetime)
    days = (
        local_date(entry.commitment_to_datetime, tz)
        - local_date(entry.commitment_from_datetime, tz)
    ).days + 1
    due = Decimal(commitment.amount_cents) * Decimal(days) / Decimal(full.days)
    start, end = entry.commitment_from_datetime, entry.commitment_to_datetime
    here = sum(
        item.fee.amount_cents
        for item in invoice_fees
        if item.fee.subscription_id == subscription.id
        and item.fee.from_datetime is not None
        and start <= item.fee.from_datetime <= end
    )
    elsewhere = ctx.session.scalar(
        select(func.coalesce(func.sum(Fee.amount_cents), 0)).where(
            Fee.subscription_id == subscription.id,
            Fee.fee_type.in_(("subscription", "charge")),
            Fee.invoice_id != entry.invoice_id,
            Fee.deleted_at.is_(None),
            Fee.from_datetime >= start,
            Fee.from_datetime <= end,
        )
    )
    missing = due - Decimal(here + int(elsewhere or 0))
    if missing <= 0:
        return None
    cents = int(round_half_up(missing))
    if cents <= 0:
        return None
    fee = ctx.new_fee(
        fee_type="commitment",
        subscription_id=subscription.id,
        item_code="minimum_commitment",
        item_name=commitment.invoice_display_name or "Minimum commitment",
        item_id=commitment.id,
        item_type="Commitment",
        invoice_display_name=commitment.invoice_display_name or "Minimum commitment",
        amount_cents=cents,
        precise_amount_cents=missing,
        unit_amount_cents=cents,
        precise_unit_amount=missing / subunit_to_unit(ctx.currency),
        units=Decimal(1),
        total_aggregated_units=Decimal(1),
        events_count=0,
        amount_details={},
        from_datetime=start,
        to_datetime=end,
        properties=_properties(entry),
    )
    return BuiltFee(
        fee, ctx.taxes.for_commitment(commitment.id, plan.id), plan_id=plan.parent_id or plan.id
    )


def renewal_fees(
    ctx: BillingContext,
    entry: InvoiceSubscription,
    subscription: Subscription,
    plan: Plan,
    *,
    invoiceable: bool,
) -> list[BuiltFee]:
    """The level a recurring pay-in-advance charge reached, billed for the next period:
    on a billing day, and when a downgrade's plan takes over the seats at the end of
    the old plan's period."""
    session = ctx.session
    window_bounds = _renewal_window(session, entry, subscription)
    if window_bounds is None:
        return []
    all_charges, metrics = plan_charges(session, plan.id)
    charges = [
        charge
        for charge in all_charges
        if charge.pay_in_advance
        and charge.invoiceable == invoiceable
        and metrics[charge.billable_metric_id].recurring
    ]
    if not charges:
        return []
    start, end = window_bounds
    renewed = charges_period(subscription, plan, ctx.timezone, end + timedelta(seconds=1))
    window = Window(
        organization_id=subscription.organization_id,
        external_subscription_id=subscription.external_id,
        start=start,
        end=end,
        duration_days=renewed.period.days,
    )
    built: list[BuiltFee] = []
    for charge in charges:
        metric = metrics[charge.billable_metric_id]
        usage = price_charge(
            session,
            window,
            charge,
            metric,
            plan.amount_currency,
            ctx.timezone,
            renewed.period.days,
            prorate=False,
        )
        for bucket in usage.buckets:
            if not (bucket.units or bucket.amount_cents):
                continue
            fee = charge_fee(
                ctx, subscription, plan, charge, metric, bucket,
                (renewed.start, renewed.end), range_properties(renewed),
            )  # fmt: skip
            built.append(fee)
    return built


def _renewal_window(
    session: Session, entry: InvoiceSubscription, subscription: Subscription
) -> tuple[datetime, datetime] | None:
    """The period whose usage a renewal carries into the next one, if the entry renews."""
    if entry.invoicing_reason == "subscription_periodic":
        if entry.charges_from_datetime is None or entry.charges_to_datetime is None:
            return None
        return entry.charges_from_datetime, entry.charges_to_datetime
    if entry.invoicing_reason != "subscription_starting" or subscription.started_at is None:
        return None
    if subscription.previous_subscription_id is None:
        return None
    previous = session.get(Subscription, subscription.previous_subscription_id)
    # A downgrade starts the second after the old plan's period ended; an upgrade starts
    # the instant the old plan ends, inside a period whose seats were paid already.
    if (
        previous is None
        or previous.terminated_at is None
        or previous.terminated_at >= subscription.started_at
    ):
        return None
    return previous.started_at or subscription.started_at, previous.terminated_at


def entry_fees(
    ctx: BillingContext, entry: InvoiceSubscription, subscription: Subscription, plan: Plan
) -> list[BuiltFee]:
    fees: list[BuiltFee] = []
    plan_fee_built = subscription_fee(ctx, entry, subscription, plan)
    if plan_fee_built is not None:
        fees.append(plan_fee_built)
    fees.extend(charge_fees(ctx, entry, subscription, plan))
    fees.extend(renewal_fees(ctx, entry, subscription, plan, invoiceable=True))
    commitment = commitment_fee(ctx, entry, subscription, plan, fees)
    if commitment is not None:
        fees.append(commitment)
    return fees
