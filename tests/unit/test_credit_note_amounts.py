"""Credit note arithmetic (billing.md §10) against the invoice pipeline it gives back:
hand-checked examples and hypothesis invariants."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.credit_notes.amounts import (
    ItemLine,
    ItemTax,
    Split,
    estimated_figures,
    matches_items,
    note_amounts,
    settle,
)
from meterbill.invoices.amounts import CouponLine, FeeLine, TaxRate, compute_totals

RATES = {"vat": Decimal(20), "low": Decimal("5.5"), "b": Decimal(10), "zero": Decimal(0)}
IDS = {code: uuid.uuid4() for code in RATES}


def item_tax(code: str) -> ItemTax:
    return ItemTax(IDS[code], code, code, None, RATES[code])


def test_e13_unused_days_nudged_onto_the_credit() -> None:
    # 20 days of 5 000/28 at 20 %: 3 571.43 + 714.29 = 4 285.71 → 4 286 asked,
    # settled to sub-total 3 571 + taxes 714.
    amount = Decimal(20) * Decimal(5_000) / Decimal(28)
    amounts = note_amounts([ItemLine(amount, 3_750, Decimal(0), [item_tax("vat")])])
    assert (amounts.sub_total_excluding_taxes_amount_cents, amounts.taxes_amount_cents) == (
        3_571, 714)  # fmt: skip
    asked = Split(amounts.items_total_cents, 0, 0)
    assert asked.credit == 4_286 and matches_items(amounts, asked)
    assert settle(amounts, asked) == Split(4_285, 0, 0)


def test_e15_coupon_share_and_two_taxes() -> None:
    taxes = [ItemTax(uuid.uuid4(), "a", "a", None, Decimal(10)), item_tax("b")]
    line = ItemLine(Decimal(26_260), 39_900, Decimal(25_000), taxes)
    amounts = note_amounts([line])
    assert amounts.coupons_adjustment_amount_cents == 16_454
    assert amounts.sub_total_excluding_taxes_amount_cents == 9_806
    # Each tax rounds to 981 but the note's taxes round once: 1 961.27 → 1 961.
    assert [part.amount_cents for part in amounts.taxes] == [981, 981]
    assert amounts.taxes_amount_cents == 1_961
    assert amounts.taxes_rate == Decimal(20)
    assert amounts.total_amount_cents == 11_767


fees_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2_000_000),
        st.lists(st.sampled_from(sorted(RATES)), max_size=3, unique=True),
    ),
    min_size=1,
    max_size=5,
)


def invoice_of(fees: list[tuple[int, list[str]]], coupon: int) -> tuple[list[FeeLine], object]:
    lines = [
        FeeLine(amount_cents=amount, taxes=[TaxRate(IDS[c], c, RATES[c]) for c in codes])
        for amount, codes in fees
    ]
    coupons = [CouponLine(uuid.uuid4(), "fixed_amount", coupon, "EUR", None)] if coupon else []
    return lines, compute_totals(lines, coupons, "EUR")


def items_of(lines: list[FeeLine], parts: list[Decimal]) -> list[ItemLine]:
    return [
        ItemLine(
            amount=(Decimal(line.amount_cents) * part).quantize(Decimal(1)),
            fee_amount_cents=line.amount_cents,
            fee_precise_coupons=line.precise_coupons_amount_cents,
            taxes=[item_tax(tax.code) for tax in line.taxes],
        )
        for line, part in zip(lines, parts, strict=True)
    ]


@settings(max_examples=300, deadline=None)
@given(
    fees=fees_strategy,
    coupon=st.integers(min_value=0, max_value=3_000_000),
    parts=st.lists(
        st.decimals(min_value=0, max_value=1, places=3, allow_nan=False), min_size=5, max_size=5
    ),
)
def test_any_note_settles_consistently_and_never_exceeds_the_invoice(
    fees: list[tuple[int, list[str]]], coupon: int, parts: list[Decimal]
) -> None:
    lines, totals = invoice_of(fees, coupon)
    full = note_amounts(items_of(lines, [Decimal(1)] * len(lines)))
    # Giving every fee back whole gives the invoice's own figures back.
    assert full.sub_total_excluding_taxes_amount_cents == (
        totals.sub_total_excluding_taxes_amount_cents
    )  # type: ignore[attr-defined]
    assert full.taxes_amount_cents == totals.taxes_amount_cents  # type: ignore[attr-defined]
    assert full.total_amount_cents == (totals.sub_total_including_taxes_amount_cents)  # type: ignore[attr-defined]
    partial = note_amounts(items_of(lines, parts[: len(lines)]))
    for amounts in (full, partial):
        assert 0 <= amounts.coupons_adjustment_amount_cents <= amounts.items_amount
        assert amounts.taxes_amount_cents >= 0
        assert amounts.total_amount_cents == (
            amounts.sub_total_excluding_taxes_amount_cents + amounts.taxes_amount_cents
        )
        # What the items are worth and the settled total differ by at most a cent.
        asked = Split(amounts.items_total_cents, 0, 0)
        assert matches_items(amounts, asked)
        settled = settle(amounts, asked)
        assert settled.total == amounts.total_amount_cents
        assert settled.credit >= 0
    # Part of each fee never gives back more than the whole invoice can.
    assert partial.total_amount_cents <= full.total_amount_cents


@settings(max_examples=200, deadline=None)
@given(
    fees=fees_strategy,
    refund=st.integers(min_value=0, max_value=500),
    offset=st.integers(min_value=0, max_value=500),
)
def test_rounding_cent_goes_to_the_credit_else_refund_else_offset(
    fees: list[tuple[int, list[str]]], refund: int, offset: int
) -> None:
    lines, _totals = invoice_of(fees, 0)
    amounts = note_amounts(items_of(lines, [Decimal(1)] * len(lines)))
    total = amounts.items_total_cents
    refund, offset = min(refund, total), min(offset, max(total - refund, 0))
    asked = Split(total - refund - offset, refund, offset)
    settled = settle(amounts, asked)
    assert settled.total == amounts.total_amount_cents or asked.total == 0
    if asked.credit > 0:
        assert (settled.refund, settled.offset) == (asked.refund, asked.offset)


def test_estimate_takes_the_rounding_cent_from_the_taxes_else_the_total() -> None:
    vat = item_tax("vat")
    # 5 items of 1.00 carrying 2.41675 cents of coupons, 10 %: 497.58 + 49.758 = 547.34.
    lines = [ItemLine(Decimal(100), 100, Decimal("0.48335"), [replace(vat, rate=Decimal(10))])]
    amounts = note_amounts(lines * 5)
    assert (amounts.sub_total_excluding_taxes_amount_cents, amounts.taxes_amount_cents) == (
        498, 50)  # fmt: skip
    assert estimated_figures(amounts) == (49, 547)
    # 1.4 cents and 100 % of taxes: 2.8 makes 3, above 1 + 1: the total gives the cent.
    whole = replace(vat, rate=Decimal(100))
    above = note_amounts([ItemLine(Decimal("1.4"), 2, Decimal(0), [whole])])
    assert estimated_figures(above) == (1, 2)
