"""The invoice amount pipeline as pure arithmetic: fees -> coupons -> taxes -> totals.

billing.md §5.3, §7, §11. Inputs are plain values so the rules can be tested on their
own (and with hypothesis); the services map fees, applied coupons and taxes onto them.
Amounts are integer cents; the spread of coupons and taxes stays an exact Decimal
until Lago rounds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from meterbill.core.money import round_half_up, round_shares

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# Coupon shares are stored as NUMERIC(38, 15): spread to that precision, nothing is lost.
SHARE_PLACES = 15


@dataclass(frozen=True)
class TaxRate:
    tax_id: uuid.UUID
    code: str
    rate: Decimal


@dataclass
class FeeLine:
    """One fee as the pipeline sees it. `metric_id` is set on charge fees only."""

    amount_cents: int
    taxes: Sequence[TaxRate] = ()
    metric_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None
    precise_coupons_amount_cents: Decimal = ZERO
    # Filled by apply_taxes.
    taxes_precise_amount_cents: Decimal = ZERO
    taxes_amount_cents: int = 0

    @property
    def net(self) -> Decimal:
        return Decimal(self.amount_cents) - self.precise_coupons_amount_cents

    @property
    def taxes_rate(self) -> Decimal:
        return sum((tax.rate for tax in self.taxes), ZERO)


@dataclass(frozen=True)
class CouponLine:
    """An applied coupon as it stands before this invoice.

    `amount_cents` is what a fixed coupon may still give: the remaining amount of a
    `once` coupon, the full amount of a recurring or forever one.
    """

    key: uuid.UUID
    coupon_type: str  # fixed_amount | percentage
    amount_cents: int | None
    currency: str | None
    percentage_rate: Decimal | None
    metric_ids: frozenset[uuid.UUID] | None = None
    plan_ids: frozenset[uuid.UUID] | None = None

    @property
    def order(self) -> int:
        # Metric-limited coupons first, then plan-limited, then the rest (§7 step 1).
        if self.metric_ids is not None:
            return 0
        return 1 if self.plan_ids is not None else 2

    def eligible(self, fee: FeeLine) -> bool:
        if self.metric_ids is not None:
            return fee.metric_id is not None and fee.metric_id in self.metric_ids
        if self.plan_ids is not None:
            return fee.plan_id is not None and fee.plan_id in self.plan_ids
        return True


@dataclass(frozen=True)
class CouponCredit:
    key: uuid.UUID
    amount_cents: int


@dataclass(frozen=True)
class TaxTotal:
    tax_id: uuid.UUID
    code: str
    rate: Decimal
    amount_cents: int
    fees_amount_cents: int


@dataclass
class Totals:
    fees_amount_cents: int
    coupons_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    sub_total_including_taxes_amount_cents: int
    total_amount_cents: int
    credits: list[CouponCredit] = field(default_factory=list)
    taxes: list[TaxTotal] = field(default_factory=list)


def apply_coupons(
    fees: Sequence[FeeLine], coupons: Sequence[CouponLine], currency: str
) -> list[CouponCredit]:
    """Apply coupons (already in creation order) and spread each credit on its fees.

    Mutates each fee's precise_coupons_amount_cents; returns the credits given.
    """
    fees_total = sum(fee.amount_cents for fee in fees)
    if fees_total <= 0:
        return []
    credits: list[CouponCredit] = []
    given = 0
    for coupon in sorted(coupons, key=lambda item: item.order):
        if fees_total - given <= 0:
            break
        if coupon.coupon_type == "fixed_amount" and coupon.currency != currency:
            continue
        eligible = [fee for fee in fees if coupon.eligible(fee)]
        if coupon.order == 2:
            base = Decimal(fees_total - given)
        else:
            base = sum((fee.net for fee in eligible), ZERO)
        if base <= 0:
            continue
        if coupon.coupon_type == "percentage":
            wanted = round_half_up(base * (coupon.percentage_rate or ZERO) / HUNDRED)
        else:
            wanted = Decimal(coupon.amount_cents or 0)
        # Earlier coupons can leave a limited coupon a fractional base: the credit is
        # whole cents no larger than that base (Lago stores the base truncated to
        # integer cents), so the spread below never exceeds what a fee has left.
        amount = int(min(wanted, base).to_integral_value(rounding=ROUND_FLOOR))
        if amount <= 0:
            continue
        # Shares to the stored precision (NUMERIC(38, 15)) that sum to the credit exactly.
        shares = round_shares(Decimal(amount), [fee.net for fee in eligible], SHARE_PLACES)
        for fee, share in zip(eligible, shares, strict=True):
            if amount >= base:
                # The credit takes all that is left: each fee is covered whole, exactly
                # (a proportional share of thirds would leave 9999.999... of 10000).
                fee.precise_coupons_amount_cents = Decimal(fee.amount_cents)
                continue
            fee.precise_coupons_amount_cents = min(
                fee.precise_coupons_amount_cents + share, Decimal(fee.amount_cents)
            )
        credits.append(CouponCredit(coupon.key, amount))
        given += amount
    return credits


def apply_taxes(fees: Sequence[FeeLine]) -> tuple[int, list[TaxTotal]]:
    """Each fee's taxes on its net amount; the invoice total is rounded once (§5.3 step 6)."""
    per_tax: dict[uuid.UUID, tuple[TaxRate, Decimal, Decimal]] = {}
    total = ZERO
    for fee in fees:
        fee_total = ZERO
        for tax in fee.taxes:
            amount = fee.net * tax.rate / HUNDRED
            fee_total += amount
            _rate, taxed, bases = per_tax.get(tax.tax_id, (tax, ZERO, ZERO))
            per_tax[tax.tax_id] = (tax, taxed + amount, bases + fee.net)
        fee.taxes_precise_amount_cents = fee_total
        fee.taxes_amount_cents = int(round_half_up(fee_total))
        total += fee_total
    totals = [
        TaxTotal(
            tax_id=tax.tax_id,
            code=tax.code,
            rate=tax.rate,
            amount_cents=int(round_half_up(taxed)),
            fees_amount_cents=int(round_half_up(bases)),
        )
        for tax, taxed, bases in sorted(per_tax.values(), key=lambda item: item[0].code)
    ]
    return int(round_half_up(total)), totals


def compute_totals(fees: Sequence[FeeLine], coupons: Sequence[CouponLine], currency: str) -> Totals:
    """The whole pipeline for one invoice; pass no coupons for a draft."""
    credits = apply_coupons(fees, coupons, currency)
    fees_amount = sum(fee.amount_cents for fee in fees)
    coupons_amount = sum(credit.amount_cents for credit in credits)
    sub_total = fees_amount - coupons_amount
    taxes_amount, taxes = apply_taxes(fees)
    including = sub_total + taxes_amount
    return Totals(
        fees_amount_cents=fees_amount,
        coupons_amount_cents=coupons_amount,
        sub_total_excluding_taxes_amount_cents=sub_total,
        taxes_amount_cents=taxes_amount,
        sub_total_including_taxes_amount_cents=including,
        total_amount_cents=max(including, 0),
        credits=credits,
        taxes=taxes,
    )
