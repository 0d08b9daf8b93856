"""Helpers for customer deletion scenarios: the deletion itself and what it left."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from meterbill.coupons.models import AppliedCoupon
from meterbill.customers.deletion import delete_customer
from meterbill.customers.models import Customer
from meterbill.invoices.service import update_invoice
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.scenarios.wallets import Wallets


class Deletion(Wallets):
    def delete(self, customer: str, at: datetime) -> None:
        with self.database.transaction() as session:
            delete_customer(session, self.org.id, customer, at)

    def schedule(self, customer: str, plan: str, external_id: str, starts: datetime,
                 now: datetime) -> None:  # fmt: skip
        """A subscription that starts later: pending until then."""
        body = {"external_customer_id": customer, "plan_code": plan, "external_id": external_id,
                "subscription_at": starts.isoformat()}  # fmt: skip
        with self.database.transaction() as session:
            create_subscription(session, self.org.id, parse_subscription(body, creating=True), now)

    def pay(self, invoice_id: Any, at: datetime) -> None:
        with self.database.transaction() as session:
            update_invoice(session, self.org.id, str(invoice_id), "succeeded", None, at)

    def subscriptions(self, customer_id: Any) -> dict[str, tuple[str, datetime | None]]:
        """external_id -> (status, terminated_at or canceled_at)."""
        with self.database.transaction(write=False) as session:
            return {
                row.external_id: (row.status, row.terminated_at or row.canceled_at)
                for row in session.scalars(
                    select(Subscription).where(Subscription.customer_id == customer_id)
                )
            }

    def applied_coupons(self, customer_id: Any) -> list[tuple[str, int | None]]:
        with self.database.transaction(write=False) as session:
            return [
                (row.status, row.frequency_duration_remaining)
                for row in session.scalars(
                    select(AppliedCoupon).where(AppliedCoupon.customer_id == customer_id)
                )
            ]

    def customer_row(self, external_id: str) -> Customer:
        """The org's customer with this external id, the deleted one if no live one."""
        with self.database.transaction(write=False) as session:
            rows = list(
                session.scalars(
                    select(Customer)
                    .where(Customer.organization_id == self.org.id,
                           Customer.external_id == external_id)
                    .order_by(Customer.created_at.desc(), Customer.sequential_id.desc())
                )
            )  # fmt: skip
            session.expunge_all()
            return rows[0]
