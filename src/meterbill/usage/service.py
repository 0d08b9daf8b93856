"""A customer's current usage: every charge of the subscription's plan, priced live."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, literal, select, union_all
from sqlalchemy.orm import Session, joinedload

from meterbill import pricing
from meterbill.core.db import memo
from meterbill.core.errors import MethodNotAllowed, NotFound
from meterbill.core.limits import check_bigint
from meterbill.core.money import round_half_up
from meterbill.core.periods import local_date
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.metrics.models import BillableMetric
from meterbill.organizations.models import Organization
from meterbill.plans.models import Charge, ChargeTax, Plan, PlanTax
from meterbill.subscriptions.models import Subscription
from meterbill.taxes.models import CustomerTax, Tax
from meterbill.usage import batch
from meterbill.usage.aggregation import (
    BucketKey,
    BucketUsage,
    FilterSpec,
    MetricSpec,
    Window,
    active_ratio,
    aggregate,
    daily_sums,
    dynamic_amounts,
    event_values,
    unique_value_events,
)
from meterbill.usage.periods import ChargesPeriod, charges_period
from meterbill.usage.sql import Dialect

PERCENT = Decimal(100)
FREE_OR_BOUNDED = (
    "free_units_per_events",
    "free_units_per_total_aggregation",
    "per_transaction_min_amount",
    "per_transaction_max_amount",
)


@dataclass
class PricedBucket:
    filter_id: str | None
    group: tuple[str | None, ...]
    units: Decimal
    events_count: int
    amount_cents: int
    # The model's unrounded result, kept for the fee's precise figures and details.
    amount: pricing.ChargeAmount | None = None
    # The grouping keys `group` holds the values of: the filter's own, else the charge's.
    keys: tuple[str, ...] = ()

    @property
    def grouped_by(self) -> dict[str, str | None]:
        return dict(zip(self.keys, self.group, strict=True))


@dataclass
class ChargeUsage:
    charge: Charge
    metric: BillableMetric
    group_keys: list[str]
    buckets: list[PricedBucket] = field(default_factory=list)
    tax_rate: Decimal = Decimal(0)

    @property
    def units(self) -> Decimal:
        return sum((bucket.units for bucket in self.buckets), Decimal(0))

    @property
    def events_count(self) -> int:
        return sum(bucket.events_count for bucket in self.buckets)

    @property
    def amount_cents(self) -> int:
        return sum(bucket.amount_cents for bucket in self.buckets)


@dataclass
class CurrentUsage:
    subscription: Subscription
    plan: Plan
    period: ChargesPeriod
    charges: list[ChargeUsage]
    taxes_amount_cents: int

    @property
    def amount_cents(self) -> int:
        return sum(charge.amount_cents for charge in self.charges)


# The event property that names the wallet a charge's usage is paid from.
TARGET_WALLET_KEY = "target_wallet_code"


def group_keys_of(charge: Charge) -> list[str]:
    return _with_target_wallet(charge, _keys(charge.properties))


def _keys(properties: dict[str, Any] | None) -> list[str]:
    properties = properties or {}
    return list(properties.get("pricing_group_keys") or properties.get("grouped_by") or [])


def _with_target_wallet(charge: Charge, keys: list[str]) -> list[str]:
    # A charge that accepts target wallets bills each wallet's events apart, so that each
    # fee is paid by its wallet (Lago's events targeting wallets).
    if charge.accepts_target_wallet and TARGET_WALLET_KEY not in keys:
        keys.append(TARGET_WALLET_KEY)
    return keys


def bucket_group_keys(charge: Charge) -> dict[str | None, tuple[str, ...]]:
    """The grouping keys of each bucket of a charge (a filter's id, None for events no
    filter takes): a filter's own `pricing_group_keys`, else the charge's (Lago's)."""
    charge_keys = tuple(group_keys_of(charge))
    keys: dict[str | None, tuple[str, ...]] = {None: charge_keys}
    for item in charge.filters:
        own = _keys(item.properties)
        keys[str(item.id)] = tuple(_with_target_wallet(charge, own)) if own else charge_keys
    return keys


def tax_rates(
    session: Session, customer: Customer, plan: Plan, charges: Sequence[Charge]
) -> dict[uuid.UUID, Decimal]:
    """Per charge, the first non-empty set of: charge, plan, customer, organization taxes.

    One query gathers the four candidate sets.
    """
    charge_ids = [charge.id for charge in charges]
    sources = union_all(
        select(literal("charge").label("source"), ChargeTax.charge_id.label("owner"),
               ChargeTax.tax_id.label("tax_id")).where(ChargeTax.charge_id.in_(charge_ids)),
        select(literal("plan"), PlanTax.plan_id, PlanTax.tax_id).where(PlanTax.plan_id == plan.id),
        select(literal("customer"), CustomerTax.customer_id, CustomerTax.tax_id).where(
            CustomerTax.customer_id == customer.id
        ),
        select(literal("organization"), Tax.organization_id, Tax.id).where(
            Tax.organization_id == customer.organization_id,
            Tax.applied_to_organization.is_(True),
            Tax.deleted_at.is_(None),
        ),
    ).subquery()  # fmt: skip
    rates: dict[tuple[str, Any], Decimal] = {}
    for source, owner, rate in session.execute(
        select(sources.c.source, sources.c.owner, Tax.rate).join(Tax, Tax.id == sources.c.tax_id)
    ).all():
        rates[(source, owner)] = rates.get((source, owner), Decimal(0)) + rate
    fallback = TaxFallback(
        rates.get(("plan", plan.id)),
        rates.get(("customer", customer.id)),
        rates.get(("organization", customer.organization_id)),
    )
    return {charge.id: rates.get(("charge", charge.id), fallback.rate) for charge in charges}


@dataclass(frozen=True)
class TaxFallback:
    """The summed rates of a plan's, a customer's and an organization's taxes (None: no
    tax there); a charge without taxes of its own takes the first that has some."""

    plan: Decimal | None
    customer: Decimal | None
    organization: Decimal | None

    @property
    def rate(self) -> Decimal:
        return next(
            (rate for rate in (self.plan, self.customer, self.organization) if rate is not None),
            Decimal(0),
        )


def _tax_sum(session: Session, *conditions: ColumnElement[bool], via: Any = None) -> Any:
    """A scalar subquery: the exact sum of the matching taxes' rates, NULL when none."""
    dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    query = select(dialect.sum(Tax.rate))
    if via is not None:
        query = query.select_from(via).join(Tax, Tax.id == via.tax_id)
    return query.where(*conditions).scalar_subquery()


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def compute_current_usage(
    session: Session,
    organization_id: uuid.UUID,
    customer_external_id: str,
    external_subscription_id: str | None,
    now: datetime,
    *,
    apply_taxes: bool = True,
) -> CurrentUsage:
    # One round trip for the customer and its subscription: this endpoint is polled.
    subscription_match = and_(
        Subscription.customer_id == Customer.id,
        Subscription.external_id == external_subscription_id
        if external_subscription_id
        else false(),
        Subscription.status == "active",
    )
    # The fallback taxes ride along, and whether any charge has taxes of its own: most
    # plans have none, and then the rates need no query of their own.
    charge_taxes = exists().where(
        ChargeTax.charge_id == Charge.id,
        Charge.plan_id == Plan.id,
        Charge.deleted_at.is_(None),
    )
    found = session.execute(
        select(
            Customer,
            Organization,
            Subscription,
            Plan,
            _tax_sum(session, PlanTax.plan_id == Plan.id, via=PlanTax),
            _tax_sum(session, CustomerTax.customer_id == Customer.id, via=CustomerTax),
            _tax_sum(
                session,
                Tax.organization_id == Customer.organization_id,
                Tax.applied_to_organization.is_(True),
                Tax.deleted_at.is_(None),
            ),
            charge_taxes,
        )
        .join(Organization, Organization.id == Customer.organization_id)
        .outerjoin(Subscription, subscription_match)
        .outerjoin(Plan, Plan.id == Subscription.plan_id)
        .where(
            Customer.organization_id == organization_id,
            Customer.external_id == customer_external_id,
            Customer.deleted_at.is_(None),
        )
    ).first()
    if found is None:
        raise NotFound("customer")
    customer, organization, subscription, plan, plan_rate, customer_rate, org_rate, own = found
    fallback = TaxFallback(
        _decimal_or_none(plan_rate), _decimal_or_none(customer_rate), _decimal_or_none(org_rate)
    )
    if subscription is None or plan is None:
        # Lago answers 405 for a missing, pending or ended subscription alike.
        raise MethodNotAllowed("no_active_subscription")
    timezone = applicable_timezone(customer, organization)
    period = charges_period(subscription, plan, timezone, now)
    usage = usage_in_period(
        session, customer, subscription, plan, period, timezone, apply_taxes=apply_taxes,
        known_taxes=None if own else fallback,
    )  # fmt: skip
    check_representable(usage)
    return usage


def check_representable(usage: CurrentUsage) -> None:
    """Refuse (422 value_is_out_of_range) amounts beyond 64-bit integers: usage priced
    from absurd data (stored before the API bounded it) cannot be answered in minor units."""
    for charge in usage.charges:
        for bucket in charge.buckets:
            check_bigint("amount_cents", bucket.amount_cents)
        check_bigint("amount_cents", charge.amount_cents)
    check_bigint("amount_cents", usage.amount_cents)
    check_bigint("taxes_amount_cents", usage.taxes_amount_cents)
    check_bigint("total_amount_cents", usage.amount_cents + usage.taxes_amount_cents)


def plan_charges(
    session: Session, plan_id: uuid.UUID
) -> tuple[list[Charge], dict[uuid.UUID, BillableMetric]]:
    """A plan's live charges (filters loaded) in order, and their metrics by id."""

    def load() -> tuple[list[Charge], dict[uuid.UUID, BillableMetric]]:
        rows = (
            session.execute(
                select(Charge, BillableMetric)
                .join(BillableMetric, BillableMetric.id == Charge.billable_metric_id)
                .where(Charge.plan_id == plan_id, Charge.deleted_at.is_(None))
                .order_by(Charge.position)
                .options(joinedload(Charge.filters))
            )
            .unique()
            .all()
        )
        return [charge for charge, _m in rows], {metric.id: metric for _c, metric in rows}

    return memo(session, ("plan_charges", plan_id), load)


def period_window(subscription: Subscription, period: ChargesPeriod) -> Window:
    """The events a charges period of the subscription prices."""
    return Window(
        organization_id=subscription.organization_id,
        external_subscription_id=subscription.external_id,
        start=period.start,
        end=period.end,
        duration_days=period.period.days,
    )


def read_ahead_charges(
    session: Session,
    periods: Sequence[tuple[Subscription, Plan, ChargesPeriod]],
    charge_filter: Callable[[Charge], bool] | None = None,
) -> None:
    """Read ahead (usage/batch.py) the aggregations `usage_in_period` will ask for these
    subscriptions' periods: one store call per metric, filters and grouping keys."""
    requests: list[batch.Request] = []
    for subscription, plan, period in periods:
        window = period_window(subscription, period)
        all_charges, metrics = plan_charges(session, plan.id)
        for charge in all_charges:
            if charge_filter is not None and not charge_filter(charge):
                continue
            metric = metrics[charge.billable_metric_id]
            for spec, filters, group_keys in charge_aggregations(charge, metric):
                requests.append((window, spec, filters, group_keys))
    batch.read_ahead(session, requests)


def usage_in_period(
    session: Session,
    customer: Customer,
    subscription: Subscription,
    plan: Plan,
    period: ChargesPeriod,
    timezone: str,
    *,
    apply_taxes: bool = True,
    charge_filter: Callable[[Charge], bool] | None = None,
    known_taxes: TaxFallback | None = None,
    active_until: date | None = None,
) -> CurrentUsage:
    """Every charge of `plan` (those `charge_filter` keeps) priced over `period`.

    The current usage endpoint and the invoices both price usage here. The level a
    prorated recurring sum carries into the period counts for the days the subscription
    is active in it: to the period's end, or to the day `period` ends (a termination),
    or to `active_until` (an upgrade's eve: the new plan bills the upgrade day).
    """
    window = period_window(subscription, period)
    all_charges, metrics = plan_charges(session, plan.id)
    charges = [charge for charge in all_charges if charge_filter is None or charge_filter(charge)]
    last_active = min(period.period.end, local_date(period.end, timezone))
    if active_until is not None:
        last_active = min(last_active, active_until)
    active_days = max((last_active - local_date(period.start, timezone)).days + 1, 0)
    # `known_taxes`: the caller read the fallback taxes and no charge has its own.
    if not apply_taxes:
        rates: dict[uuid.UUID, Decimal] = {}
    elif known_taxes is not None:
        rates = dict.fromkeys((charge.id for charge in charges), known_taxes.rate)
    else:
        rates = tax_rates(session, customer, plan, charges)
    usages = []
    for charge in charges:
        metric = metrics[charge.billable_metric_id]
        usage = price_charge(
            session, window, charge, metric, plan.amount_currency, timezone, active_days
        )
        usage.tax_rate = rates.get(charge.id, Decimal(0))
        usages.append(usage)
    usages.sort(key=lambda usage: usage.metric.name.lower())
    taxes = sum(
        (Decimal(usage.amount_cents) * usage.tax_rate / PERCENT for usage in usages), Decimal(0)
    )
    return CurrentUsage(
        subscription=subscription,
        plan=plan,
        period=period,
        charges=usages,
        taxes_amount_cents=int(round_half_up(taxes)),
    )


def price_charge(
    session: Session,
    window: Window,
    charge: Charge,
    metric: BillableMetric,
    currency: str,
    timezone: str,
    active_days: int,
    *,
    prorate: bool = True,
) -> ChargeUsage:
    """One charge's buckets over `window`, each aggregated and priced."""
    spec = metric_spec(metric)
    filters = filter_specs(charge)
    properties_of: dict[str | None, dict[str, Any]] = {None: charge.properties}
    properties_of.update({str(item.id): item.properties for item in charge.filters})
    usage = ChargeUsage(charge=charge, metric=metric, group_keys=group_keys_of(charge))
    keys_of = bucket_group_keys(charge)
    # One aggregation per set of grouping keys (mostly one): each keeps the buckets of
    # the filters grouped by that set. Every aggregation sees all the filters, since an
    # event belongs to its most specific filter.
    for keys in dict.fromkeys(keys_of.values()):
        members = {filter_id for filter_id, own in keys_of.items() if own == keys}
        usage.buckets.extend(
            _priced_buckets(
                session, window, charge, metric, spec, filters, list(keys), members,
                properties_of, currency, timezone, active_days, prorate=prorate,
            )
        )  # fmt: skip
    usage.buckets.sort(key=lambda bucket: (bucket.filter_id or "", [g or "" for g in bucket.group]))
    return usage


def metric_spec(metric: BillableMetric) -> MetricSpec:
    return MetricSpec(
        code=metric.code,
        aggregation_type=metric.aggregation_type,
        field_name=metric.field_name,
        recurring=metric.recurring,
        rounding_function=metric.rounding_function,
        rounding_precision=metric.rounding_precision,
    )


def filter_specs(charge: Charge) -> list[FilterSpec]:
    return [
        FilterSpec(str(item.id), item.values, position)
        for position, item in enumerate(charge.filters)
    ]


def charge_aggregations(
    charge: Charge, metric: BillableMetric
) -> list[tuple[MetricSpec, list[FilterSpec], list[str]]]:
    """The aggregations `price_charge` asks for: one per set of grouping keys."""
    spec = metric_spec(metric)
    filters = filter_specs(charge)
    return [
        (spec, filters, list(keys)) for keys in dict.fromkeys(bucket_group_keys(charge).values())
    ]


def _priced_buckets(
    session: Session,
    window: Window,
    charge: Charge,
    metric: BillableMetric,
    spec: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: list[str],
    members: set[str | None],
    properties_of: dict[str | None, dict[str, Any]],
    currency: str,
    timezone: str,
    active_days: int,
    *,
    prorate: bool,
) -> list[PricedBucket]:
    """The buckets of the filters in `members` (None: events no filter takes), grouped
    by `group_keys`, aggregated and priced."""
    aggregated = {
        key: bucket
        for key, bucket in aggregate(session, window, spec, filters, group_keys).items()
        if key[0] in members
    }
    # Every filter bucket shows (and prices) even without events; groups only when seen.
    empty_group = tuple(None for _ in group_keys)
    if not group_keys:
        for filter_id in members:
            aggregated.setdefault((filter_id, ()), BucketUsage(Decimal(0), 0))
    elif not aggregated and None in members:
        aggregated[(None, empty_group)] = BucketUsage(Decimal(0), 0)
    extra = _model_inputs(session, window, charge, spec, filters, group_keys)
    prorating = prorate and charge.prorated and metric.recurring
    prorated: dict[BucketKey, Proration] = {}
    if prorating and metric.aggregation_type == "sum_agg":
        prorated = _prorated_units(
            session, window, spec, filters, group_keys, aggregated, timezone, active_days
        )
        if charge.charge_model == "graduated":
            _add_peaks(session, window, spec, filters, group_keys, prorated)
    elif prorating and metric.aggregation_type == "unique_count_agg":
        prorated = _prorated_unique_counts(
            session, window, spec, filters, group_keys, aggregated, timezone
        )
    buckets = []
    for (filter_id, group), bucket in aggregated.items():
        proration = prorated.get((filter_id, group))
        amount = pricing.compute(
            charge.charge_model,
            properties_of.get(filter_id, charge.properties),
            pricing.Usage(
                units=proration.units if proration else bucket.units,
                full_units=bucket.units if proration else None,
                prorated_steps=proration.steps if proration else None,
                peak_units=proration.peak if proration else None,
                events_count=bucket.events_count,
                event_values=extra.values.get((filter_id, group), [])
                if extra.read_values
                else None,
                precise_total_amount_cents=extra.amounts.get((filter_id, group), Decimal(0)),
                currency=currency,
            ),
        )
        buckets.append(
            PricedBucket(
                filter_id=filter_id,
                group=group,
                units=bucket.units,
                events_count=bucket.events_count,
                amount_cents=amount.cents(currency),
                amount=amount,
                keys=tuple(group_keys),
            )
        )
    return buckets


@dataclass(frozen=True)
class Proration:
    """A prorated bucket: the units it is priced on, and how they built up."""

    units: Decimal
    # (full, prorated) units of the carried level, then of each day's additions in order.
    steps: list[tuple[Decimal, Decimal]]
    # The highest running total event by event, when the charge model needs it.
    peak: Decimal | None = None


def _prorated_units(
    session: Session,
    window: Window,
    spec: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
    aggregated: dict[BucketKey, BucketUsage],
    timezone: str,
    active_days: int,
) -> dict[BucketKey, Proration]:
    """Units a prorated recurring sum is priced on (the shown units stay unprorated).

    The level carried from earlier periods counts for the days the subscription is
    active; each day's additions count for the days left, that day included.
    """
    daily = daily_sums(session, window, spec, timezone, filters, group_keys)
    duration = Decimal(window.duration_days)
    last_day = local_date(window.end, timezone)
    result = {}
    for key, usage in aggregated.items():
        added = sorted(daily.get(key, []))
        in_period = sum((value for _day, value in added), Decimal(0))
        carried = usage.units - in_period
        # Each step's units times the days they count for.
        weighted = [(carried, carried * Decimal(active_days))] + [
            (value, value * Decimal((last_day - day).days + 1)) for day, value in added
        ]
        # Divided once, so that the ceiling sees the exact quotient.
        total = sum((unit_days for _full, unit_days in weighted), Decimal(0)) / duration
        units = total.quantize(Decimal("0.00001"), rounding=ROUND_CEILING)
        steps = [(full, unit_days / duration) for full, unit_days in weighted]
        result[key] = Proration(units, steps)
    return result


def _prorated_unique_counts(
    session: Session,
    window: Window,
    spec: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
    aggregated: dict[BucketKey, BucketUsage],
    timezone: str,
) -> dict[BucketKey, Proration]:
    """Units a prorated unique count is priced on: each value for the days it is active
    in the period (billing.md §4.6); its comings and goings are the steps, in order."""
    found = unique_value_events(session, window, spec, timezone, filters, group_keys)
    first_day = local_date(window.start, timezone)
    last_day = local_date(window.end, timezone)
    result = {}
    for key in aggregated:
        total = Decimal(0)
        steps: list[tuple[int, int, Decimal]] = []
        for operations in found.get(key, {}).values():
            share, value_steps = active_ratio(operations, first_day, last_day, window.duration_days)
            total += share
            steps.extend(value_steps)
        steps.sort()
        units = total.quantize(Decimal("0.00001"), rounding=ROUND_CEILING)
        result[key] = Proration(units, [(Decimal(sign), share) for _rank, sign, share in steps])
    return result


def _add_peaks(
    session: Session,
    window: Window,
    spec: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
    prorated: dict[BucketKey, Proration],
) -> None:
    """The highest running total of each prorated bucket, from the level carried in
    through the period's events one by one (read in order, as percentage's free units)."""
    values = event_values(session, window, spec, filters, group_keys)
    for key, proration in list(prorated.items()):
        running = proration.steps[0][0]
        peak = max(running, Decimal(0))
        for value in values.get(key, []):
            running += value
            peak = max(peak, running)
        prorated[key] = replace(proration, peak=peak)


@dataclass
class _ModelInputs:
    values: dict[BucketKey, list[Decimal]] = field(default_factory=dict)
    amounts: dict[BucketKey, Decimal] = field(default_factory=dict)
    # Whether `values` were read: a bucket missing from them then has no event values
    # (a recurring level carried without events this period), not count-like ones.
    read_values: bool = False


def _model_inputs(
    session: Session,
    window: Window,
    charge: Charge,
    spec: MetricSpec,
    filters: Sequence[FilterSpec],
    group_keys: Sequence[str],
) -> _ModelInputs:
    inputs = _ModelInputs()
    if charge.charge_model == "dynamic":
        inputs.amounts = dynamic_amounts(session, window, spec, filters, group_keys)
    needs_values = (
        charge.charge_model == "percentage"
        and spec.field_name
        and any(charge.properties.get(key) for key in FREE_OR_BOUNDED)
    )
    if needs_values:
        inputs.values = event_values(session, window, spec, filters, group_keys)
        inputs.read_values = True
    return inputs
