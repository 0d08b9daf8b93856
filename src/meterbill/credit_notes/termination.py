"""The automatic credit note for the unused days of a plan paid in advance
(billing.md §4.4, §4.6): on termination, and on upgrade (then always as credit).

When the fee it credits sits on a draft still in its grace period, the note waits for
that invoice: Lago keeps it as a draft, hidden from the API, and finalizes it with the
invoice. Here it is written when the invoice is finalized, from the same facts (the
termination's moment, the plan, the option chosen), so it comes out with the amounts
and the number Lago's would have, dated the day of the termination as Lago's is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.core.money import round_half_up
from meterbill.core.periods import local_date
from meterbill.core.rehearsal import rehearsing
from meterbill.credit_notes.amounts import Split, note_amounts
from meterbill.credit_notes.models import CreditNote
from meterbill.credit_notes.service import credited_on_fees, issue, issued_on, item_lines
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices.building import is_upgrade_termination, trial_end_of
from meterbill.invoices.models import Fee, Invoice
from meterbill.organizations.models import Organization
from meterbill.plans.models import Plan
from meterbill.subscriptions.lifecycle import billing_period
from meterbill.subscriptions.models import Subscription

# The precision credit note items are stored with (ExactDecimal's scale).
ITEM_PRECISION = Decimal("1e-15")


def _last_subscription_fee(session: Session, subscription: Subscription) -> Fee | None:
    # The latest period first: billing days caught up by one tick create their fees at
    # the same instant, so the creation time alone cannot tell which period is the last.
    return session.scalar(
        select(Fee)
        .where(
            Fee.subscription_id == subscription.id,
            Fee.fee_type == "subscription",
            Fee.invoice_id.is_not(None),
        )
        .order_by(Fee.to_datetime.desc().nulls_last(), Fee.created_at.desc(), Fee.id.desc())
        .limit(1)
    )


def unused_days(
    session: Session, subscription: Subscription, plan: Plan, timezone: str, *, upgrade: bool
) -> tuple[int, int]:
    """(unused days, days of the period) at termination: the termination day is used,
    unless it is an upgrade's (the new plan bills it); trial days were never billed."""
    assert subscription.terminated_at is not None
    period = billing_period(subscription, plan, timezone, subscription.terminated_at)
    billed_from = local_date(subscription.terminated_at, timezone)
    if upgrade:
        billed_from -= timedelta(days=1)
    trial_end = trial_end_of(session, subscription, plan, timezone)
    if trial_end is not None and trial_end >= billed_from:
        billed_from = min(trial_end - timedelta(days=1), period.end)
    return max((period.end - billed_from).days, 0), period.days


def _paid_period_running(subscription: Subscription, plan: Plan, timezone: str, fee: Fee) -> bool:
    """Whether the last fee paid for the period the termination falls in. Ended on the
    first day of a period before it was billed, the subscription paid only for the one
    that ended, and owes nothing back (Lago's pay_in_advance_invoice_issued?)."""
    assert subscription.terminated_at is not None
    if fee.to_datetime is None:
        return True
    period = billing_period(subscription, plan, timezone, subscription.terminated_at)
    return local_date(fee.to_datetime, timezone) >= period.start


def _refundable(
    session: Session, subscription: Subscription, plan: Plan, timezone: str, fee: Fee,
    invoice: Invoice, paid_left: int,
) -> Decimal:  # fmt: skip
    """What was paid for the fee beyond the days used, taxes included (Lago's
    CreateFromTermination#calculate_refund): the payments in the fee's share of the
    invoice, less the days from the fee's start (or the trial's end) to the termination
    day at the plan's day price, with their coupons and taxes."""
    assert subscription.terminated_at is not None
    invoice_total = invoice.sub_total_including_taxes_amount_cents
    if invoice_total == 0:
        return Decimal(0)
    share = fee.amount_cents - fee.precise_coupons_amount_cents + fee.taxes_precise_amount_cents
    paid = share / Decimal(invoice_total) * Decimal(paid_left)
    period = billing_period(subscription, plan, timezone, subscription.terminated_at)
    billed_from = period.start
    if fee.from_datetime is not None:
        billed_from = max(billed_from, local_date(fee.from_datetime, timezone))
    trial_end = trial_end_of(session, subscription, plan, timezone)
    if trial_end is not None:
        billed_from = max(billed_from, trial_end)
    billed_to = min(local_date(subscription.terminated_at, timezone), period.end)
    used_days = max((billed_to - billed_from).days + 1, 0)
    used = Decimal(used_days) * Decimal(plan.amount_cents) / Decimal(period.days)
    return paid - note_amounts(item_lines([(fee, used)])).items_total_cents


def _split(option: str, refundable: Decimal, due: int, total: int) -> Split:
    if option == "credit":
        return Split(total, 0, 0)
    refund = int(round_half_up(max(min(refundable, Decimal(total)), Decimal(0))))
    if option == "refund":
        return Split(total - refund, refund, 0)
    offset = max(min(total - refund, due), 0)
    return Split(total - refund - offset, refund, offset)


def credit_unused_days(
    session: Session,
    subscription: Subscription,
    now: datetime,
    *,
    upgrade: bool = False,
    dated_at_termination: bool = False,
) -> CreditNote | None:
    """Give back the unused part of the last in-advance subscription fee, if any; on a
    draft invoice, nothing yet (`credit_terminations_on` does it at finalization, and
    dates the note the termination day)."""
    option = "credit" if upgrade else (subscription.on_termination_credit_note or "credit")
    if option == "skip" or subscription.terminated_at is None:
        return None
    plan = session.get(Plan, subscription.plan_id)
    assert plan is not None
    if not plan.pay_in_advance:
        return None
    fee = _last_subscription_fee(session, subscription)
    if fee is None or fee.amount_cents == 0 or fee.invoice_id is None:
        return None
    invoice = session.get(Invoice, fee.invoice_id, with_for_update=not rehearsing(session))
    # A voided invoice owes nothing back; a draft one is credited once finalized.
    if invoice is None or invoice.status != "finalized":
        return None
    customer = session.get(Customer, subscription.customer_id)
    organization = session.get(Organization, subscription.organization_id)
    assert customer is not None and organization is not None
    timezone = applicable_timezone(customer, organization)
    if not _paid_period_running(subscription, plan, timezone, fee):
        return None
    days, period_days = unused_days(session, subscription, plan, timezone, upgrade=upgrade)
    if days == 0:
        return None
    prorated = Decimal(days) * Decimal(plan.amount_cents) / Decimal(period_days)
    already = credited_on_fees(session, [fee.id]).get(fee.id, 0)
    amount = (min(prorated, Decimal(fee.amount_cents)) - already).quantize(
        ITEM_PRECISION, rounding=ROUND_DOWN
    )
    if amount <= 0:
        return None
    amounts = note_amounts(item_lines([(fee, amount)]))
    issued = issued_on(session, invoice.id)
    # Split the settled total (sub-total + taxes), so no rounding cent moves between parts.
    total = amounts.total_amount_cents
    refundable = Decimal(0)
    if option != "credit":
        refundable = _refundable(session, subscription, plan, timezone, fee, invoice,
                                 issued.paid_left(invoice))  # fmt: skip
    split = _split(option, refundable, issued.due(invoice), total)
    try:
        return issue(
            session, invoice, [(fee, amount)], split, now,
            reason="order_cancellation", automatic=True,
            issuing_date=local_date(subscription.terminated_at, timezone)
            if dated_at_termination else None,
        )  # fmt: skip
    except ValidationFailed:
        # What is left on the invoice is less than the unused days (credited by hand
        # already): the termination goes on without a note.
        return None


def credit_terminations_on(session: Session, invoice: Invoice, now: datetime) -> None:
    """The unused-days notes that waited for this invoice, just finalized: one per
    subscription paid in advance that ended while this invoice was a draft."""
    if invoice.status != "finalized":
        return
    terminated = session.scalars(
        select(Subscription)
        .join(Fee, Fee.subscription_id == Subscription.id)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Fee.invoice_id == invoice.id,
            Fee.fee_type == "subscription",
            Subscription.status == "terminated",
            Plan.pay_in_advance.is_(True),
        )
        .order_by(Subscription.terminated_at, Subscription.id)
        .distinct()
    ).all()
    for subscription in terminated:
        credit_unused_days(
            session,
            subscription,
            now,
            upgrade=is_upgrade_termination(session, subscription),
            dated_at_termination=True,
        )
