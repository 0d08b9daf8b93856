"""Behaviours of each model beyond the worked examples: tier styles, proration inputs,
amount_details shapes, free units, per-transaction edges, fee figures, true-up."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from meterbill.pricing import (
    MODELS,
    ChargeAmount,
    Usage,
    compute,
    fee_amounts,
    prorated_min_amount_cents,
    true_up,
    true_up_cents,
)


def tier(start: Any, end: Any, price: str, flat: str = "0", key: str = "per_unit_amount"):
    return {"from_value": start, "to_value": end, key: price, "flat_amount": flat}


# graduated


def test_graduated_adjacent_tiers_count_end_minus_start() -> None:
    adjacent = {"graduated_ranges": [tier(0, 10, "1"), tier(10, 20, "2"), tier(20, None, "3")]}
    result = compute("graduated", adjacent, Usage(D(25)))
    assert [item["units"] for item in result.amount_details["graduated_ranges"]] == [10, 10, 5]
    assert result.amount == 10 + 20 + 15


def test_graduated_decimal_adjacent_tiers() -> None:
    ranges = [tier(0, 0.1, "10"), tier(0.1, 1, "5"), tier(1, None, "2")]
    result = compute("graduated", {"graduated_ranges": ranges}, Usage(D("1.5")))
    units = [item["units"] for item in result.amount_details["graduated_ranges"]]
    assert units == [D("0.1"), D("0.9"), D("0.5")]
    assert result.amount == D("0.1") * 10 + D("0.9") * 5 + D("0.5") * 2


def test_graduated_one_classic_step_makes_every_tier_classic() -> None:
    # Lago looks at the whole list: 0–10, 10–20 (adjacent), 21–∞ (classic) is classic,
    # so the second tier counts 20 − 10 + 1 = 11 units.
    mixed = {"graduated_ranges": [tier(0, 10, "1"), tier(10, 20, "1"), tier(21, None, "1")]}
    units = [i["units"] for i in compute("graduated", mixed, Usage(D(25))).amount_details[
        "graduated_ranges"]]  # fmt: skip
    assert units == [10, 11, 5]


def test_graduated_fraction_between_classic_tiers() -> None:
    ranges = {"graduated_ranges": [tier(0, 10, "1"), tier(11, None, "2")]}
    result = compute("graduated", ranges, Usage(D("10.5")))
    assert result.amount == 10 + D("0.5") * 2


def test_graduated_details_shape() -> None:
    ranges = {"graduated_ranges": [tier(0, 10, "1", "5"), tier(11, None, "2", "7")]}
    assert compute("graduated", ranges, Usage(D(0))).amount_details == {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 10, "flat_unit_amount": D(5), "per_unit_amount": D(0),
             "units": D(0), "per_unit_total_amount": D(0), "total_with_flat_amount": D(5)},
        ]
    }  # fmt: skip


def test_graduated_unit_amount_uses_full_units_when_prorated() -> None:
    ranges = {"graduated_ranges": [tier(0, None, "3")]}
    result = compute("graduated", ranges, Usage(D(5), full_units=D(10)))
    assert (result.amount, result.unit_amount) == (D(15), D("1.5"))


# graduated_percentage


def test_graduated_percentage_counts_adjacent_tiers_classic_style_like_lago() -> None:
    adjacent = {
        "graduated_percentage_ranges": [
            tier(0, 10, "1", key="rate"),
            tier(10, None, "2", key="rate"),
        ]
    }
    result = compute("graduated_percentage", adjacent, Usage(D(15)))
    ranges = result.amount_details["graduated_percentage_ranges"]
    assert [item["units"] for item in ranges] == [10, 6]  # 15 − 10 + 1
    assert result.amount == D("0.1") + D("0.12")


def test_graduated_percentage_details_shape() -> None:
    ranges = {"graduated_percentage_ranges": [tier(0, 10, "1", "200", "rate"),
                                              tier(11, None, "2", "300", "rate")]}  # fmt: skip
    assert compute("graduated_percentage", ranges, Usage(D(12))).amount_details == {
        "graduated_percentage_ranges": [
            {"from_value": 0, "to_value": 10, "flat_unit_amount": D(200), "rate": D(1),
             "units": D(10), "per_unit_total_amount": D("0.1"),
             "total_with_flat_amount": D("200.1")},
            {"from_value": 11, "to_value": None, "flat_unit_amount": D(300), "rate": D(2),
             "units": D(2), "per_unit_total_amount": D("0.04"),
             "total_with_flat_amount": D("300.04")},
        ]
    }  # fmt: skip


# volume


def test_volume_tiers_are_sorted_by_start() -> None:
    shuffled = {"volume_ranges": [tier(101, None, "1"), tier(0, 100, "2", "10")]}
    assert compute("volume", shuffled, Usage(D(50))).amount == 110


def test_volume_adjacent_tiers() -> None:
    ranges = {"volume_ranges": [tier(0, 100, "2"), tier(100, None, "1")]}
    assert compute("volume", ranges, Usage(D(100))).amount == 200
    assert compute("volume", ranges, Usage(D("100.5"))).amount == D("100.5")


def test_volume_prorated_picks_the_tier_with_full_units_and_prices_prorated_units() -> None:
    ranges = {"volume_ranges": [tier(0, 100, "2", "10"), tier(101, None, "1", "5")]}
    result = compute("volume", ranges, Usage(D(60), full_units=D(150)))
    assert result.amount == 60 * 1 + 5
    assert result.unit_amount == D(65) / D(150)
    assert result.amount_details == {
        "flat_unit_amount": D(5),
        "per_unit_amount": D(60) / D(150),
        "per_unit_total_amount": D(60),
    }


def test_volume_falls_back_to_the_tier_whose_end_holds_the_units() -> None:
    # 1 lies between the decimal bounds 0.5 and 1.5: Lago finds no tier there.
    gap = {"volume_ranges": [tier(0, 0.5, "2"), tier(1.5, None, "3")]}
    assert compute("volume", gap, Usage(D(1))).amount == 3


def test_volume_details_at_zero_units() -> None:
    ranges = {"volume_ranges": [tier(0, None, "2", "10")]}
    assert compute("volume", ranges, Usage(D(0))).amount_details == {
        "flat_unit_amount": D(10),
        "per_unit_amount": D(0),
        "per_unit_total_amount": D(0),
    }


# package


def test_package_details_without_usage_are_all_zero() -> None:
    result = compute("package", {"amount": "5", "package_size": 10, "free_units": 3}, Usage(D(0)))
    assert result.amount_details == {
        "free_units": D(0),
        "paid_units": D(0),
        "per_package_size": 0,
        "per_package_unit_amount": D(0),
    }


def test_package_details_within_free_units() -> None:
    result = compute("package", {"amount": "5", "package_size": 10, "free_units": 30}, Usage(D(7)))
    assert result.amount == 0 and result.unit_amount == 0
    assert result.amount_details == {
        "free_units": D(30),
        "paid_units": D(0),
        "per_package_size": 10,
        "per_package_unit_amount": D(5),
    }


@pytest.mark.parametrize(("units", "packages"), [("1", 1), ("10", 1), ("10.01", 2), ("20", 2)])
def test_package_a_started_package_is_paid(units: str, packages: int) -> None:
    properties = {"amount": "5", "package_size": 10, "free_units": 0}
    assert compute("package", properties, Usage(D(units))).amount == 5 * packages


# percentage


def test_percentage_count_metric_free_events() -> None:
    # A count metric has no event values: the running total is 1, 2, … units.
    properties = {"rate": "10", "fixed_amount": "1", "free_units_per_events": 3}
    result = compute("percentage", properties, Usage(D(5), events_count=5))
    assert result.amount_details["free_units"] == 3
    assert result.amount_details["free_events"] == 3
    assert result.amount == D("0.2") + 2


def test_percentage_count_metric_free_total() -> None:
    properties = {"rate": "10", "fixed_amount": "1", "free_units_per_total_aggregation": "2.5"}
    result = compute("percentage", properties, Usage(D(5), events_count=5))
    # Free value 2.5; events with a running total below 2.5: 1 and 2.
    assert (result.amount_details["free_units"], result.amount_details["free_events"]) == (
        D("2.5"), 2)  # fmt: skip
    assert result.amount == D("0.25") + 3


def test_percentage_large_count_does_not_build_the_running_total() -> None:
    properties = {"rate": "1", "free_units_per_total_aggregation": "1000"}
    result = compute("percentage", properties, Usage(D(10**12), events_count=10**12))
    assert result.amount == (D(10**12) - 1000) / 100


def test_percentage_free_total_alone_runs_until_it_is_passed() -> None:
    # Running total 50, 150, 400 stops at 400 (the first past 250): free value 250.
    properties = {"rate": "1.3", "fixed_amount": "2.0", "free_units_per_total_aggregation": "250"}
    result = compute("percentage", properties, E6_USAGE)
    assert result.amount == D("7.15") + 4


def test_percentage_no_fixed_fee_without_units() -> None:
    result = compute("percentage", {"rate": "1", "fixed_amount": "3"}, Usage(D(0), events_count=2))
    assert result.amount == 0
    assert result.amount_details["fixed_fee_unit_amount"] == 3  # paid events, no units


def test_percentage_event_equal_to_the_free_total_left_is_priced_on_zero() -> None:
    properties = {"rate": "10", "free_units_per_total_aggregation": "10",
                  "per_transaction_min_amount": "0.5"}  # fmt: skip
    usage = Usage(D(30), events_count=2, event_values=[D(10), D(20)])
    # First event: 10 left, not more than 10, so it is priced on 0 and costs the minimum.
    assert compute("percentage", properties, usage).amount == D("0.5") + 2


def test_percentage_free_total_outlives_free_events_with_bounds() -> None:
    properties = {
        "rate": "10",
        "free_units_per_events": 1,
        "free_units_per_total_aggregation": "25",
        "per_transaction_max_amount": "100",
    }
    usage = Usage(D(40), events_count=3, event_values=[D(10), D(10), D(20)])
    # 10 and 10 are free (the total still had 15 after the free event), 20 is cut to 15.
    assert compute("percentage", properties, usage).amount == D("1.5")


def test_percentage_bounds_on_a_count_metric() -> None:
    properties = {"rate": "10", "per_transaction_min_amount": "1"}
    assert compute("percentage", properties, Usage(D(3), events_count=3)).amount == 3


def test_percentage_blank_bounds_are_ignored() -> None:
    properties = {
        "rate": "10",
        "per_transaction_min_amount": "",
        "per_transaction_max_amount": None,
    }
    assert compute("percentage", properties, Usage(D(3), events_count=3)).amount == D("0.3")


E6_USAGE = Usage(D(800), events_count=4, event_values=[D(50), D(100), D(250), D(400)])


# dynamic


def test_dynamic_without_units_costs_nothing_even_with_amounts() -> None:
    usage = Usage(D(0), events_count=1, precise_total_amount_cents=D(500), currency="EUR")
    assert compute("dynamic", {}, usage).amount == 0


def test_dynamic_uses_the_currency_exponent() -> None:
    usage = Usage(D(1), events_count=1, precise_total_amount_cents=D(1500), currency="JPY")
    assert compute("dynamic", {}, usage).amount == 1500
    usage = Usage(D(1), events_count=1, precise_total_amount_cents=D(1500), currency="KWD")
    assert compute("dynamic", {}, usage).amount == D("1.5")


def test_dynamic_needs_the_currency() -> None:
    with pytest.raises(ValueError, match="currency"):
        compute("dynamic", {}, Usage(D(1), precise_total_amount_cents=D(10)))


# all models


@pytest.mark.parametrize(
    ("model", "properties"),
    [
        ("standard", {"amount": "2"}),
        ("graduated", {"graduated_ranges": [tier(0, None, "1", "4")]}),
        ("volume", {"volume_ranges": [tier(0, None, "1", "4")]}),
        ("package", {"amount": "1", "package_size": 1, "free_units": 0}),
        ("percentage", {"rate": "5", "fixed_amount": "1"}),
    ],
)
def test_negative_units_bill_nothing(model: str, properties: dict[str, Any]) -> None:
    result = compute(model, properties, Usage(D(-5), events_count=2))
    assert (result.amount, result.unit_amount) == (0, 0)


def test_negative_dynamic_amount_bills_nothing() -> None:
    usage = Usage(D(1), events_count=1, precise_total_amount_cents=D(-500), currency="EUR")
    assert compute("dynamic", {}, usage).amount == 0


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="custom"):
        compute("custom", {}, Usage(D(1)))


def test_the_registry_has_lagos_models() -> None:
    assert set(MODELS) == {"standard", "package", "graduated", "graduated_percentage", "volume",
                           "percentage", "dynamic"}  # fmt: skip


def test_usage_refuses_floats_and_freezes_values() -> None:
    with pytest.raises(TypeError):
        Usage(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Usage(D(1), event_values=[0.5])  # type: ignore[list-item]
    usage = Usage(3, event_values=[D(1), 2])  # type: ignore[list-item]
    assert usage.units == D(3) and usage.event_values == (D(1), D(2))


# fee figures


@pytest.mark.parametrize(
    ("amount", "unit_amount", "currency", "cents", "precise", "unit_cents"),
    [
        ("0.005", "0.005", "EUR", 1, "0.5", 0),  # half-up, where round() gives 0
        ("0.025", "0.0125", "EUR", 3, "2.5", 1),
        ("10.7692307", "1.07692307", "EUR", 1077, "1076.92307", 107),  # unit cents truncated
        ("1234.5", "1234.5", "JPY", 1235, "1234.5", 1234),
        ("1.0005", "1.0005", "KWD", 1001, "1000.5", 1000),
    ],
)
def test_fee_amounts(
    amount: str, unit_amount: str, currency: str, cents: int, precise: str, unit_cents: int
) -> None:
    fee = fee_amounts(ChargeAmount(D(amount), D(unit_amount)), currency)
    assert (fee.amount_cents, fee.precise_amount_cents, fee.unit_amount_cents) == (
        cents, D(precise), unit_cents)  # fmt: skip
    assert fee.precise_unit_amount == D(unit_amount)
    assert type(fee.amount_cents) is int and type(fee.unit_amount_cents) is int


# min_amount_cents true-up (billing.md §2.5 and E1)


def test_e1_true_up_tops_up_to_the_minimum() -> None:
    # Cards charged 3 000 cents against a 5 000 minimum over the full month: 2 000.
    fee = true_up(5000, 3000, D(3000), 31, 31, "EUR")
    assert fee is not None
    assert (fee.amount_cents, fee.precise_amount_cents, fee.unit_amount_cents) == (
        2000, D(2000), 2000)  # fmt: skip
    assert fee.precise_unit_amount == D(20)
    assert true_up_cents(5000, 3000, 31, 31) == 2000


def test_true_up_is_prorated_and_rounded_half_up() -> None:
    assert prorated_min_amount_cents(5000, 30, 15) == 2500
    assert true_up_cents(5000, 1000, 30, 15) == 1500
    # 100 × 1 / 8 = 12.5 → 13.
    assert true_up_cents(100, 0, 8, 1) == 13
    fee = true_up(5000, 1000, D("999.6"), 31, 15, "EUR")
    assert fee is not None
    assert fee.precise_amount_cents == D(5000) * 15 / 31 - D("999.6")
    assert fee.amount_cents == 1419  # 2419.35… − 1000


def test_no_true_up_once_the_minimum_is_reached() -> None:
    assert true_up(5000, 5000, D(5000), 31, 31, "EUR") is None
    assert true_up(5000, 6000, D(6000), 31, 31, "EUR") is None
    assert true_up(0, 0, D(0), 31, 31, "EUR") is None
    assert true_up_cents(5000, 6000, 31, 31) == 0
