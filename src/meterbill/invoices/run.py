"""The state one clock batch shares while it bills: who was billed, which numbers are taken.

A batch writes its invoices in one flush at the end instead of one per invoice (the
database round trips were most of a billing run's time). Reads that must see an
earlier invoice of the same batch ask for a flush first, through `needs_flush`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.db import flush_in_table_order
from meterbill.core.rehearsal import rehearsing
from meterbill.customers.models import Customer
from meterbill.organizations.models import Organization

RUN_KEY = "meterbill.billing_run"


@dataclass
class BillingRun:
    # Customers of the batch by organization: their rows are locked together, after
    # the organization's, the first time one of them is numbered.
    customers_by_organization: dict[uuid.UUID, set[uuid.UUID]]
    # Last sequence taken, per locked organization and per locked customer.
    organization_sequences: dict[uuid.UUID, int] = field(default_factory=dict)
    customer_sequences: dict[uuid.UUID, int] = field(default_factory=dict)
    # Customers with an invoice among the writes not yet flushed.
    pending: set[uuid.UUID] = field(default_factory=set)


def current_run(session: Session) -> BillingRun | None:
    run: BillingRun | None = session.info.get(RUN_KEY)
    return run


def deferring(session: Session) -> bool:
    return current_run(session) is not None


def flush_unless_deferred(session: Session) -> None:
    if not deferring(session):
        session.flush()


def prepare_for(session: Session, customer_id: uuid.UUID) -> None:
    """Before billing `customer_id` in a deferred batch: its earlier invoice of the batch
    (boundaries, coupon uses, credits) must be in the database before it is read."""
    run = current_run(session)
    if run is None:
        return
    if customer_id in run.pending:
        flush_in_table_order(session)
        run.pending.clear()
    run.pending.add(customer_id)


def lock_rows(
    session: Session, model: type[Organization] | type[Customer], *ids: uuid.UUID
) -> None:
    """FOR NO KEY UPDATE (key_share): rows that reference these (invoices, fees) take KEY
    SHARE locks on them, which a plain FOR UPDATE would wait for. A rehearsal, which
    numbers nothing, takes none (core/rehearsal.py)."""
    if rehearsing(session):
        return
    session.execute(
        select(model.id).where(model.id.in_(ids)).order_by(model.id).with_for_update(key_share=True)
    )


def lock_for_numbering(
    session: Session, organization_id: uuid.UUID, customer_id: uuid.UUID
) -> None:
    """The locks invoice numbering takes, organization then customer. Whoever locks other
    rows (wallets) while it may number an invoice takes these first, so that no two
    workers wait for each other. A billing run that already numbered in this
    organization holds them."""
    run = current_run(session)
    if run is not None and customer_id in run.customer_sequences:
        return
    lock_rows(session, Organization, organization_id)
    lock_rows(session, Customer, customer_id)
