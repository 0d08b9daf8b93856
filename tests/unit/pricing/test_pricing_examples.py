"""billing.md §14 worked examples E3–E8 and E16, to the exact figure."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from meterbill.pricing import ChargeAmount, Usage, compute, fee_amounts


def eur_cents(result: ChargeAmount) -> int:
    return fee_amounts(result, "EUR").amount_cents


# E3 — graduated, classic tiers [0–10: 10/unit + 2] [11–20: 5/unit + 3] [21–∞: 5/unit + 3]
E3 = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
        {"from_value": 11, "to_value": 20, "per_unit_amount": "5", "flat_amount": "3"},
        {"from_value": 21, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
    ]
}


@pytest.mark.parametrize(
    ("units", "amount", "cents"),
    [(0, "2", 200), (1, "12", 1200), (10, "102", 10200), (11, "110", 11000), (12, "115", 11500)],
)
def test_e3_graduated(units: int, amount: str, cents: int) -> None:
    result = compute("graduated", E3, Usage(D(units)))
    assert result.amount == D(amount)
    assert eur_cents(result) == cents


def test_e3_graduated_unit_amount() -> None:
    result = compute("graduated", E3, Usage(D(12)))
    assert result.unit_amount == D(115) / D(12)
    assert result.unit_amount.quantize(D("0.00001")) == D("9.58333")
    assert fee_amounts(result, "EUR").unit_amount_cents == 958


def test_e3_free_first_tier_costs_nothing_at_zero_units() -> None:
    free_first = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 0.01, "per_unit_amount": "0", "flat_amount": "0"},
            {"from_value": 0.01, "to_value": 10, "per_unit_amount": "1", "flat_amount": "1"},
            {"from_value": 10, "to_value": None, "per_unit_amount": "1", "flat_amount": "1"},
        ]
    }
    result = compute("graduated", free_first, Usage(D(0)))
    assert (result.amount, result.unit_amount, eur_cents(result)) == (0, 0, 0)


# E4 — package: amount "100", package_size 10, 121 units


@pytest.mark.parametrize(
    ("free_units", "amount", "unit_amount", "cents"),
    [(0, "1300", "10.74", 130000), (10, "1200", "10.81", 120000), (200, "0", "0", 0)],
)
def test_e4_package(free_units: int, amount: str, unit_amount: str, cents: int) -> None:
    properties = {"amount": "100", "package_size": 10, "free_units": free_units}
    result = compute("package", properties, Usage(D(121)))
    assert result.amount == D(amount)
    assert result.unit_amount.quantize(D("0.01")) == D(unit_amount)
    assert eur_cents(result) == cents


def test_e4_package_counts_started_packages() -> None:
    result = compute("package", {"amount": "100", "package_size": 10, "free_units": 0},
                     Usage(D(121)))  # fmt: skip
    assert result.amount_details == {
        "free_units": D(0),
        "paid_units": D(121),
        "per_package_size": 10,
        "per_package_unit_amount": D(100),
    }


# E5 — volume [0–100: 2/unit + 10] [101–200: 1/unit + 0] [201–∞: 0.5/unit + 50]
E5 = {
    "volume_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
        {"from_value": 101, "to_value": 200, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 201, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "50"},
    ]
}


@pytest.mark.parametrize(
    ("units", "amount", "cents"),
    [("0", "10", 1000), ("1", "12", 1200), ("100", "210", 21000), ("100.5", "100.5", 10050),
     ("101", "101", 10100), ("200", "200", 20000), ("300", "200", 20000)],
)  # fmt: skip
def test_e5_volume(units: str, amount: str, cents: int) -> None:
    result = compute("volume", E5, Usage(D(units)))
    assert result.amount == D(amount)
    assert eur_cents(result) == cents


def test_e5_volume_unit_amount() -> None:
    assert compute("volume", E5, Usage(D(100))).unit_amount == D("2.1")
    assert compute("volume", E5, Usage(D(0))).unit_amount == 0


# E6 — percentage, rate 1.3 %, fixed 2.0, events 50, 100, 250, 400 (units 800)
E6_USAGE = Usage(D(800), events_count=4, event_values=[D(50), D(100), D(250), D(400)])


@pytest.mark.parametrize(
    ("free", "amount", "cents"),
    [
        ({"free_units_per_events": 3, "free_units_per_total_aggregation": "250.0"}, "11.15", 1115),
        ({"free_units_per_events": 3}, "7.2", 720),
        ({}, "18.4", 1840),
    ],
)
def test_e6_percentage_free_units_and_fixed_fee(
    free: dict[str, Any], amount: str, cents: int
) -> None:
    result = compute("percentage", {"rate": "1.3", "fixed_amount": "2.0", **free}, E6_USAGE)
    assert result.amount == D(amount)
    assert result.unit_amount == D(amount) / D(800)
    assert eur_cents(result) == cents


def test_e6_percentage_details_with_both_free_options() -> None:
    properties = {"rate": "1.3", "fixed_amount": "2.0", "free_units_per_events": 3,
                  "free_units_per_total_aggregation": "250.0"}  # fmt: skip
    assert compute("percentage", properties, E6_USAGE).amount_details == {
        "units": D(800),
        "free_units": D(250),
        "free_events": 2,
        "paid_units": D(550),
        "rate": D("1.3"),
        "per_unit_total_amount": D("7.15"),
        "paid_events": 2,
        "fixed_fee_unit_amount": D("2.0"),
        "fixed_fee_total_amount": D(4),
        "min_max_adjustment_total_amount": D(0),
    }


def test_e6_percentage_without_fixed_fee() -> None:
    result = compute("percentage", {"rate": "2.9"}, Usage(D(4), events_count=4))
    assert result.amount == D("0.116")
    assert eur_cents(result) == 12


# E7 — percentage with per-transaction bounds: events 10, 80, 10 000; rate 2.99 %
E7 = {"rate": "2.99", "per_transaction_min_amount": "1.75", "per_transaction_max_amount": "12"}
E7_USAGE = Usage(D(10_090), events_count=3, event_values=[D(10), D(80), D(10_000)])


@pytest.mark.parametrize(
    ("extra", "amount", "cents"),
    [
        ({}, "16.142", 1614),
        ({"fixed_amount": "2.0"}, "18.691", 1869),
        ({"free_units_per_events": 2}, "12", 1200),
        ({"free_units_per_total_aggregation": "30"}, "13.794", 1379),
        ({"free_units_per_events": 3, "free_units_per_total_aggregation": "10000"}, "2.691", 269),
    ],
)
def test_e7_percentage_per_transaction_bounds(
    extra: dict[str, Any], amount: str, cents: int
) -> None:
    result = compute("percentage", {**E7, **extra}, E7_USAGE)
    assert result.amount == D(amount)
    assert eur_cents(result) == cents


def test_e7_without_bounds() -> None:
    result = compute("percentage", {"rate": "2.99"}, E7_USAGE)
    assert result.amount == D("301.691")
    assert eur_cents(result) == 30169


def test_e7_adjustment_is_what_the_bounds_changed() -> None:
    details = compute("percentage", E7, E7_USAGE).amount_details
    assert details["per_unit_total_amount"] == D("301.691")
    assert details["min_max_adjustment_total_amount"] == D("16.142") - D("301.691")


# E8 — graduated percentage [0–10: 1 % + 200] [11–20: 2 % + 300] [21–∞: 3 % + 400]
E8 = {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "200"},
        {"from_value": 11, "to_value": 20, "rate": "2", "flat_amount": "300"},
        {"from_value": 21, "to_value": None, "rate": "3", "flat_amount": "400"},
    ]
}


@pytest.mark.parametrize(("units", "amount", "cents"), [(0, "200", 20000), (1, "200.01", 20001)])
def test_e8_graduated_percentage(units: int, amount: str, cents: int) -> None:
    result = compute("graduated_percentage", E8, Usage(D(units)))
    assert result.amount == D(amount)
    assert result.unit_amount == (D(amount) if units else 0)
    assert eur_cents(result) == cents


# E16 — dynamic: events' precise_total_amount_cents "1234.56" and "100.4", in EUR


def test_e16_dynamic() -> None:
    usage = Usage(D(2), events_count=2, precise_total_amount_cents=D("1234.56") + D("100.4"),
                  currency="EUR")  # fmt: skip
    result = compute("dynamic", {}, usage)
    assert result.amount == D("13.3496")
    assert result.unit_amount == D("6.6748")
    fee = fee_amounts(result, "EUR")
    assert fee.amount_cents == 1335
    assert fee.precise_amount_cents == D("1334.96")
    assert fee.unit_amount_cents == 667
