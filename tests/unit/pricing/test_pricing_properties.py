"""Properties every charge model keeps, checked with Hypothesis."""

from __future__ import annotations

from decimal import Decimal
from itertools import accumulate
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.core.money import exponent, precise_cents
from meterbill.pricing import ChargeAmount, Usage, compute, fee_amounts, validate_properties

SETTINGS = settings(max_examples=150, deadline=None)

units_st = st.decimals(min_value=0, max_value=10**6, places=3)
prices = st.decimals(min_value=0, max_value=1000, places=4).map(str)
event_value = st.decimals(min_value=0, max_value=10**4, places=2)


@st.composite
def tier_ranges(
    draw: st.DrawFn, price_key: str = "per_unit_amount", style: str | None = None
) -> list[dict[str, Any]]:
    """Valid tiers; `style` "classic" or "adjacent" for the whole list, None for a mix."""
    # Steps of at least 2, so that a classic tier (start = previous end + 1) still ends
    # after it starts.
    ends = list(accumulate(draw(st.lists(st.integers(2, 1_500), max_size=4))))
    ranges, start = [], 0
    for end in [*ends, None]:
        ranges.append({"from_value": start, "to_value": end, price_key: draw(prices),
                       "flat_amount": draw(prices)})  # fmt: skip
        if end is not None:
            classic = draw(st.booleans()) if style is None else style == "classic"
            start = end + 1 if classic else end
    return ranges


def percentage_properties() -> st.SearchStrategy[dict[str, Any]]:
    optional = {
        "fixed_amount": prices,
        "free_units_per_events": st.integers(1, 5),
        "free_units_per_total_aggregation": st.decimals(0, 20_000, places=2).map(str),
        "per_transaction_min_amount": st.decimals(0, 5, places=2).map(str),
        "per_transaction_max_amount": st.decimals(5, 500, places=2).map(str),
    }
    return st.fixed_dictionaries({"rate": prices}, optional=optional)


def cases() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(charge model, valid properties) for every model."""
    return st.one_of(
        st.builds(lambda a: ("standard", {"amount": a}), prices),
        st.builds(
            lambda a, s, f: ("package", {"amount": a, "package_size": s, "free_units": f}),
            prices, st.integers(1, 100), st.integers(0, 50),
        ),
        st.builds(lambda r: ("graduated", {"graduated_ranges": r}), tier_ranges()),
        st.builds(
            lambda r: ("graduated_percentage", {"graduated_percentage_ranges": r}),
            tier_ranges("rate"),
        ),
        st.builds(lambda r: ("volume", {"volume_ranges": r}), tier_ranges()),
        st.builds(lambda p: ("percentage", p), percentage_properties()),
        st.just(("dynamic", {})),
    )  # fmt: skip


@st.composite
def usages(draw: st.DrawFn, allow_negative: bool = False) -> Usage:
    """Usage of a sum metric (event values add up to the units) or of a count metric."""
    low = -(10**4) if allow_negative else 0
    if draw(st.booleans()):
        values = draw(st.lists(st.decimals(low, 10**4, places=2), max_size=12))
        return Usage(
            sum(values, Decimal(0)),
            events_count=len(values),
            event_values=values,
            precise_total_amount_cents=draw(st.decimals(low, 10**7, places=4)),
            currency=draw(st.sampled_from(["EUR", "JPY", "KWD"])),
        )
    count = draw(st.integers(low if allow_negative else 0, 10**5))
    return Usage(Decimal(count), events_count=max(count, 0), currency="USD")


def all_values(data: Any) -> list[Any]:
    if isinstance(data, dict):
        return [v for value in data.values() for v in all_values(value)]
    if isinstance(data, list):
        return [v for value in data for v in all_values(value)]
    return [data]


@SETTINGS
@given(case=cases())
def test_the_generated_properties_are_valid(case: tuple[str, dict[str, Any]]) -> None:
    model, properties = case
    assert validate_properties(model, properties) == {}


# Monotonicity


@SETTINGS
@given(
    case=st.one_of(
        st.builds(lambda r: ("graduated", {"graduated_ranges": r}), tier_ranges()),
        st.builds(
            lambda r: ("graduated_percentage", {"graduated_percentage_ranges": r}),
            tier_ranges("rate"),
        ),
        st.builds(
            lambda a, s, f: ("package", {"amount": a, "package_size": s, "free_units": f}),
            prices, st.integers(1, 100), st.integers(0, 50),
        ),
        st.builds(lambda a: ("standard", {"amount": a}), prices),
    ),
    low=units_st,
    extra=units_st,
)  # fmt: skip
def test_tiered_and_package_amounts_never_decrease_when_units_grow(
    case: tuple[str, dict[str, Any]], low: Decimal, extra: Decimal
) -> None:
    model, properties = case
    assert (
        compute(model, properties, Usage(low + extra)).amount
        >= compute(model, properties, Usage(low)).amount
    )


@SETTINGS
@given(
    properties=percentage_properties(),
    values=st.lists(event_value, max_size=12),
    more=st.lists(event_value, min_size=1, max_size=4),
)
def test_percentage_never_decreases_when_events_add_units(
    properties: dict[str, Any], values: list[Decimal], more: list[Decimal]
) -> None:
    def amount(vals: list[Decimal]) -> Decimal:
        usage = Usage(sum(vals, Decimal(0)), events_count=len(vals), event_values=vals)
        return compute("percentage", properties, usage).amount

    assert amount(values + more) >= amount(values)


@SETTINGS
@given(properties=percentage_properties(), count=st.integers(0, 500), extra=st.integers(0, 500))
def test_percentage_of_a_count_metric_never_decreases(
    properties: dict[str, Any], count: int, extra: int
) -> None:
    def amount(n: int) -> Decimal:
        return compute("percentage", properties, Usage(Decimal(n), events_count=n)).amount

    assert amount(count + extra) >= amount(count)


# Tiers


def independent_graduated(ranges: list[dict[str, Any]], total: Decimal) -> Decimal:
    """Σ over the tiers reached of units_in_tier × per_unit_amount + flat.

    Whatever the style, tier i holds the units in (end of tier i−1, end of tier i]; the
    first tier is always reached, a later one once the total passes the previous end.
    """
    amount, previous_end = Decimal(0), Decimal(0)
    for index, item in enumerate(ranges):
        end = item["to_value"]
        if index and total <= previous_end:
            break
        top = total if end is None else min(total, Decimal(end))
        amount += (top - previous_end) * Decimal(item["per_unit_amount"])
        amount += Decimal(item["flat_amount"])
        previous_end = Decimal(end) if end is not None else previous_end
    return amount


@SETTINGS
@given(
    ranges=st.sampled_from(["classic", "adjacent"]).flatmap(lambda style: tier_ranges(style=style)),
    total=units_st,
)
def test_graduated_is_the_sum_of_its_tiers(ranges: list[dict[str, Any]], total: Decimal) -> None:
    result = compute("graduated", {"graduated_ranges": ranges}, Usage(total))
    assert result.amount == independent_graduated(ranges, total)
    details = result.amount_details["graduated_ranges"]
    assert sum(item["units"] for item in details) == total
    assert result.amount == sum(item["total_with_flat_amount"] for item in details)


@SETTINGS
@given(ranges=tier_ranges(style="classic"), total=units_st)
def test_volume_prices_all_units_at_the_tier_holding_the_total(
    ranges: list[dict[str, Any]], total: Decimal
) -> None:
    # Classic integer tiers: tier i holds (end of tier i−1, end of tier i].
    holding = next(
        item for item in ranges
        if item["to_value"] is None or total <= item["to_value"]
    )  # fmt: skip
    expected = total * Decimal(holding["per_unit_amount"]) + Decimal(holding["flat_amount"])
    assert compute("volume", {"volume_ranges": ranges}, Usage(total)).amount == expected


# Zero usage


@SETTINGS
@given(case=cases(), currency=st.sampled_from(["EUR", "JPY"]))
def test_zero_usage_costs_exactly_the_fixed_part(
    case: tuple[str, dict[str, Any]], currency: str
) -> None:
    model, properties = case
    result = compute(model, properties, Usage(Decimal(0), currency=currency))
    tiers = properties.get(f"{model}_ranges")
    assert result.amount == (Decimal(tiers[0]["flat_amount"]) if tiers else 0)
    assert result.unit_amount == 0


# Signs, types and rounding


@settings(max_examples=300, deadline=None)
@given(case=cases(), usage=usages(allow_negative=True))
def test_never_negative_and_never_a_float(case: tuple[str, dict[str, Any]], usage: Usage) -> None:
    model, properties = case
    result = compute(model, properties, usage)
    assert type(result.amount) is Decimal and type(result.unit_amount) is Decimal
    assert result.amount >= 0 and result.unit_amount >= 0
    for value in all_values(result.amount_details):
        assert value is None or type(value) in (Decimal, int), (value, type(value))


@settings(max_examples=300, deadline=None)
@given(case=cases(), usage=usages(), currency=st.sampled_from(["EUR", "USD", "JPY", "KWD", "BHD"]))
def test_amount_cents_is_the_amount_rounded_half_up(
    case: tuple[str, dict[str, Any]], usage: Usage, currency: str
) -> None:
    model, properties = case
    result = compute(model, properties, usage)
    fee = fee_amounts(result, currency)
    assert type(fee.amount_cents) is int and type(fee.unit_amount_cents) is int
    exact = result.amount.scaleb(exponent(currency))
    assert fee.precise_amount_cents == exact == precise_cents(result.amount, currency)
    # Half-up: never more than half a cent away, and a tie goes away from zero.
    gap = Decimal(fee.amount_cents) - exact
    assert -Decimal("0.5") < gap <= Decimal("0.5")
    assert fee.amount_cents == result.cents(currency)


@SETTINGS
@given(amount=st.decimals(0, 10**9, places=6))
def test_fee_cents_round_half_up_for_any_amount(amount: Decimal) -> None:
    fee = fee_amounts(ChargeAmount(amount, amount), "EUR")
    gap = Decimal(fee.amount_cents) - amount * 100
    assert -Decimal("0.5") < gap <= Decimal("0.5")
