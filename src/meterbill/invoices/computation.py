"""Putting an invoice's figures together: its fees, then coupons, taxes and totals."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from meterbill.core.limits import check_bigint, check_decimal
from meterbill.core.money import round_half_up
from meterbill.coupons.models import AppliedCoupon, Coupon, CouponTarget
from meterbill.invoices.amounts import CouponLine, FeeLine, TaxRate, Totals, compute_totals
from meterbill.invoices.building import BuiltFee
from meterbill.invoices.models import Credit, Fee, FeeTax, Invoice, InvoiceTax
from meterbill.invoices.run import flush_unless_deferred
from meterbill.taxes.models import Tax

# Within a billing run: the customers that had an active coupon when it began (coupons
# are only ever used up during a run, never applied).
COUPON_HOLDERS = "meterbill.coupon_holders"


@dataclass(frozen=True)
class CouponUse:
    """A coupon credit written on an invoice, with what a once-only fixed-amount coupon
    had left before it (None for the others, which keep no running amount)."""

    credit: Credit
    left_before: int | None


def note_coupon_holders(session: Session, customer_ids: set[uuid.UUID]) -> None:
    session.info[COUPON_HOLDERS] = set(
        session.scalars(
            select(AppliedCoupon.customer_id).where(
                AppliedCoupon.customer_id.in_(customer_ids), AppliedCoupon.status == "active"
            )
        )
    )


def consumed_cents(session: Session, applied_coupon_id: uuid.UUID) -> int:
    """What a coupon already took off invoices that still stand (voided ones give it back)."""
    return consumed_by(session, [applied_coupon_id]).get(applied_coupon_id, 0)


def consumed_by(session: Session, applied_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """`consumed_cents` of several applied coupons in one query (absent: nothing taken)."""
    if not applied_ids:
        return {}
    rows = session.execute(
        select(Credit.applied_coupon_id, func.sum(Credit.amount_cents))
        .join(Invoice, Invoice.id == Credit.invoice_id)
        .where(
            Credit.applied_coupon_id.in_(applied_ids),
            Invoice.status.in_(("finalized", "closed")),
        )
        .group_by(Credit.applied_coupon_id)
    ).all()
    return {applied_id: int(total or 0) for applied_id, total in rows if applied_id is not None}


def coupon_lines(
    session: Session, customer_id: uuid.UUID
) -> list[tuple[CouponLine, AppliedCoupon, Coupon]]:
    """The customer's active applied coupons, oldest first, as the pipeline takes them."""
    known = session.info.get(COUPON_HOLDERS)
    if known is not None and customer_id not in known:
        return []
    rows = session.execute(
        select(AppliedCoupon, Coupon)
        .join(Coupon, Coupon.id == AppliedCoupon.coupon_id)
        .where(AppliedCoupon.customer_id == customer_id, AppliedCoupon.status == "active")
        .order_by(AppliedCoupon.created_at, AppliedCoupon.id)
    ).all()
    if not rows:
        return []
    # The limited coupons' targets and what the once-only fixed ones already took: one
    # query each, and none when no coupon needs it.
    plans: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    metrics: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    limited = {
        coupon.id for _a, coupon in rows if coupon.limited_plans or coupon.limited_billable_metrics
    }
    targets = select(
        CouponTarget.coupon_id, CouponTarget.plan_id, CouponTarget.billable_metric_id
    ).where(CouponTarget.coupon_id.in_(limited), CouponTarget.deleted_at.is_(None))
    for coupon_id, plan_id, metric_id in session.execute(targets).all() if limited else []:
        if plan_id:
            plans[coupon_id].add(plan_id)
        if metric_id:
            metrics[coupon_id].add(metric_id)
    running = [
        applied.id
        for applied, coupon in rows
        if coupon.coupon_type == "fixed_amount" and applied.frequency == "once"
    ]
    consumed = consumed_by(session, running)
    lines = []
    for applied, coupon in rows:
        amount = applied.amount_cents
        if coupon.coupon_type == "fixed_amount" and applied.frequency == "once":
            amount = (amount or 0) - consumed.get(applied.id, 0)
            if amount <= 0:
                continue
        line = CouponLine(
            key=applied.id,
            coupon_type=coupon.coupon_type,
            amount_cents=amount,
            currency=applied.amount_currency,
            percentage_rate=applied.percentage_rate,
            metric_ids=frozenset(metrics[coupon.id]) if coupon.limited_billable_metrics else None,
            plan_ids=frozenset(plans[coupon.id]) if coupon.limited_plans else None,
        )
        lines.append((line, applied, coupon))
    return lines


def _line(item: BuiltFee) -> FeeLine:
    """A fee as the pure amount pipeline sees it."""
    return FeeLine(
        amount_cents=item.fee.amount_cents,
        taxes=[TaxRate(tax.id, tax.code, tax.rate) for tax in item.taxes],
        metric_id=item.metric_id,
        plan_id=item.plan_id,
    )


def apply_amounts(
    session: Session,
    invoice: Invoice,
    built: Sequence[BuiltFee],
    now: datetime,
    *,
    with_coupons: bool,
    fresh: bool = False,
    flush: bool = True,
) -> list[CouponUse]:
    """Write the fees, their taxes, coupon credits and the invoice totals.

    Drafts get fees and taxes only; coupons arrive at finalization (§5.3). A `fresh`
    invoice (just created) has no earlier credits or taxes to clear. Without `flush`
    the invoice's new figures wait for the caller's next flush. Returns the coupon
    credits written, with what their coupons had left.
    """
    if not fresh:
        session.execute(delete(Credit).where(Credit.invoice_id == invoice.id))
        session.execute(delete(InvoiceTax).where(InvoiceTax.invoice_id == invoice.id))
    lines = [_line(item) for item in built]
    coupons = coupon_lines(session, invoice.customer_id) if with_coupons else []
    totals = compute_totals(lines, [line for line, _a, _c in coupons], invoice.currency)
    check_storable(built, lines, totals)
    taxes_by_id: dict[uuid.UUID, Tax] = {tax.id: tax for item in built for tax in item.taxes}
    for position, (item, line) in enumerate(zip(built, lines, strict=True)):
        fee = item.fee
        fee.invoice_id = invoice.id
        fee.position = position
        fee.precise_coupons_amount_cents = line.precise_coupons_amount_cents
        fee.taxes_amount_cents = line.taxes_amount_cents
        fee.taxes_precise_amount_cents = line.taxes_precise_amount_cents
        fee.taxes_rate = line.taxes_rate
        session.add(fee)
    flush_unless_deferred(session)
    _write_fee_taxes(session, built, lines, invoice.currency, now)
    for total in totals.taxes:
        tax = taxes_by_id[total.tax_id]
        session.add(
            InvoiceTax(
                invoice_id=invoice.id,
                tax_id=tax.id,
                tax_name=tax.name,
                tax_code=tax.code,
                tax_rate=tax.rate,
                tax_description=tax.description,
                amount_cents=total.amount_cents,
                fees_amount_cents=total.fees_amount_cents,
                amount_currency=invoice.currency,
                created_at=now,
            )
        )
    by_key = {line.key: (line, applied, coupon) for line, applied, coupon in coupons}
    uses = []
    for position, credit in enumerate(totals.credits):
        line, applied, coupon = by_key[credit.key]
        running = coupon.coupon_type == "fixed_amount" and applied.frequency == "once"
        written = Credit(
            invoice_id=invoice.id,
            applied_coupon_id=applied.id,
            item_code=coupon.code,
            item_name=coupon.name,
            item_id=coupon.id,
            item_type="coupon",
            amount_cents=credit.amount_cents,
            amount_currency=invoice.currency,
            before_taxes=True,
            position=position,
            created_at=now,
        )
        uses.append(CouponUse(written, line.amount_cents if running else None))
    session.add_all(use.credit for use in uses)
    invoice.fees_amount_cents = totals.fees_amount_cents
    invoice.coupons_amount_cents = totals.coupons_amount_cents
    invoice.sub_total_excluding_taxes_amount_cents = totals.sub_total_excluding_taxes_amount_cents
    invoice.taxes_amount_cents = totals.taxes_amount_cents
    invoice.taxes_rate = _effective_rate(totals)
    invoice.sub_total_including_taxes_amount_cents = totals.sub_total_including_taxes_amount_cents
    invoice.total_amount_cents = totals.total_amount_cents
    invoice.updated_at = now
    if flush:
        flush_unless_deferred(session)
    return uses


def check_storable(built: Sequence[BuiltFee], lines: Sequence[FeeLine], totals: Totals) -> None:
    """Refuse (ValueOutOfRange) figures no column can hold, before anything is written:
    usage priced from absurd data must fail as itself, not as a database error."""
    for item, line in zip(built, lines, strict=True):
        fee = item.fee
        for name in ("amount_cents", "unit_amount_cents"):
            check_bigint(name, getattr(fee, name))
        check_bigint("taxes_amount_cents", line.taxes_amount_cents)
        for name in ("precise_amount_cents", "precise_unit_amount", "units",
                     "total_aggregated_units"):  # fmt: skip
            check_decimal(name, getattr(fee, name))
        check_decimal("taxes_precise_amount_cents", line.taxes_precise_amount_cents)
    for name in ("fees_amount_cents", "coupons_amount_cents",
                 "sub_total_excluding_taxes_amount_cents", "taxes_amount_cents",
                 "sub_total_including_taxes_amount_cents", "total_amount_cents"):  # fmt: skip
        check_bigint(name, getattr(totals, name))
    for tax in totals.taxes:
        check_bigint("taxes_amount_cents", tax.amount_cents)
        check_bigint("fees_amount_cents", tax.fees_amount_cents)


def _effective_rate(totals: Totals) -> Decimal:
    """Each rate weighed by the share of the sub-total it taxes (Lago's invoice taxes_rate)."""
    base = totals.sub_total_excluding_taxes_amount_cents
    if not base:
        return Decimal(0)
    rate = sum(
        (Decimal(tax.fees_amount_cents) / Decimal(base) * tax.rate for tax in totals.taxes),
        Decimal(0),
    )
    return round_half_up(rate, 5)


def _write_fee_taxes(
    session: Session,
    built: Sequence[BuiltFee],
    lines: Sequence[FeeLine],
    currency: str,
    now: datetime,
) -> None:
    for item, line in zip(built, lines, strict=True):
        for tax in item.taxes:
            precise = line.net * tax.rate / Decimal(100)
            session.add(
                FeeTax(
                    fee_id=item.fee.id,
                    tax_id=tax.id,
                    tax_name=tax.name,
                    tax_code=tax.code,
                    tax_rate=tax.rate,
                    tax_description=tax.description,
                    amount_cents=int(round_half_up(precise)),
                    precise_amount_cents=precise,
                    amount_currency=currency,
                    created_at=now,
                )
            )


def write_standalone_fee(session: Session, built: BuiltFee, now: datetime) -> None:
    """A fee on no invoice (non-invoiceable pay-in-advance): its own taxes, no coupons."""
    line = _line(built)
    totals = compute_totals([line], [], built.fee.amount_currency)
    check_storable([built], [line], totals)
    fee = built.fee
    fee.invoice_id = None
    fee.taxes_amount_cents = line.taxes_amount_cents
    fee.taxes_precise_amount_cents = line.taxes_precise_amount_cents
    fee.taxes_rate = line.taxes_rate
    session.add(fee)
    flush_unless_deferred(session)
    _write_fee_taxes(session, [built], [line], fee.amount_currency, now)


def remove_fees(session: Session, invoice: Invoice) -> None:
    """A draft's fees are rebuilt from scratch on refresh and finalization."""
    fee_ids = select(Fee.id).where(Fee.invoice_id == invoice.id)
    session.execute(delete(FeeTax).where(FeeTax.fee_id.in_(fee_ids)))
    session.execute(
        delete(Fee).where(Fee.invoice_id == invoice.id, Fee.true_up_parent_fee_id.is_not(None))
    )
    session.execute(delete(Fee).where(Fee.invoice_id == invoice.id))
