"""wallet.depleted_ongoing_balance: told once when a wallet's ongoing balance (its balance
less the usage to come) falls to zero or below, and again only after it was seen positive.

meterbill computes ongoing balances when they are read, so something must look: the clock
checks the active wallets of the organizations that receive this webhook (and no other's:
the check costs a current-usage computation per customer), and the services check a
wallet right after they move its balance, as Lago refreshes a wallet after each increase
or decrease. The edge is the wallet's `depleted_ongoing_balance` flag, as in Lago
(wallets/balance/refresh_ongoing_usage_service.rb): it starts false, so a wallet whose
first check finds nothing left is reported once too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.isolation import Failure, isolated
from meterbill.core.rehearsal import for_update, rehearsing
from meterbill.customers.models import Customer
from meterbill.invoices.scope import Scope, within
from meterbill.wallets.balances import ongoing_usage
from meterbill.wallets.models import Wallet
from meterbill.webhooks.outbox import emit, subscribed, subscribed_organizations

DEPLETED = "wallet.depleted_ongoing_balance"


def _flag(session: Session, wallet: Wallet, ongoing_cents: int, now: datetime) -> bool:
    """Move the edge; True when the wallet has just become depleted (and was reported)."""
    depleted = ongoing_cents <= 0
    if depleted == wallet.depleted_ongoing_balance:
        return False
    wallet.depleted_ongoing_balance = depleted
    if depleted:
        emit(session, DEPLETED, wallet, now)
    return depleted


def check_wallets(session: Session, wallets: Sequence[Wallet], now: datetime) -> int:
    """Check the active ones of these wallets (one customer's, locked by the caller);
    nothing is computed unless the organization receives the webhook. The number reported."""
    if rehearsing(session):
        return 0
    active = [wallet for wallet in wallets if wallet.status == "active"]
    if not active or not subscribed(session, active[0].organization_id, DEPLETED):
        return 0
    customer = session.get(Customer, active[0].customer_id)
    assert customer is not None
    # The usage is shared among all the customer's wallets, as invoices would share it.
    everyone = list(session.scalars(select(Wallet).where(Wallet.customer_id == customer.id)))
    usage = ongoing_usage(session, customer, everyone, now)
    return sum(_flag(session, wallet, wallet.balance_cents - usage[wallet.id], now)
               for wallet in active)  # fmt: skip


def check_depleted_wallets(
    session: Session, now: datetime, failures: list[Failure], scope: Scope | None = None
) -> int:
    """The clock's check: each customer's active wallets in a savepoint of their own,
    locked (skipped when another worker holds one) only while they are checked."""
    if rehearsing(session):
        return 0  # a preview bills; it tells no one
    organizations = [
        organization_id
        for organization_id in subscribed_organizations(session, DEPLETED)
        if scope is None or organization_id == scope.organization_id
    ]
    if not organizations:
        return 0
    customers = session.execute(
        select(Wallet.customer_id)
        .where(
            Wallet.organization_id.in_(organizations),
            within(scope, Wallet.customer_id),
            Wallet.status == "active",
        )
        .group_by(Wallet.organization_id, Wallet.customer_id)
        .order_by(Wallet.organization_id, Wallet.customer_id)
    ).scalars()
    reported = 0
    for customer_id in list(customers):
        with isolated(session, failures, "check_depleted_wallets", customer=customer_id):
            reported += check_wallets(session, _lock_active(session, customer_id), now)
    return reported


def _lock_active(session: Session, customer_id: uuid.UUID) -> list[Wallet]:
    query = (
        select(Wallet)
        .where(Wallet.customer_id == customer_id, Wallet.status == "active")
        .order_by(Wallet.created_at, Wallet.id)
    )
    return list(
        session.scalars(
            for_update(session, query, skip_locked=True).execution_options(populate_existing=True)
        )
    )
