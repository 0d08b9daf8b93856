"""Ongoing balances (billing.md §9.1): the settled balance less the usage that will be
invoiced, i.e. the current usage of the customer's active subscriptions and the totals
of its draft invoices, shared between its wallets as invoices would share them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.money import round_half_up
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices.models import Fee, Invoice
from meterbill.organizations.models import Organization
from meterbill.plans.models import Charge, Plan
from meterbill.subscriptions.models import Subscription
from meterbill.usage.periods import charges_period
from meterbill.usage.service import TARGET_WALLET_KEY, ChargeUsage, usage_in_period
from meterbill.wallets.allocation import Item, allocate, buckets_of
from meterbill.wallets.consumption import fee_cap_cents, fee_target, payers, targeting_charges
from meterbill.wallets.models import Wallet

PERCENT = Decimal(100)


def _by_target(usage: ChargeUsage) -> dict[str | None, int]:
    """A charge's amount per target wallet code (all under None when it targets none)."""
    if not usage.charge.accepts_target_wallet:
        return {None: usage.amount_cents}
    index = usage.group_keys.index(TARGET_WALLET_KEY)
    amounts: dict[str | None, int] = {}
    for bucket in usage.buckets:
        amounts[bucket.group[index]] = amounts.get(bucket.group[index], 0) + bucket.amount_cents
    return amounts


def _current_usage(
    session: Session, customer: Customer, currency: str, now: datetime
) -> Iterator[Item]:
    """Not-yet-invoiced charges of the active subscriptions, taxes included.

    Pay-in-advance charges are billed as their events arrive: none of their usage waits.
    """
    organization = session.get(Organization, customer.organization_id)
    assert organization is not None
    timezone = applicable_timezone(customer, organization)
    for subscription, plan in session.execute(
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.customer_id == customer.id, Subscription.status == "active")
        .order_by(Subscription.created_at)
    ).all():
        if plan.amount_currency != currency:
            continue
        period = charges_period(subscription, plan, timezone, now)
        usage = usage_in_period(
            session, customer, subscription, plan, period, timezone,
            charge_filter=lambda charge: not charge.pay_in_advance,
        )  # fmt: skip
        for charge in usage.charges:
            for target, cents in _by_target(charge).items():
                taxes = round_half_up(Decimal(cents) * charge.tax_rate / PERCENT)
                yield "charge", charge.metric.id, cents + int(taxes), target


def _draft_invoices(session: Session, customer: Customer, currency: str) -> Iterator[Item]:
    rows = session.execute(
        select(Fee, Charge.billable_metric_id)
        .join(Invoice, Invoice.id == Fee.invoice_id)
        .outerjoin(Charge, Charge.id == Fee.charge_id)
        .where(
            Invoice.customer_id == customer.id,
            Invoice.status == "draft",
            Invoice.currency == currency,
        )
    ).all()
    targeting = targeting_charges(session, [fee for fee, _metric_id in rows])
    for fee, metric_id in rows:
        yield fee.fee_type, metric_id, fee_cap_cents(fee), fee_target(fee, targeting)


def ongoing_usage(
    session: Session, customer: Customer, wallets: Sequence[Wallet], now: datetime
) -> dict[uuid.UUID, int]:
    """Each active wallet's share of the usage to come, in minor units (others get 0)."""
    shares: dict[uuid.UUID, int] = {wallet.id: 0 for wallet in wallets}
    active = sorted(
        (wallet for wallet in wallets if wallet.status == "active"),
        key=lambda wallet: (wallet.priority, wallet.created_at, str(wallet.id)),
    )
    for currency in {wallet.currency for wallet in active}:
        same = [wallet for wallet in active if wallet.currency == currency]
        items = [
            *_current_usage(session, customer, currency, now),
            *_draft_invoices(session, customer, currency),
        ]
        paid = allocate(buckets_of(items), payers(session, same), overflow=True)
        for wallet in same:
            shares[wallet.id] = paid[wallet.id]
    return shares


def ongoing_balance_cents(session: Session, wallet: Wallet, now: datetime) -> int:
    """The wallet's settled balance less its share of the usage to come, in minor units."""
    customer = session.get(Customer, wallet.customer_id)
    assert customer is not None
    wallets = list(session.scalars(select(Wallet).where(Wallet.customer_id == customer.id)))
    return wallet.balance_cents - ongoing_usage(session, customer, wallets, now)[wallet.id]
