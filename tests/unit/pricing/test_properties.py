"""Hypothesis properties of the charge models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.core.money import round_half_up
from meterbill.pricing import Usage, compute
from meterbill.pricing.tiers import graduated_units, tiers

units = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=0, max_value=1000, places=4).map(str)


@st.composite
def tier_ranges(draw: Any, price_key: str = "per_unit_amount") -> list[dict[str, Any]]:
    count = draw(st.integers(1, 5))
    bounds = sorted(draw(st.sets(st.integers(1, 10_000), min_size=count - 1, max_size=count - 1)))
    classic = draw(st.booleans())
    ranges, start = [], 0
    for end in [*bounds, None]:
        ranges.append({"from_value": start, "to_value": end, price_key: draw(prices),
                       "flat_amount": draw(prices)})  # fmt: skip
        if end is not None:
            start = end + 1 if classic else end
    return ranges


def model_cases() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    return st.one_of(
        st.builds(lambda r: ("graduated", {"graduated_ranges": r}), tier_ranges()),
        st.builds(
            lambda r: ("graduated_percentage", {"graduated_percentage_ranges": r}),
            tier_ranges("rate"),
        ),
        st.builds(
            lambda a, s, f: ("package", {"amount": a, "package_size": s, "free_units": f}),
            prices, st.integers(1, 100), st.integers(0, 50),
        ),
        st.builds(lambda r, f: ("percentage", {"rate": r, "fixed_amount": f}), prices, prices),
        st.builds(lambda a: ("standard", {"amount": a}), prices),
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(case=model_cases(), low=units, extra=units)
def test_amount_never_decreases_when_units_grow(
    case: tuple[str, dict[str, Any]], low: Decimal, extra: Decimal
) -> None:
    model, properties = case
    # Percentage's fixed fee depends on the number of events: keep it constant here.
    smaller = compute(model, properties, Usage(low, events_count=1))
    larger = compute(model, properties, Usage(low + extra, events_count=1))
    assert larger.amount >= smaller.amount


@settings(max_examples=200, deadline=None)
@given(ranges=tier_ranges(), total=units)
def test_graduated_is_the_sum_of_its_tiers(ranges: list[dict[str, Any]], total: Decimal) -> None:
    expected = Decimal(0)
    for tier, tier_units in graduated_units(tiers(ranges, "per_unit_amount"), total):
        expected += tier_units * tier.price + tier.flat
    assert compute("graduated", {"graduated_ranges": ranges}, Usage(total)).amount == expected
    # And the tier units add up to the total.
    assert sum(u for _t, u in graduated_units(tiers(ranges, "per_unit_amount"), total)) == total


@settings(max_examples=200, deadline=None)
@given(case=model_cases())
def test_zero_usage_costs_exactly_the_fixed_part(case: tuple[str, dict[str, Any]]) -> None:
    model, properties = case
    amount = compute(model, properties, Usage(Decimal(0))).amount
    if model == "graduated":
        assert amount == Decimal(properties["graduated_ranges"][0]["flat_amount"])
    elif model == "graduated_percentage":
        assert amount == Decimal(properties["graduated_percentage_ranges"][0]["flat_amount"])
    else:
        assert amount == 0


@settings(max_examples=300, deadline=None)
@given(case=model_cases(), usage=units, events=st.integers(0, 1000),
       currency=st.sampled_from(["EUR", "JPY", "KWD"]))  # fmt: skip
def test_never_negative_never_float_and_cents_round_half_up(
    case: tuple[str, dict[str, Any]], usage: Decimal, events: int, currency: str
) -> None:
    model, properties = case
    result = compute(model, properties, Usage(usage, events_count=events))
    assert isinstance(result.amount, Decimal) and isinstance(result.unit_amount, Decimal)
    assert result.amount >= 0
    cents = result.cents(currency)
    assert type(cents) is int
    assert cents == int(round_half_up(result.precise_cents(currency)))


@given(usage=st.decimals(min_value=-1000, max_value=Decimal("-0.001"), places=3))
def test_negative_usage_counts_as_none(usage: Decimal) -> None:
    assert compute("standard", {"amount": "5"}, Usage(usage)).amount == 0
