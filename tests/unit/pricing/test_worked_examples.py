"""The reference's worked examples (billing.md §14, E3-E8 and E16), exact figures."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from meterbill.pricing import Usage, compute, true_up_cents

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
        {"from_value": 11, "to_value": 20, "per_unit_amount": "5", "flat_amount": "3"},
        {"from_value": 21, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
    ]
}


@pytest.mark.parametrize(
    ("units", "amount"), [(0, "2"), (1, "12"), (10, "102"), (11, "110"), (12, "115")]
)
def test_e3_graduated(units: int, amount: str) -> None:
    assert compute("graduated", GRADUATED, Usage(D(units))).amount == D(amount)


def test_e3_graduated_unit_amount_and_free_first_tier() -> None:
    result = compute("graduated", GRADUATED, Usage(D(12)))
    assert result.unit_amount.quantize(D("0.00001")) == D("9.58333")
    free_first = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": "0.01", "per_unit_amount": "0", "flat_amount": "0"},
            {"from_value": "0.01", "to_value": None, "per_unit_amount": "1", "flat_amount": "1"},
        ]
    }
    assert compute("graduated", free_first, Usage(D(0))).amount == 0


@pytest.mark.parametrize(
    ("free", "amount", "unit_amount"),
    [(0, "1300", "10.74"), (10, "1200", "10.81"), (200, "0", "0")],
)
def test_e4_package(free: int, amount: str, unit_amount: str) -> None:
    result = compute(
        "package", {"amount": "100", "package_size": 10, "free_units": free}, Usage(D(121))
    )
    assert result.amount == D(amount)
    assert result.unit_amount.quantize(D("0.01")) == D(unit_amount)


VOLUME = {
    "volume_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
        {"from_value": 101, "to_value": 200, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 201, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "50"},
    ]
}


@pytest.mark.parametrize(
    ("units", "amount"),
    [("0", "10"), ("1", "12"), ("100", "210"), ("100.5", "100.5"), ("101", "101"),
     ("200", "200"), ("300", "200")],
)  # fmt: skip
def test_e5_volume(units: str, amount: str) -> None:
    assert compute("volume", VOLUME, Usage(D(units))).amount == D(amount)


E6_VALUES = [D(50), D(100), D(250), D(400)]


@pytest.mark.parametrize(
    ("extra", "amount"),
    [
        ({"free_units_per_events": 3, "free_units_per_total_aggregation": "250"}, "11.15"),
        ({"free_units_per_events": 3}, "7.2"),
        ({}, "18.4"),
    ],
)
def test_e6_percentage_free_units_and_fixed_fee(extra: dict[str, Any], amount: str) -> None:
    properties = {"rate": "1.3", "fixed_amount": "2.0", **extra}
    usage = Usage(D(800), events_count=4, event_values=E6_VALUES)
    assert compute("percentage", properties, usage).amount == D(amount)


def test_e6_percentage_without_fixed_fee() -> None:
    assert compute("percentage", {"rate": "2.9"}, Usage(D(4), events_count=4)).amount == D("0.116")


E7_VALUES = [D(10), D(80), D(10_000)]
E7 = {"rate": "2.99", "per_transaction_min_amount": "1.75", "per_transaction_max_amount": "12"}


@pytest.mark.parametrize(
    ("extra", "amount"),
    [
        ({}, "16.142"),
        ({"fixed_amount": "2.0"}, "18.691"),
        ({"free_units_per_events": 2}, "12"),
        ({"free_units_per_total_aggregation": "30"}, "13.794"),
        ({"free_units_per_events": 3, "free_units_per_total_aggregation": "10000"}, "2.691"),
    ],
)
def test_e7_percentage_per_transaction_bounds(extra: dict[str, Any], amount: str) -> None:
    usage = Usage(D(10_090), events_count=3, event_values=E7_VALUES)
    assert compute("percentage", {**E7, **extra}, usage).amount == D(amount)


def test_e7_without_bounds() -> None:
    usage = Usage(D(10_090), events_count=3, event_values=E7_VALUES)
    assert compute("percentage", {"rate": "2.99"}, usage).amount == D("301.691")


GRADUATED_PERCENTAGE = {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "200"},
        {"from_value": 11, "to_value": 20, "rate": "2", "flat_amount": "300"},
        {"from_value": 21, "to_value": None, "rate": "3", "flat_amount": "400"},
    ]
}


@pytest.mark.parametrize(("units", "amount"), [(0, "200"), (1, "200.01")])
def test_e8_graduated_percentage(units: int, amount: str) -> None:
    assert compute("graduated_percentage", GRADUATED_PERCENTAGE, Usage(D(units))).amount == D(
        amount
    )


def test_e16_dynamic() -> None:
    usage = Usage(D(2), events_count=2, precise_total_amount_cents=D("1234.56") + D("100.4"))
    result = compute("dynamic", {}, usage)
    assert result.amount == D("13.3496")
    assert result.cents("EUR") == 1335
    assert result.precise_cents("EUR") == D("1334.96")


def test_e1_true_up_for_the_minimum() -> None:
    # billing.md E1: cards charge 3 000 against a 5 000 minimum, full month → 2 000.
    assert true_up_cents(5000, 3000, 31, 31) == 2000
    assert true_up_cents(5000, 6000, 31, 31) == 0
    # Prorated: half of a 30-day period → 2 500 minimum.
    assert true_up_cents(5000, 1000, 30, 15) == 1500
