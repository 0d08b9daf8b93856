"""Invoices that could not be generated: recorded as Lago does, and generated again later.

When billing a subscription fails (data no column can hold, a date past year 9999, a
bug), the clock rolls that unit back and records an invoice with status `failed` and
an `error_details` entry (error code `invoice_generation_error`). The failed invoice
holds the entries' unique (subscription, reason, boundary) keys: no later run bills
that moment again, and a retry (the next ticks, or POST /invoices/{id}/retry) completes
this very invoice. A failed invoice has no fees and no number; it is never finalized,
paid, or counted in revenue until a retry generates it.

A draft whose finalization fails stays a draft (the next tick finalizes it again) and
carries the error meanwhile.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.db import Transactions, frozen_catalog
from meterbill.core.isolation import Failure, describe, note
from meterbill.core.periods import local_date
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices import entries
from meterbill.invoices.building import trial_end_of
from meterbill.invoices.lifecycle import Billed, billed_entries, generate, subscription_invoice
from meterbill.invoices.models import ErrorDetail, Invoice, InvoiceSubscription
from meterbill.invoices.scope import Scope, within
from meterbill.organizations.models import Organization
from meterbill.plans.models import Plan
from meterbill.subscriptions.models import Subscription

GENERATION_ERROR = "invoice_generation_error"
BATCH = 200

logger = logging.getLogger("meterbill.clock")


def periodic_key(
    subscription: Subscription, plan: Plan, timezone: str, day: date
) -> entries.EntrySpec:
    """The entry of billing day `day` when its spec could not be computed: the key, with
    the ranges as they are without a trial (what the invoice shows until a retry computes
    them again), or no ranges at all if even those cannot be computed."""
    try:
        return entries.periodic(subscription, plan, timezone, day)
    except Exception:
        return entries.EntrySpec("subscription_periodic", day.isoformat(), day)


def record_failed_invoice(
    session: Session,
    customer: Customer,
    organization: Organization,
    billed: list[Billed],
    error: BaseException,
    now: datetime,
) -> Invoice | None:
    """A failed invoice holding `billed` entries' keys and the error, in a savepoint.

    None when another run holds one of the keys (it billed them), or when even this
    cannot be written (logged: the next tick tries the whole unit again)."""
    try:
        with session.begin_nested():
            invoice, rows = subscription_invoice(session, customer, organization, billed, now)
            invoice.status = "failed"
            session.add(invoice)
            session.add_all(entry for entry, _s, _p in rows)
            session.flush()
            note_error(session, invoice, error, now)
        return invoice
    except IntegrityError:
        return None
    except Exception:
        logger.exception("clock: could not record the failed invoice of customer %s", customer.id)
        return None


def note_error(session: Session, invoice: Invoice, error: BaseException, now: datetime) -> None:
    """The invoice's generation error, replacing the one an earlier attempt left."""
    details = {"error": describe(error)}
    existing = session.scalar(
        select(ErrorDetail).where(
            ErrorDetail.invoice_id == invoice.id, ErrorDetail.error_code == GENERATION_ERROR
        )
    )
    if existing is None:
        session.add(
            ErrorDetail(
                organization_id=invoice.organization_id,
                invoice_id=invoice.id,
                error_code=GENERATION_ERROR,
                details=details,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        existing.details = details
        existing.updated_at = now
    session.flush()
    session.expire(invoice, ["error_details"])


def keep_error(
    session: Session, invoice: Invoice, error: BaseException, now: datetime
) -> None:  # fmt: skip
    """`note_error` in a savepoint of its own: failing to note it is only logged."""
    try:
        with session.begin_nested():
            note_error(session, invoice, error, now)
    except Exception:
        logger.exception("clock: could not record the error of invoice %s", invoice.id)


def clear_errors(session: Session, invoice: Invoice) -> None:
    """The invoice was generated (or finalized) after all: its errors are history."""
    session.execute(delete(ErrorDetail).where(ErrorDetail.invoice_id == invoice.id))
    session.expire(invoice, ["error_details"])


def regenerate(session: Session, invoice: Invoice, now: datetime) -> None:
    """Generate a failed invoice for the entries it holds: a draft for the rest of its
    grace period, else finalized and numbered. Raises when it fails again."""
    customer = session.get(Customer, invoice.customer_id)
    organization = session.get(Organization, invoice.organization_id)
    assert customer is not None and organization is not None
    timezone = applicable_timezone(customer, organization)
    rows = billed_entries(session, invoice)
    for entry, subscription, plan in rows:
        if entry.invoicing_reason == "subscription_periodic":
            _respec(session, entry, subscription, plan, timezone)
    invoice.status = "draft"
    generate(session, customer, organization, invoice, rows, now, today=local_date(now, timezone))
    clear_errors(session, invoice)


def _respec(
    session: Session,
    entry: InvoiceSubscription,
    subscription: Subscription,
    plan: Plan,
    timezone: str,
) -> None:
    """A billing day's ranges, computed again from today's data: the first attempt may
    not have got that far (see `periodic_key`)."""
    day = date.fromisoformat(entry.boundary)
    trial_end = trial_end_of(session, subscription, plan, timezone)
    spec = entries.periodic(subscription, plan, timezone, day, trial_end)
    entry.from_datetime, entry.to_datetime = spec.plan_fee or (None, None)
    entry.charges_from_datetime, entry.charges_to_datetime = spec.charges or (None, None)
    entry.commitment_from_datetime, entry.commitment_to_datetime = spec.commitment or (None, None)
    session.flush()


def retry(
    session: Session, invoice: Invoice, now: datetime, failures: list[Failure],
    job: str = "retry_failed_invoices",
) -> bool:  # fmt: skip
    """One attempt at a failed invoice, in a savepoint; a new failure is noted on the
    invoice (and in `failures`) and the invoice stays failed."""
    try:
        with session.begin_nested():
            regenerate(session, invoice, now)
        return True
    except Exception as error:
        note(failures, job, error, invoice=invoice.id, customer=invoice.customer_id)
        keep_error(session, invoice, error, now)
        return False


def retry_failed_invoices(
    db: Transactions,
    now: datetime,
    retried: list[uuid.UUID],
    failures: list[Failure],
    scope: Scope | None = None,
) -> None:
    """Every failed invoice is generated again, oldest first; those that succeed go in
    `retried`. Reached through the error details (a small table), not a scan of invoices."""
    with db.transaction(write=False) as session:
        candidates = list(
            session.scalars(
                select(Invoice.id)
                .join(ErrorDetail, ErrorDetail.invoice_id == Invoice.id)
                .where(
                    ErrorDetail.error_code == GENERATION_ERROR,
                    Invoice.status == "failed",
                    within(scope, Invoice.customer_id),
                )
                .order_by(Invoice.created_at, Invoice.id)
            )
        )
    for index in range(0, len(candidates), BATCH):
        with db.transaction() as session, frozen_catalog(session):
            for invoice in session.scalars(
                select(Invoice)
                .where(
                    Invoice.id.in_(candidates[index : index + BATCH]), Invoice.status == "failed"
                )
                .order_by(Invoice.created_at, Invoice.id)
                .with_for_update(skip_locked=True)
            ):
                if retry(session, invoice, now, failures):
                    retried.append(invoice.id)
