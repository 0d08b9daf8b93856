"""Subscription rules: creation and status by start date, upgrade/downgrade, termination."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, build_meta, paginate
from meterbill.core.periods import local_date, utc_bounds
from meterbill.core.records import flush_unique
from meterbill.core.rehearsal import for_update
from meterbill.core.text_search import contains_ignoring_case
from meterbill.customers.models import Customer
from meterbill.customers.schemas import CustomerInput, applicable_timezone
from meterbill.customers.service import assign_currency, live_id, upsert_customer
from meterbill.invoices.billing import bill_started, bill_upgrade
from meterbill.organizations.service import get_organization
from meterbill.plans.models import Plan
from meterbill.plans.service import find_plan, override_plan
from meterbill.subscriptions.lifecycle import billing_period, cancel_next, terminate
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.schemas import (
    TERMINATION_CREDIT_NOTES,
    TERMINATION_INVOICES,
    SubscriptionInput,
    SubscriptionView,
)
from meterbill.webhooks.outbox import emit

# Plans compare by their amount over a year (Lago's yearly_amount_cents).
INTERVALS_PER_YEAR = {"weekly": 52, "monthly": 12, "quarterly": 4, "semiannual": 2, "yearly": 1}


def timezone_of(session: Session, customer: Customer) -> str:
    return applicable_timezone(customer, get_organization(session, customer.organization_id))


def find_subscription(
    session: Session,
    organization_id: uuid.UUID,
    external_id: str,
    status: str = "active",
    *,
    lock: bool = False,
) -> Subscription:
    """The newest subscription with this external id and status (Lago's lookup).

    With `lock`, its row is locked as the clock's claims lock it: a change that depends on
    the status waits for one under way, and finds the subscription gone if that one moved
    it to another status (PostgreSQL checks the condition again on the row it waited for).
    """
    query = (
        select(Subscription)
        .where(
            Subscription.organization_id == organization_id,
            Subscription.external_id == external_id,
            Subscription.status == status,
        )
        .order_by(Subscription.created_at.desc(), Subscription.id)
        .limit(1)
    )
    subscription = session.scalar(for_update(session, query, key_share=True) if lock else query)
    if subscription is None:
        raise NotFound("subscription")
    return subscription


def _customer(
    session: Session, organization_id: uuid.UUID, external_id: str, now: datetime
) -> Customer:
    """Lago creates an unknown customer on the fly when a subscription names it."""
    customer, _created = upsert_customer(
        session, organization_id, CustomerInput(external_id=external_id), now
    )
    return customer


def _yearly_amount(plan: Plan) -> int:
    return plan.amount_cents * INTERVALS_PER_YEAR[plan.interval]


def can_change_plan(subscription: Subscription) -> bool:
    """Whether a new plan may be asked for: an active subscription, or one not started yet
    (a pending downgrade is not: it is itself the change)."""
    return subscription.status == "active" or (
        subscription.status == "pending" and subscription.previous_subscription_id is None
    )


def plan_change(session: Session, current: Subscription, plan: Plan) -> str:
    """What moving `current` to `plan` is: "upgrade" (applies now: the current
    subscription ends and the new one starts), "downgrade" (applies at the end of the
    current period), "replace" (a subscription that has not started takes the plan) or
    "same" (nothing to change). Plans compare by their yearly amount, a tie upgrades."""
    if current.status == "pending":
        return "replace"
    if _base_plan_id(session, current) == plan.id:
        return "same"
    current_plan = session.get(Plan, current.plan_id)
    assert current_plan is not None
    return "upgrade" if _yearly_amount(plan) >= _yearly_amount(current_plan) else "downgrade"


def create_subscription(
    session: Session, organization_id: uuid.UUID, data: SubscriptionInput, now: datetime
) -> Subscription:
    assert data.plan_code and data.external_customer_id and data.external_id
    plan = find_plan(session, organization_id, data.plan_code)
    customer = session.scalar(
        select(Customer).where(
            Customer.organization_id == organization_id,
            Customer.external_id == data.external_customer_id,
            Customer.deleted_at.is_(None),
        )
    ) or _customer(session, organization_id, data.external_customer_id, now)
    columns = dict(data.columns)
    subscription_at = columns.pop("subscription_at", None) or now
    _check_dates(subscription_at, columns.get("ending_at"), now)
    _check_termination_options(plan, columns)

    current = session.scalar(
        select(Subscription).where(
            Subscription.organization_id == organization_id,
            Subscription.external_id == data.external_id,
            Subscription.status == "active",
        )
    )
    if current is not None and current.customer_id != customer.id:
        raise ValidationFailed.single("external_id", "value_already_exist")
    if current is not None and _base_plan_id(session, current) == plan.id:
        return current
    if data.plan_overrides is not None:
        # The subscription gets its own copy of the plan, priced as asked.
        plan = override_plan(session, plan, data.plan_overrides, now)
    assign_currency(session, customer, plan.amount_currency)
    if current is not None:
        if plan_change(session, current, plan) == "upgrade":
            return _upgrade(session, current, plan, columns, now)
        return _downgrade(session, current, plan, columns, now)

    pending = session.scalar(
        select(Subscription).where(
            Subscription.organization_id == organization_id,
            Subscription.external_id == data.external_id,
            Subscription.customer_id == customer.id,
            Subscription.status == "pending",
            Subscription.previous_subscription_id.is_(None),
        )
    )
    if pending is not None:
        # A subscription that has not started yet just changes plan.
        pending.plan_id = plan.id
        pending.updated_at = now
        session.flush()
        return pending

    timezone = timezone_of(session, customer)
    starts_later = local_date(subscription_at, timezone) > local_date(now, timezone)
    started_at = _started_at(session, customer.id, data.external_id, subscription_at)
    subscription = Subscription(
        id=uuid.uuid4(),
        organization_id=organization_id,
        customer_id=customer.id,
        plan_id=plan.id,
        external_id=data.external_id,
        status="pending" if starts_later else "active",
        subscription_at=subscription_at,
        started_at=None if starts_later else started_at,
        created_at=now,
        updated_at=now,
        **{"billing_time": "calendar", "on_termination_invoice": "generate", **columns},
    )
    session.add(subscription)
    flush_unique(session, "external_id")
    if subscription.status == "active":
        emit(session, "subscription.started", subscription, now)
    if subscription.status == "active" and local_date(subscription_at, timezone) == local_date(
        now, timezone
    ):
        # Starting today: a plan paid in advance bills its first period now. A back-dated
        # start bills nothing now: the next billing day bills from it (Lago's
        # handle_past_subscription).
        bill_started(session, subscription, now)
    return subscription


def _started_at(
    session: Session, customer_id: uuid.UUID, external_id: str, subscription_at: datetime
) -> datetime:
    """A back-dated start, but not before the last termination of the same external id
    that was invoiced: that invoice closed its window (Lago's CreateService
    #started_at_for; one that skipped its invoice closed nothing)."""
    closed = session.scalar(
        select(func.max(Subscription.terminated_at)).where(
            Subscription.customer_id == customer_id,
            Subscription.external_id == external_id,
            Subscription.status == "terminated",
            Subscription.on_termination_invoice == "generate",
        )
    )
    return subscription_at if closed is None else max(subscription_at, closed)


def _base_plan_id(session: Session, subscription: Subscription) -> uuid.UUID:
    """The catalog plan behind a subscription, through its overridden copy if any."""
    plan = session.get(Plan, subscription.plan_id)
    assert plan is not None
    return plan.parent_id or plan.id


def _check_dates(subscription_at: datetime, ending_at: datetime | None, now: datetime) -> None:
    if ending_at is not None and (ending_at <= now or ending_at <= subscription_at):
        raise ValidationFailed.single("ending_at", "invalid_date")


def _check_termination_options(plan: Plan, columns: dict[str, object]) -> None:
    # A credit note for unused days only exists when the fee was paid in advance.
    if columns.get("on_termination_credit_note") is not None and not plan.pay_in_advance:
        raise ValidationFailed.single("on_termination_credit_note", "invalid_value")


def _upgrade(
    session: Session, current: Subscription, plan: Plan, columns: dict[str, object], now: datetime
) -> Subscription:
    """Immediate: the current subscription ends now and the new one starts now."""
    cancel_next(session, current, now)
    current.status = "terminated"
    current.terminated_at = now
    current.updated_at = now
    session.flush()
    emit(session, "subscription.terminated", current, now)
    upgraded = Subscription(
        id=uuid.uuid4(),
        organization_id=current.organization_id,
        customer_id=current.customer_id,
        plan_id=plan.id,
        previous_subscription_id=current.id,
        external_id=current.external_id,
        name=columns.get("name", current.name),
        status="active",
        billing_time=current.billing_time,
        subscription_at=current.subscription_at,
        started_at=now,
        ending_at=columns.get("ending_at", current.ending_at),
        on_termination_credit_note=columns.get("on_termination_credit_note"),
        on_termination_invoice=columns.get("on_termination_invoice", "generate"),
        created_at=now,
        updated_at=now,
    )
    session.add(upgraded)
    flush_unique(session, "external_id")
    emit(session, "subscription.started", upgraded, now)
    bill_upgrade(session, current, upgraded, now)
    return upgraded


def _downgrade(
    session: Session, current: Subscription, plan: Plan, columns: dict[str, object], now: datetime
) -> Subscription:
    """Deferred: a pending subscription takes over at the end of the current period."""
    pending = session.scalar(
        select(Subscription).where(
            Subscription.previous_subscription_id == current.id,
            Subscription.status == "pending",
        )
    )
    if pending is None:
        pending = Subscription(
            id=uuid.uuid4(),
            organization_id=current.organization_id,
            customer_id=current.customer_id,
            previous_subscription_id=current.id,
            external_id=current.external_id,
            status="pending",
            billing_time=current.billing_time,
            subscription_at=current.subscription_at,
            on_termination_invoice="generate",
            created_at=now,
            plan_id=plan.id,
            updated_at=now,
        )
        session.add(pending)
    pending.plan_id = plan.id
    pending.name = columns.get("name", current.name)  # type: ignore[assignment]
    pending.updated_at = now
    session.flush()
    # The current subscription now shows its next plan and the downgrade date (Lago's
    # PlanDowngradeService); the pending one is not announced until it starts.
    emit(session, "subscription.updated", current, now)
    return current


def update_subscription(
    session: Session,
    organization_id: uuid.UUID,
    external_id: str,
    status: str,
    data: SubscriptionInput,
    now: datetime,
) -> Subscription:
    subscription = find_subscription(session, organization_id, external_id, status)
    columns = dict(data.columns)
    # Lago tells of every edit, changed or not, except a pending subscription's move of
    # its start: that one stays pending (meterbill starts it at the next tick, which
    # sends subscription.started) — Lago's UpdateService#process_subscription_at_change.
    announce = not (subscription.status == "pending" and "subscription_at" in columns)
    if "subscription_at" in columns and subscription.status != "pending":
        # Only a subscription that has not started can move its start.
        columns.pop("subscription_at")
    columns.pop("billing_time", None)
    plan = session.get(Plan, subscription.plan_id)
    assert plan is not None
    _check_dates(
        columns.get("subscription_at") or subscription.subscription_at,  # type: ignore[arg-type]
        columns.get("ending_at", subscription.ending_at),  # type: ignore[arg-type]
        now,
    )
    _check_termination_options(plan, columns)
    for key, value in columns.items():
        setattr(subscription, key, value)
    if data.plan_overrides is not None:
        if plan.parent_id is not None:
            parent = session.get(Plan, plan.parent_id)
            assert parent is not None
            override_plan(session, parent, data.plan_overrides, now, child=plan)
        else:
            subscription.plan_id = override_plan(session, plan, data.plan_overrides, now).id
    subscription.updated_at = now
    session.flush()
    if announce:
        emit(session, "subscription.updated", subscription, now)
    return subscription


def terminate_subscription(
    session: Session,
    organization_id: uuid.UUID,
    external_id: str,
    status: str,
    now: datetime,
    *,
    on_termination_credit_note: str | None = None,
    on_termination_invoice: str | None = None,
) -> Subscription:
    """DELETE: an active subscription is terminated now; a pending one is canceled.

    The termination options sent with the DELETE are kept on the subscription."""
    if status not in ("active", "pending"):
        raise NotFound("subscription")
    if on_termination_credit_note not in (None, *TERMINATION_CREDIT_NOTES):
        raise ValidationFailed.single("on_termination_credit_note", "invalid_value")
    if on_termination_invoice not in (None, *TERMINATION_INVOICES):
        raise ValidationFailed.single("on_termination_invoice", "invalid_value")
    # Locked: the same DELETE sent to two processes at once terminates (and bills) once;
    # the second finds no subscription of that status left (404, as a later DELETE).
    subscription = find_subscription(session, organization_id, external_id, status, lock=True)
    if subscription.status == "active":
        # A pending one is only canceled: it keeps no option (Lago's TerminateService).
        plan = session.get(Plan, subscription.plan_id)
        assert plan is not None
        if plan.pay_in_advance:
            # Only a plan paid in advance has unused days to give back; by default, credit.
            subscription.on_termination_credit_note = (
                on_termination_credit_note or subscription.on_termination_credit_note or "credit"
            )
        if on_termination_invoice is not None:
            subscription.on_termination_invoice = on_termination_invoice
    terminate(session, subscription, now)
    session.flush()
    return subscription


@dataclass(frozen=True)
class SubscriptionFilters:
    external_customer_id: str | None
    plan_code: str | None
    statuses: Sequence[str]


def list_subscriptions(
    session: Session, organization_id: uuid.UUID, filters: SubscriptionFilters, page: PageRequest
) -> Page[Subscription]:
    query = select(Subscription).where(
        Subscription.organization_id == organization_id,
        Subscription.status.in_(filters.statuses or ["active"]),
    )
    if filters.external_customer_id is not None:
        query = query.where(
            Subscription.customer_id.in_(live_id(organization_id, filters.external_customer_id))
        )
    if filters.plan_code is not None:
        query = query.join(Plan, Plan.id == Subscription.plan_id).where(
            Plan.code == filters.plan_code
        )
    query = query.order_by(Subscription.created_at.desc(), Subscription.id)
    return paginate(session, query, page)


def current_period(
    session: Session, subscription: Subscription, plan: Plan, now: datetime
) -> tuple[datetime, datetime] | None:
    """The UTC bounds of the billing period running now, for an active subscription."""
    if subscription.status != "active" or subscription.started_at is None:
        return None
    customer = session.get(Customer, subscription.customer_id)
    assert customer is not None
    timezone = timezone_of(session, customer)
    start, end = utc_bounds(billing_period(subscription, plan, timezone, now), timezone)
    return max(start, subscription.started_at), end


def subscription_views(
    session: Session, subscriptions: Sequence[Subscription], now: datetime
) -> dict[uuid.UUID, SubscriptionView]:
    views = {}
    # Read together what each view needs (a billing run renders hundreds of them): the
    # customers land in the identity map, where session.get finds them.
    session.scalars(
        select(Customer).where(Customer.id.in_({item.customer_id for item in subscriptions}))
    ).all()
    followers: dict[uuid.UUID, Subscription] = {}
    for follower in session.scalars(
        select(Subscription).where(
            Subscription.previous_subscription_id.in_([item.id for item in subscriptions]),
            Subscription.status == "pending",
        )
    ):
        followers.setdefault(follower.previous_subscription_id, follower)  # type: ignore[arg-type]
    for subscription in subscriptions:
        plan = session.get(Plan, subscription.plan_id)
        customer = session.get(Customer, subscription.customer_id)
        assert plan is not None and customer is not None
        previous = (
            session.get(Subscription, subscription.previous_subscription_id)
            if subscription.previous_subscription_id
            else None
        )
        previous_plan = session.get(Plan, previous.plan_id) if previous else None
        following = followers.get(subscription.id)
        next_plan = session.get(Plan, following.plan_id) if following else None
        downgrade_date = None
        if following is not None and subscription.status == "active":
            timezone = timezone_of(session, customer)
            running = billing_period(subscription, plan, timezone, now)
            downgrade_date = (running.end + timedelta(days=1)).isoformat()
        organization = get_organization(session, subscription.organization_id)
        views[subscription.id] = SubscriptionView(
            external_customer_id=customer.external_id,
            plan=plan,
            previous_plan_code=previous_plan.code if previous_plan else None,
            next_plan_code=next_plan.code if next_plan else None,
            downgrade_plan_date=downgrade_date,
            current_period=current_period(session, subscription, plan, now),
            billing_entity_code=organization.billing_entity_code,
        )
    return views


@dataclass(frozen=True)
class SubscriptionRow:
    """One line of the dashboard's Subscriptions list: the subscription with the labels
    of its customer and plan, read in the same query."""

    subscription: Subscription
    customer_id: uuid.UUID
    customer_name: str
    customer_external_id: str
    plan_name: str
    plan_code: str


def subscription_rows(
    session: Session,
    organization_id: uuid.UUID,
    statuses: Sequence[str],
    search: str | None,
    page: PageRequest,
) -> Page[SubscriptionRow]:
    """Subscriptions of any status in `statuses` (all when empty), newest first, whose
    customer (name, external id, e-mail), plan (name, code) or own external id contains
    `search`; one query for the page and its labels, one for the count."""
    query = (
        select(Subscription, Customer, Plan)
        .join(Customer, Customer.id == Subscription.customer_id)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.organization_id == organization_id)
    )
    if statuses:
        query = query.where(Subscription.status.in_(statuses))
    if search:
        query = query.where(
            or_(
                *(
                    contains_ignoring_case(column, search)
                    for column in (
                        Customer.search_text,
                        Plan.name,
                        Plan.code,
                        Subscription.external_id,
                    )
                )
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Subscription.created_at.desc(), Subscription.id)
        .limit(page.per_page)
        .offset((page.page - 1) * page.per_page)
    ).all()
    return Page(
        items=[
            SubscriptionRow(
                subscription=subscription,
                customer_id=customer.id,
                customer_name=customer.name
                or " ".join(filter(None, (customer.firstname, customer.lastname)))
                or customer.external_id,
                customer_external_id=customer.external_id,
                plan_name=plan.name,
                plan_code=plan.code,
            )
            for subscription, customer, plan in rows
        ],
        meta=build_meta(page.page, page.per_page, total),
    )


def find_subscription_by_id(
    session: Session, organization_id: uuid.UUID, subscription_id: str
) -> Subscription:
    """A subscription of any status by its lago_id (the dashboard's URLs)."""
    try:
        key = uuid.UUID(subscription_id)
    except ValueError:
        raise NotFound("subscription") from None
    subscription = session.scalar(
        select(Subscription).where(
            Subscription.organization_id == organization_id, Subscription.id == key
        )
    )
    if subscription is None:
        raise NotFound("subscription")
    return subscription
