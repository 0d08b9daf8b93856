"""What the dashboard shows about customers, each list read in one query (no query
per row): active subscription counts for a page of customers, and a customer's
subscriptions, applied coupons and wallets with their plan, coupon and balances."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterbill.core.money import from_cents
from meterbill.coupons.models import AppliedCoupon, Coupon
from meterbill.customers.models import Customer
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription
from meterbill.wallets.models import Wallet


def active_subscription_counts(
    session: Session, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Subscription.customer_id, func.count())
        .where(Subscription.customer_id.in_(customer_ids), Subscription.status == "active")
        .group_by(Subscription.customer_id)
    ).all()
    return {customer_id: count for customer_id, count in rows}


@dataclass(frozen=True)
class SubscriptionRow:
    external_id: str
    name: str
    plan_code: str
    interval: str
    status: str
    started_at: datetime | None
    ending_at: datetime | None


@dataclass(frozen=True)
class CouponRow:
    name: str
    code: str
    status: str
    coupon_type: str
    amount_cents: int | None
    amount_currency: str | None
    percentage_rate: Decimal | None
    frequency: str
    frequency_duration_remaining: int | None


@dataclass(frozen=True)
class WalletRow:
    lago_id: uuid.UUID
    name: str | None
    code: str
    status: str
    currency: str
    rate_amount: Decimal
    balance_cents: int
    credits_balance: Decimal
    expiration_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class CustomerOverview:
    subscriptions: list[SubscriptionRow]
    coupons: list[CouponRow]
    wallets: list[WalletRow]


def customer_overview(session: Session, customer: Customer) -> CustomerOverview:
    subscriptions = [
        SubscriptionRow(
            subscription.external_id,
            subscription.name or plan.name,
            plan.code,
            plan.interval,
            subscription.status,
            subscription.started_at,
            subscription.terminated_at or subscription.ending_at,
        )
        for subscription, plan in session.execute(
            select(Subscription, Plan)
            .join(Plan, Plan.id == Subscription.plan_id)
            .where(Subscription.customer_id == customer.id)
            .order_by(Subscription.created_at.desc(), Subscription.id)
        ).all()
    ]
    coupons = [
        CouponRow(
            coupon.name,
            coupon.code,
            applied.status,
            coupon.coupon_type,
            applied.amount_cents,
            applied.amount_currency,
            applied.percentage_rate,
            applied.frequency,
            applied.frequency_duration_remaining,
        )
        for applied, coupon in session.execute(
            select(AppliedCoupon, Coupon)
            .join(Coupon, Coupon.id == AppliedCoupon.coupon_id)
            .where(AppliedCoupon.customer_id == customer.id)
            .order_by(AppliedCoupon.created_at.desc(), AppliedCoupon.id)
        ).all()
    ]
    wallets = [
        WalletRow(
            wallet.id,
            wallet.name,
            wallet.code,
            wallet.status,
            wallet.currency,
            wallet.rate_amount,
            wallet.balance_cents,
            from_cents(wallet.balance_cents, wallet.currency) / wallet.rate_amount,
            wallet.expiration_at,
            wallet.created_at,
        )
        for wallet in session.scalars(
            select(Wallet)
            .where(Wallet.customer_id == customer.id)
            .order_by(Wallet.created_at.desc(), Wallet.id)
        )
    ]
    return CustomerOverview(subscriptions, coupons, wallets)


@dataclass(frozen=True)
class CustomerLabel:
    id: uuid.UUID
    name: str
    external_id: str
    deleted: bool


def display_name(customer: Customer) -> str:
    """Lago's display name: the name, else first and last name, else empty."""
    full = " ".join(part for part in (customer.firstname, customer.lastname) if part)
    return customer.name or full


def customer_labels(
    session: Session, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CustomerLabel]:
    """Who documents belong to, deleted customers included (their documents outlive
    them), for a whole page in one query."""
    if not customer_ids:
        return {}
    return {
        customer.id: CustomerLabel(
            customer.id,
            display_name(customer),
            customer.external_id,
            customer.deleted_at is not None,
        )
        for customer in session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
    }
