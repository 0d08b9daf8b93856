"""Deleting a customer, with the cascade of the customer management guide.

All of it happens in the caller's one transaction: every subscription terminated
(with the termination invoice and credit note any termination makes), pending ones
canceled, every draft invoice finalized at once (Lago waits five minutes), applied
coupons terminated, wallets terminated with their remaining credits voided. Finalized
documents stay; the external id is free for a new customer once this commits.

The order is the guide's and Lago's: terminations first (a credit note for a plan paid
in advance on a draft waits for that draft), then every draft finalized, oldest first,
as the clock would have at the end of its grace period; coupons and wallets end last,
so they count on every invoice the deletion completes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from meterbill.core.money import from_cents
from meterbill.core.periods import local_date
from meterbill.coupons.models import AppliedCoupon
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.customers.service import find_customer
from meterbill.invoices import lifecycle
from meterbill.invoices.models import Invoice
from meterbill.organizations.models import Organization
from meterbill.subscriptions.lifecycle import terminate
from meterbill.subscriptions.models import Subscription
from meterbill.wallets.models import Wallet
from meterbill.wallets.service import terminate_customer_wallets


def delete_customer(
    session: Session, organization_id: uuid.UUID, external_id: str, now: datetime
) -> Customer:
    customer = find_customer(session, organization_id, external_id)
    _end_subscriptions(session, customer, now)
    _finalize_drafts(session, customer, now)
    session.execute(
        update(AppliedCoupon)
        .where(AppliedCoupon.customer_id == customer.id, AppliedCoupon.status == "active")
        .values(status="terminated", terminated_at=now, updated_at=now)
    )
    terminate_customer_wallets(session, customer, now)
    # Last: until here every step sees a live customer, as it would outside a deletion.
    customer.deleted_at = now
    customer.updated_at = now
    session.flush()
    return customer


def _end_subscriptions(session: Session, customer: Customer, now: datetime) -> None:
    # Active ones first: terminating one cancels the downgrade waiting on it.
    for status in ("active", "pending"):
        for subscription in session.scalars(
            select(Subscription)
            .where(Subscription.customer_id == customer.id, Subscription.status == status)
            .order_by(Subscription.created_at, Subscription.id)
        ):
            terminate(session, subscription, now)
        session.flush()


def _finalize_drafts(session: Session, customer: Customer, now: datetime) -> None:
    organization = session.get(Organization, customer.organization_id)
    assert organization is not None
    today = local_date(now, applicable_timezone(customer, organization))
    drafts = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer.id, Invoice.status == "draft")
        .order_by(Invoice.created_at, Invoice.id)
        .with_for_update()
    ).all()
    for invoice in drafts:
        lifecycle.finalize(session, invoice, now, today=today)


@dataclass(frozen=True)
class WalletLoss:
    name: str | None
    currency: str
    balance_cents: int
    credits: Decimal


@dataclass(frozen=True)
class DeletionEffects:
    """What deleting the customer now would do, read from its current state, for the
    dashboard's confirmation (the same steps as delete_customer, counted)."""

    subscriptions_terminated: int
    subscriptions_canceled: int
    coupons_terminated: int
    wallets: list[WalletLoss]
    drafts_finalized: int


def deletion_effects(session: Session, customer: Customer) -> DeletionEffects:
    def count(query: Any) -> int:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0

    by_status = dict(
        session.execute(
            select(Subscription.status, func.count())
            .where(
                Subscription.customer_id == customer.id,
                Subscription.status.in_(("active", "pending")),
            )
            .group_by(Subscription.status)
        ).all()
    )
    wallets = [
        WalletLoss(
            wallet.name,
            wallet.currency,
            wallet.balance_cents,
            from_cents(wallet.balance_cents, wallet.currency) / wallet.rate_amount,
        )
        for wallet in session.scalars(
            select(Wallet)
            .where(Wallet.customer_id == customer.id, Wallet.status == "active")
            .order_by(Wallet.created_at)
        )
    ]
    return DeletionEffects(
        subscriptions_terminated=by_status.get("active", 0),
        subscriptions_canceled=by_status.get("pending", 0),
        coupons_terminated=count(
            select(AppliedCoupon.id).where(
                AppliedCoupon.customer_id == customer.id, AppliedCoupon.status == "active"
            )
        ),
        wallets=wallets,
        drafts_finalized=count(
            select(Invoice.id).where(Invoice.customer_id == customer.id, Invoice.status == "draft")
        ),
    )
