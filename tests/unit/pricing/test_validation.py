"""Validation of charge properties, per model, with Lago's codes."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.pricing import default_properties, validate_properties


def tier(start: Any, end: Any, price: Any = "1", flat: Any = "0", key: str = "per_unit_amount"):
    return {"from_value": start, "to_value": end, key: price, "flat_amount": flat}


@pytest.mark.parametrize(
    ("model", "properties", "errors"),
    [
        ("standard", {"amount": 5}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "-1"}, {"amount": ["invalid_amount"]}),
        ("standard", {}, {"amount": ["invalid_amount"]}),
        ("package", {"amount": "1", "package_size": 0}, {"package_size": ["invalid_package_size"]}),
        ("package", {"amount": "1", "package_size": 2, "free_units": -1},
         {"free_units": ["invalid_free_units"]}),
        ("percentage", {"rate": 1}, {"rate": ["invalid_rate"]}),
        ("percentage", {"rate": "1", "fixed_amount": "x"},
         {"fixed_amount": ["invalid_fixed_amount"]}),
        ("percentage", {"rate": "1", "free_units_per_events": -2},
         {"free_units_per_events": ["invalid_free_units_per_events"]}),
        ("percentage", {"rate": "1", "per_transaction_min_amount": "5",
                        "per_transaction_max_amount": "2"},
         {"per_transaction_max_amount": ["per_transaction_max_lower_than_per_transaction_min"]}),
        ("graduated", {"graduated_ranges": []}, {"graduated_ranges": ["missing_graduated_ranges"]}),
        ("graduated", {"graduated_ranges": [tier(1, None)]},
         {"graduated_ranges": ["invalid_graduated_ranges"]}),
        ("graduated", {"graduated_ranges": [tier(0, 10), tier(12, None)]},
         {"graduated_ranges": ["invalid_graduated_ranges"]}),
        ("graduated", {"graduated_ranges": [tier(0, 10), tier(10, 5), tier(5, None)]},
         {"graduated_ranges": ["invalid_graduated_ranges"]}),
        ("graduated", {"graduated_ranges": [tier(0, None), tier(0, None)]},
         {"graduated_ranges": ["invalid_graduated_ranges"]}),
        ("graduated", {"graduated_ranges": [tier(0, 10, price=1)]},
         {"graduated_ranges": ["invalid_graduated_ranges"], "per_unit_amount": ["invalid_amount"]}),
        ("volume", {}, {"volume_ranges": ["missing_volume_ranges"]}),
        ("volume", {"volume_ranges": [tier(0, 10), tier(50, None)]},
         {"volume_ranges": ["invalid_volume_ranges"]}),
        ("graduated_percentage", {"graduated_percentage_ranges": [tier(0, None, "x", key="rate")]},
         {"rate": ["invalid_rate"]}),
    ],
)  # fmt: skip
def test_refusals(model: str, properties: dict[str, Any], errors: dict[str, Any]) -> None:
    assert validate_properties(model, properties) == errors


@pytest.mark.parametrize(
    ("model", "properties"),
    [
        ("graduated", {"graduated_ranges": [tier(0, 10), tier(10, None)]}),
        ("graduated", {"graduated_ranges": [tier(0, 10), tier(11, 20), tier(21, None)]}),
        ("volume", {"volume_ranges": [tier(0, "0.5"), tier("0.5", None)]}),
        ("percentage", {"rate": "0.5", "free_units_per_events": 3,
                        "free_units_per_total_aggregation": "250.0"}),
        ("package", {"amount": "100", "package_size": 10, "free_units": 0}),
        ("dynamic", {}),
    ],
)  # fmt: skip
def test_accepted(model: str, properties: dict[str, Any]) -> None:
    assert validate_properties(model, properties) == {}


@pytest.mark.parametrize(
    "model",
    ["standard", "package", "percentage", "graduated", "volume", "graduated_percentage", "dynamic"],
)
def test_defaults_are_valid(model: str) -> None:
    assert validate_properties(model, default_properties(model)) == {}
