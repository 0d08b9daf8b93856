"""The invoice amount pipeline (billing.md §5.3, §7, §11): E2 exactly, and its invariants."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.core.money import round_half_up
from meterbill.invoices.amounts import CouponLine, FeeLine, TaxRate, compute_totals

TEN = TaxRate(uuid.UUID(int=10), "ten", Decimal(10))
TWENTY = TaxRate(uuid.UUID(int=20), "twenty", Decimal(20))
METRICS = [uuid.UUID(int=100 + n) for n in range(1, 9)]
PLANS = [uuid.UUID(int=200 + n) for n in range(1, 4)]


def fixed(
    key: int, amount: int, currency: str = "EUR", **limits: frozenset[uuid.UUID]
) -> CouponLine:
    return CouponLine(uuid.UUID(int=key), "fixed_amount", amount, currency, None, **limits)


def test_e2_coupon_ordering_spreading_and_invoice_tax() -> None:
    fees = [
        FeeLine(
            amount_cents=1000 * (1 + n % 4),
            taxes=[TWENTY if n in (1, 5) else TEN],
            metric_id=METRICS[n],
            plan_id=PLANS[n // 4],
        )
        for n in range(8)
    ]
    # Given in creation order unlimited, plan-limited, metric-limited: taken the other way.
    c3 = fixed(3, 500)
    c2 = fixed(2, 1000, plan_ids=frozenset({PLANS[1]}))
    c1 = fixed(1, 2000, metric_ids=frozenset(METRICS[:2]))
    totals = compute_totals(fees, [c3, c2, c1], "EUR")
    assert [(credit.key.int, credit.amount_cents) for credit in totals.credits] == [
        (1, 2000), (2, 1000), (3, 500)]  # fmt: skip
    assert [round(fee.precise_coupons_amount_cents, 5) for fee in fees] == [
        Decimal(value) for value in ("676.47059", "1352.94118", "88.23529", "117.64706",
                                     "126.47059", "252.94118", "379.41176", "505.88235")
    ]  # fmt: skip
    assert [fee.taxes_amount_cents for fee in fees] == [32, 129, 291, 388, 87, 349, 262, 349]
    assert sum(fee.taxes_amount_cents for fee in fees) == 1887
    # Rounded once: 1 889.41 → 1 889.
    assert round(sum(fee.taxes_precise_amount_cents for fee in fees), 2) == Decimal("1889.41")
    assert (totals.fees_amount_cents, totals.coupons_amount_cents,
            totals.sub_total_excluding_taxes_amount_cents, totals.taxes_amount_cents,
            totals.sub_total_including_taxes_amount_cents, totals.total_amount_cents) == (
        20_000, 3_500, 16_500, 1_889, 18_389, 18_389)  # fmt: skip
    # Per tax: 20 % of 647.05882 + 1 747.05882 = 478.82 → 479; 10 % of the other
    # 14 105.88235 → 1 411: the applied taxes add up to 1 890, not the invoice's 1 889.
    assert [(tax.code, tax.amount_cents, tax.fees_amount_cents) for tax in totals.taxes] == [
        ("ten", 1_411, 14_106), ("twenty", 479, 2_394)]  # fmt: skip


def test_e1_once_coupon_spread_by_amount_and_three_taxes() -> None:
    banking = TaxRate(uuid.UUID(int=1), "banking_rates", Decimal(10))
    fr = TaxRate(uuid.UUID(int=2), "sales_tax_fr", Decimal(0))
    sales = TaxRate(uuid.UUID(int=3), "sales_tax", Decimal(20))
    fees = [FeeLine(10_000, [banking]), FeeLine(5_000, [fr]), FeeLine(3_000, [sales]),
            FeeLine(2_000, [sales])]  # fmt: skip
    totals = compute_totals(fees, [fixed(1, 1000)], "EUR")
    assert [fee.precise_coupons_amount_cents for fee in fees] == [500, 250, 150, 100]
    assert [fee.taxes_amount_cents for fee in fees] == [950, 0, 570, 380]
    assert (totals.coupons_amount_cents, totals.taxes_amount_cents, totals.total_amount_cents) == (
        1_000, 1_900, 20_900)  # fmt: skip


def test_a_coupon_in_another_currency_or_on_a_zero_invoice_gives_nothing() -> None:
    assert compute_totals([FeeLine(1000)], [fixed(1, 100, "USD")], "EUR").credits == []
    zero = compute_totals([FeeLine(0)], [fixed(1, 100)], "EUR")
    assert (zero.credits, zero.total_amount_cents) == ([], 0)


def test_percentage_coupon_rounds_half_up_and_stops_at_zero() -> None:
    percent = CouponLine(uuid.UUID(int=1), "percentage", None, None, Decimal("12.5"))
    # 12.5 % of 1 004 = 125.5 → 126 (half-up, not half-even).
    assert compute_totals([FeeLine(1004)], [percent], "EUR").coupons_amount_cents == 126
    # A first coupon takes everything: the next one is not applied at all.
    totals = compute_totals([FeeLine(300)], [fixed(1, 500), percent], "EUR")
    assert [(credit.key.int, credit.amount_cents) for credit in totals.credits] == [(1, 300)]
    assert totals.total_amount_cents == 0


def test_a_limited_coupon_on_a_fractional_base_gives_whole_cents_it_can_spread() -> None:
    # The first coupon leaves each 1-cent fee 0.5 cent; the second (plan 1 only) may
    # take 0.5 cent at most: it gives 0, not a rounded-up cent only half spread.
    fees = [FeeLine(1, plan_id=PLANS[0]), FeeLine(1, plan_id=PLANS[1])]
    both = fixed(1, 1, plan_ids=frozenset(PLANS[:2]))
    first = fixed(2, 1, plan_ids=frozenset(PLANS[:1]))
    totals = compute_totals(fees, [both, first, fixed(3, 5)], "EUR")
    assert [(credit.key.int, credit.amount_cents) for credit in totals.credits] == [(1, 1), (3, 1)]
    assert [fee.precise_coupons_amount_cents for fee in fees] == [1, 1]
    assert totals.total_amount_cents == 0


RATES = st.sampled_from([Decimal(0), Decimal("5.5"), Decimal(10), Decimal("19.6"), Decimal(20)])


@st.composite
def fee_lines(draw: st.DrawFn) -> FeeLine:
    rates = draw(st.lists(RATES, max_size=2))
    return FeeLine(
        amount_cents=draw(st.integers(0, 5_000_000)),
        taxes=[TaxRate(uuid.UUID(int=n + 1), f"t{n}", rate) for n, rate in enumerate(rates)],
        metric_id=draw(st.none() | st.sampled_from(METRICS[:3])),
        plan_id=draw(st.sampled_from(PLANS)),
    )


@st.composite
def coupon_lines(draw: st.DrawFn) -> list[CouponLine]:
    coupons = []
    for key in range(draw(st.integers(0, 4))):
        limit = draw(st.sampled_from(["none", "metric", "plan"]))
        limits: dict[str, frozenset[uuid.UUID]] = {}
        if limit == "metric":
            limits["metric_ids"] = frozenset(
                draw(st.sets(st.sampled_from(METRICS[:3]), min_size=1))
            )
        elif limit == "plan":
            limits["plan_ids"] = frozenset(draw(st.sets(st.sampled_from(PLANS), min_size=1)))
        if draw(st.booleans()):
            rate = draw(st.decimals(Decimal("0.01"), Decimal(100), places=2))
            coupons.append(CouponLine(uuid.UUID(int=key), "percentage", None, None, rate, **limits))
        else:
            amount = draw(st.integers(1, 3_000_000))
            currency = draw(st.sampled_from(["EUR", "EUR", "USD"]))
            coupons.append(fixed(key, amount, currency, **limits))
    return coupons


@settings(max_examples=300, deadline=None)
@given(fees=st.lists(fee_lines(), max_size=8), coupons=coupon_lines())
def test_pipeline_invariants(fees: list[FeeLine], coupons: list[CouponLine]) -> None:
    totals = compute_totals(fees, coupons, "EUR")
    figures = (
        totals.fees_amount_cents,
        totals.coupons_amount_cents,
        totals.sub_total_excluding_taxes_amount_cents,
        totals.taxes_amount_cents,
        totals.sub_total_including_taxes_amount_cents,
        totals.total_amount_cents,
    )
    assert all(type(value) is int for value in figures)
    assert totals.fees_amount_cents == sum(fee.amount_cents for fee in fees)
    assert 0 <= totals.coupons_amount_cents <= totals.fees_amount_cents
    assert totals.coupons_amount_cents == sum(credit.amount_cents for credit in totals.credits)
    assert totals.sub_total_excluding_taxes_amount_cents == (
        totals.fees_amount_cents - totals.coupons_amount_cents
    )
    assert totals.total_amount_cents == (
        totals.fees_amount_cents - totals.coupons_amount_cents + totals.taxes_amount_cents
    )
    assert totals.total_amount_cents >= 0
    by_key = {coupon.key: coupon for coupon in coupons}
    for credit in totals.credits:
        coupon = by_key[credit.key]
        assert type(credit.amount_cents) is int and credit.amount_cents > 0
        if coupon.coupon_type == "fixed_amount":
            assert coupon.currency == "EUR"
            assert credit.amount_cents <= (coupon.amount_cents or 0)
    # Metric-limited coupons first, then plan-limited, then the rest.
    orders = [by_key[credit.key].order for credit in totals.credits]
    assert orders == sorted(orders)
    assert len({credit.key for credit in totals.credits}) == len(totals.credits)
    spread = Decimal(0)
    for fee in fees:
        assert 0 <= fee.precise_coupons_amount_cents <= fee.amount_cents
        spread += fee.precise_coupons_amount_cents
    # The credits are spread on the fees, to the precision of Decimal division.
    assert abs(spread - totals.coupons_amount_cents) < Decimal("0.000001")
    # Taxes: on each fee's net base, the invoice total rounded once (§5.3 step 6).
    unrounded = Decimal(0)
    per_tax: dict[str, Decimal] = {}
    for fee in fees:
        net = fee.amount_cents - fee.precise_coupons_amount_cents
        fee_taxes = sum((net * tax.rate / 100 for tax in fee.taxes), Decimal(0))
        assert fee.taxes_amount_cents == int(round_half_up(fee_taxes))
        unrounded += fee_taxes
        for tax in fee.taxes:
            per_tax[tax.code] = per_tax.get(tax.code, Decimal(0)) + net * tax.rate / 100
    assert totals.taxes_amount_cents == int(round_half_up(unrounded))
    assert {tax.code: tax.amount_cents for tax in totals.taxes} == {
        code: int(round_half_up(amount)) for code, amount in per_tax.items()
    }
    # Rounding each fee may drift from the invoice tax by at most half a cent a fee.
    assert abs(sum(fee.taxes_amount_cents for fee in fees) - totals.taxes_amount_cents) <= (
        len(fees) // 2 + 1
    )
