"""A credit note's figures from its items: coupon share, taxes, sub-total, and the split.

Pure (billing.md §10): items are parts of fees; each carries its share of the fee's
coupons, and taxes are given back per tax rate on what is left. Nothing here reads
the database; the service feeds it the fees' figures.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from meterbill.core.money import round_half_up

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ItemTax:
    """A tax as the fee was charged it; (code, rate) is what groups items together."""

    tax_id: uuid.UUID
    code: str
    name: str
    description: str | None
    rate: Decimal


@dataclass(frozen=True)
class ItemLine:
    amount: Decimal  # precise cents given back on the fee
    fee_amount_cents: int
    fee_precise_coupons: Decimal
    taxes: Sequence[ItemTax]

    @property
    def coupon_share(self) -> Decimal:
        if self.fee_amount_cents == 0:
            return ZERO
        return self.fee_precise_coupons * self.amount / Decimal(self.fee_amount_cents)


@dataclass(frozen=True)
class TaxPart:
    tax: ItemTax
    base: Decimal
    amount: Decimal

    @property
    def amount_cents(self) -> int:
        return int(round_half_up(self.amount))

    @property
    def base_amount_cents(self) -> int:
        return int(round_half_up(self.base))


@dataclass(frozen=True)
class NoteAmounts:
    items_amount: Decimal
    precise_coupons: Decimal
    precise_taxes: Decimal
    taxes: Sequence[TaxPart]
    taxes_rate: Decimal

    @property
    def coupons_adjustment_amount_cents(self) -> int:
        return int(round_half_up(self.precise_coupons))

    @property
    def sub_total_excluding_taxes_amount_cents(self) -> int:
        return int(round_half_up(self.items_amount - self.precise_coupons))

    @property
    def taxes_amount_cents(self) -> int:
        # Rounded once over the precise total, as the invoice's own taxes are.
        return int(round_half_up(self.precise_taxes))

    @property
    def total_amount_cents(self) -> int:
        return self.sub_total_excluding_taxes_amount_cents + self.taxes_amount_cents

    @property
    def precise_total(self) -> Decimal:
        return self.items_amount - self.precise_coupons + self.precise_taxes

    @property
    def items_total_cents(self) -> int:
        """What the items are worth with taxes: the amount a split must match (±1)."""
        return int(round_half_up(self.precise_total))


def estimated_figures(amounts: NoteAmounts) -> tuple[int, int]:
    """(taxes, total) an estimate shows. The total is the items' precise worth rounded
    once; when it is not the rounded sub-total plus the rounded taxes, Lago's estimate takes
    the cent from the total if it is above, else from the taxes (its EstimateService's
    adjust_amounts_with_rounding: 4.98 + 0.4976 of taxes shows 0.49 of tax and 5.47)."""
    taxes, total = amounts.taxes_amount_cents, amounts.items_total_cents
    from_total = total - taxes
    if from_total > amounts.sub_total_excluding_taxes_amount_cents:
        total -= 1
    elif from_total < amounts.sub_total_excluding_taxes_amount_cents and taxes > 0:
        taxes -= 1
    return taxes, total


def note_amounts(items: Sequence[ItemLine]) -> NoteAmounts:
    items_amount = sum((item.amount for item in items), ZERO)
    precise_coupons = sum((item.coupon_share for item in items), ZERO)
    bases: dict[tuple[str, Decimal], Decimal] = {}
    taxes: dict[tuple[str, Decimal], ItemTax] = {}
    for item in items:
        for tax in item.taxes:
            key = (tax.code, tax.rate)
            taxes.setdefault(key, tax)
            bases[key] = bases.get(key, ZERO) + item.amount - item.coupon_share
    parts = [
        TaxPart(tax=taxes[key], base=bases[key], amount=bases[key] * key[1] / HUNDRED)
        for key in sorted(taxes)
    ]
    net = items_amount - precise_coupons
    # A tax on only some items weighs in the rate by their share of the note.
    rate = sum((part.base / net * part.tax.rate for part in parts if net != ZERO), ZERO)
    return NoteAmounts(
        items_amount=items_amount,
        precise_coupons=precise_coupons,
        precise_taxes=sum((part.amount for part in parts), ZERO),
        taxes=parts,
        taxes_rate=round_half_up(rate, 5),
    )


@dataclass(frozen=True)
class Split:
    credit: int
    refund: int
    offset: int

    @property
    def total(self) -> int:
        return self.credit + self.refund + self.offset


def matches_items(amounts: NoteAmounts, split: Split) -> bool:
    """The asked total may differ from the items' worth by a rounding cent."""
    return abs(split.total - amounts.items_total_cents) <= 1


def settle(amounts: NoteAmounts, split: Split) -> Split:
    """Nudge the split so that total = sub_total + taxes; the credit part absorbs the
    rounding cent, else the refund, else the offset (Lago's AdjustAmountsWithRounding)."""
    gap = amounts.total_amount_cents - split.total
    if gap == 0:
        return split
    if split.credit > 0 and split.credit + gap >= 0:
        return Split(split.credit + gap, split.refund, split.offset)
    if split.refund > 0 and split.refund + gap >= 0:
        return Split(split.credit, split.refund + gap, split.offset)
    if split.offset + gap >= 0:
        return Split(split.credit, split.refund, split.offset + gap)
    return split
