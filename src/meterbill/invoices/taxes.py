"""Which taxes apply to a fee: the first non-empty set wins, sets are never merged (§11)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.add_ons.models import AddOnTax
from meterbill.customers.models import Customer
from meterbill.plans.models import ChargeTax, CommitmentTax, PlanTax
from meterbill.taxes.models import CustomerTax, Tax

CACHE_KEY = "meterbill.tax_sets"


def prefetch_customer_taxes(session: Session, customer_ids: Iterable[uuid.UUID]) -> None:
    """Read the tax sets of many customers at once into the transaction's cache."""
    ids = set(customer_ids)
    if not ids:
        return
    cache: dict[tuple[str, uuid.UUID], list[Tax]] = session.info.setdefault(CACHE_KEY, {})
    found: dict[uuid.UUID, list[Tax]] = {customer_id: [] for customer_id in ids}
    for customer_id, tax in session.execute(
        select(CustomerTax.customer_id, Tax)
        .join(Tax, Tax.id == CustomerTax.tax_id)
        .where(CustomerTax.customer_id.in_(ids), Tax.deleted_at.is_(None))
        .order_by(Tax.code)
    ):
        found[customer_id].append(tax)
    for customer_id, taxes in found.items():
        cache[(CustomerTax.__name__, customer_id)] = taxes


class TaxResolver:
    """Tax sets of one customer's invoice, each owner's set read once per transaction.

    The cache lives in `session.info`, so a billing run's many invoices share the
    catalog's sets, and nothing outlives the transaction that read it.
    """

    def __init__(self, session: Session, customer: Customer) -> None:
        self.session = session
        self.customer = customer
        self._cache: dict[tuple[str, uuid.UUID], list[Tax]] = session.info.setdefault(CACHE_KEY, {})

    def _taxes(self, link: type, owner_column: str, owner_id: uuid.UUID) -> list[Tax]:
        key = (link.__name__, owner_id)
        if key not in self._cache:
            self._cache[key] = list(
                self.session.scalars(
                    select(Tax)
                    .join(link, link.tax_id == Tax.id)  # type: ignore[attr-defined]
                    .where(getattr(link, owner_column) == owner_id, Tax.deleted_at.is_(None))
                    .order_by(Tax.code)
                )
            )
        return self._cache[key]

    @cached_property
    def customer_taxes(self) -> list[Tax]:
        return self._taxes(CustomerTax, "customer_id", self.customer.id)

    @cached_property
    def organization_taxes(self) -> list[Tax]:
        key = ("Organization", self.customer.organization_id)
        if key not in self._cache:
            self._cache[key] = list(
                self.session.scalars(
                    select(Tax)
                    .where(
                        Tax.organization_id == self.customer.organization_id,
                        Tax.applied_to_organization.is_(True),
                        Tax.deleted_at.is_(None),
                    )
                    .order_by(Tax.code)
                )
            )
        return self._cache[key]

    def _first(self, *sets: Iterable[Tax]) -> list[Tax]:
        for taxes in (*sets, self.customer_taxes, self.organization_taxes):
            taxes = list(taxes)
            if taxes:
                return taxes
        return []

    def for_charge(self, charge_id: uuid.UUID, plan_id: uuid.UUID) -> list[Tax]:
        return self._first(
            self._taxes(ChargeTax, "charge_id", charge_id), self._taxes(PlanTax, "plan_id", plan_id)
        )

    def for_subscription(self, plan_id: uuid.UUID) -> list[Tax]:
        return self._first(self._taxes(PlanTax, "plan_id", plan_id))

    def for_commitment(self, commitment_id: uuid.UUID, plan_id: uuid.UUID) -> list[Tax]:
        return self._first(
            self._taxes(CommitmentTax, "commitment_id", commitment_id),
            self._taxes(PlanTax, "plan_id", plan_id),
        )

    def for_add_on(self, add_on_id: uuid.UUID, explicit: Sequence[Tax] | None = None) -> list[Tax]:
        if explicit:
            return list(explicit)
        return self._first(self._taxes(AddOnTax, "add_on_id", add_on_id))
