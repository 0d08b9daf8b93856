"""Validation of charge properties with Lago's error codes, and the default properties."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.pricing import MODELS, default_properties, validate_properties


def tier(start: Any, end: Any, price: Any = "1", flat: Any = "0", key: str = "per_unit_amount"):
    return {"from_value": start, "to_value": end, key: price, "flat_amount": flat}


def rate_tier(start: Any, end: Any, rate: Any = "1", flat: Any = "0"):
    return tier(start, end, rate, flat, key="rate")


PACKAGE = {"amount": "1", "package_size": 10, "free_units": 0}

REFUSALS = [
    # standard
    ("standard", {"amount": 5}, {"amount": ["invalid_amount"]}),  # JSON number
    ("standard", {"amount": 0.5}, {"amount": ["invalid_amount"]}),
    ("standard", {"amount": "-1"}, {"amount": ["invalid_amount"]}),
    ("standard", {"amount": "foo"}, {"amount": ["invalid_amount"]}),
    ("standard", {"amount": "NaN"}, {"amount": ["invalid_amount"]}),
    ("standard", {"amount": "Infinity"}, {"amount": ["invalid_amount"]}),
    ("standard", {"amount": ""}, {"amount": ["invalid_amount"]}),
    ("standard", {}, {"amount": ["invalid_amount"]}),
    # package
    ("package", {**PACKAGE, "amount": 1}, {"amount": ["invalid_amount"]}),
    ("package", {**PACKAGE, "package_size": 0}, {"package_size": ["invalid_package_size"]}),
    ("package", {**PACKAGE, "package_size": -3}, {"package_size": ["invalid_package_size"]}),
    ("package", {**PACKAGE, "package_size": "10"}, {"package_size": ["invalid_package_size"]}),
    ("package", {**PACKAGE, "package_size": 2.5}, {"package_size": ["invalid_package_size"]}),
    ("package", {**PACKAGE, "package_size": True}, {"package_size": ["invalid_package_size"]}),
    ("package", {"amount": "1", "free_units": 0}, {"package_size": ["invalid_package_size"]}),
    ("package", {**PACKAGE, "free_units": -1}, {"free_units": ["invalid_free_units"]}),
    ("package", {**PACKAGE, "free_units": "foo"}, {"free_units": ["invalid_free_units"]}),
    ("package", {"amount": "1", "package_size": 10}, {"free_units": ["invalid_free_units"]}),
    ("package", {}, {"amount": ["invalid_amount"], "free_units": ["invalid_free_units"],
                     "package_size": ["invalid_package_size"]}),
    # graduated
    ("graduated", {}, {"graduated_ranges": ["missing_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": None}, {"graduated_ranges": ["missing_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": []}, {"graduated_ranges": ["missing_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": "0-10"}, {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(1, None)]},  # must start at 0
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(-1, None)]},
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(0, 100)]},  # last tier must be open
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(0, None), tier(0, None)]},  # only the last open
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(0, 10), tier(12, None)]},  # hole
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(0, 100), tier(90, None)]},  # overlap
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(0, 0), tier(0, None)]},  # must end after start
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(0, 0.1), tier(0.5, None)]},  # decimal hole
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier("x", None)]},
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": ["0-10"]},
     {"graduated_ranges": ["invalid_graduated_ranges"]}),
    ("graduated", {"graduated_ranges": [tier(0, None, price=None)]},
     {"per_unit_amount": ["invalid_amount"]}),
    ("graduated", {"graduated_ranges": [tier(0, None, price="-2")]},
     {"per_unit_amount": ["invalid_amount"]}),
    ("graduated", {"graduated_ranges": [tier(0, None, flat=0)]},
     {"flat_amount": ["invalid_amount"]}),
    ("graduated", {"graduated_ranges": [tier(0, None, flat="foo")]},
     {"flat_amount": ["invalid_amount"]}),
    # One code per field, however many tiers are wrong.
    ("graduated", {"graduated_ranges": [tier(0, 10, price=1), tier(12, 5, price=2),
                                        tier(30, 20, flat=None)]},
     {"graduated_ranges": ["invalid_graduated_ranges"], "per_unit_amount": ["invalid_amount"],
      "flat_amount": ["invalid_amount"]}),
    # volume
    ("volume", {}, {"volume_ranges": ["missing_volume_ranges"]}),
    ("volume", {"volume_ranges": []}, {"volume_ranges": ["missing_volume_ranges"]}),
    ("volume", {"volume_ranges": [tier(0, 10), tier(50, None)]},
     {"volume_ranges": ["invalid_volume_ranges"]}),
    ("volume", {"volume_ranges": [tier(0, 100), tier(120, 100)]},
     {"volume_ranges": ["invalid_volume_ranges"]}),
    ("volume", {"volume_ranges": [tier(0, None, price="foo")]},
     {"per_unit_amount": ["invalid_amount"]}),
    ("volume", {"volume_ranges": [tier(0, None, flat="-2")]}, {"flat_amount": ["invalid_amount"]}),
    # graduated_percentage
    ("graduated_percentage", {},
     {"graduated_percentage_ranges": ["missing_graduated_percentage_ranges"]}),
    ("graduated_percentage", {"graduated_percentage_ranges": [rate_tier(0, 10)]},
     {"graduated_percentage_ranges": ["invalid_graduated_percentage_ranges"]}),
    ("graduated_percentage", {"graduated_percentage_ranges": [rate_tier(0, None, rate="x")]},
     {"rate": ["invalid_rate"]}),
    ("graduated_percentage", {"graduated_percentage_ranges": [rate_tier(0, None, rate=1)]},
     {"rate": ["invalid_rate"]}),
    ("graduated_percentage", {"graduated_percentage_ranges": [rate_tier(0, None, flat="-1")]},
     {"flat_amount": ["invalid_amount"]}),
    # percentage
    ("percentage", {}, {"rate": ["invalid_rate"]}),
    ("percentage", {"rate": 1}, {"rate": ["invalid_rate"]}),
    ("percentage", {"rate": "-1"}, {"rate": ["invalid_rate"]}),
    ("percentage", {"rate": "foo"}, {"rate": ["invalid_rate"]}),
    ("percentage", {"rate": "1", "fixed_amount": "x"}, {"fixed_amount": ["invalid_fixed_amount"]}),
    ("percentage", {"rate": "1", "fixed_amount": 2}, {"fixed_amount": ["invalid_fixed_amount"]}),
    ("percentage", {"rate": "1", "fixed_amount": ""}, {"fixed_amount": ["invalid_fixed_amount"]}),
    ("percentage", {"rate": "1", "free_units_per_events": 0},  # must be positive
     {"free_units_per_events": ["invalid_free_units_per_events"]}),
    ("percentage", {"rate": "1", "free_units_per_events": -2},
     {"free_units_per_events": ["invalid_free_units_per_events"]}),
    ("percentage", {"rate": "1", "free_units_per_events": "3"},
     {"free_units_per_events": ["invalid_free_units_per_events"]}),
    ("percentage", {"rate": "1", "free_units_per_events": 1.5},
     {"free_units_per_events": ["invalid_free_units_per_events"]}),
    ("percentage", {"rate": "1", "free_units_per_total_aggregation": 250},
     {"free_units_per_total_aggregation": ["invalid_free_units_per_total_aggregation"]}),
    ("percentage", {"rate": "1", "free_units_per_total_aggregation": "-250"},
     {"free_units_per_total_aggregation": ["invalid_free_units_per_total_aggregation"]}),
    ("percentage", {"rate": "1", "per_transaction_min_amount": 1},
     {"per_transaction_min_amount": ["invalid_amount"]}),
    ("percentage", {"rate": "1", "per_transaction_min_amount": "-1"},
     {"per_transaction_min_amount": ["invalid_amount"]}),
    ("percentage", {"rate": "1", "per_transaction_max_amount": "foo"},
     {"per_transaction_max_amount": ["invalid_amount"]}),
    ("percentage", {"rate": "1", "per_transaction_min_amount": "5",
                    "per_transaction_max_amount": "2"},
     {"per_transaction_max_amount": ["per_transaction_max_lower_than_per_transaction_min"]}),
    ("percentage", {"rate": 1, "fixed_amount": 2, "free_units_per_events": 0,
                    "free_units_per_total_aggregation": 3, "per_transaction_min_amount": "-1",
                    "per_transaction_max_amount": 5},
     {"rate": ["invalid_rate"], "fixed_amount": ["invalid_fixed_amount"],
      "free_units_per_events": ["invalid_free_units_per_events"],
      "free_units_per_total_aggregation": ["invalid_free_units_per_total_aggregation"],
      "per_transaction_min_amount": ["invalid_amount"],
      "per_transaction_max_amount": ["invalid_amount"]}),
    # grouping keys, for every model
    ("standard", {"amount": "1", "pricing_group_keys": "region"},
     {"pricing_group_keys": ["invalid_type"]}),
    ("standard", {"amount": "1", "pricing_group_keys": ["region", 3]},
     {"pricing_group_keys": ["invalid_type"]}),
    ("dynamic", {"pricing_group_keys": [" "]}, {"pricing_group_keys": ["invalid_type"]}),
    ("standard", {"amount": "1", "grouped_by": {"a": 1}}, {"grouped_by": ["invalid_type"]}),
    ("standard", {"amount": "1", "presentation_group_keys": "ab"},
     {"presentation_group_keys": ["invalid_type"]}),
    # Lago compares the raw value's size with 2: a 6-letter string has "too many keys".
    ("standard", {"amount": "1", "presentation_group_keys": "region"},
     {"presentation_group_keys": ["invalid_type", "too_many_keys"]}),
    ("standard", {"amount": "1", "presentation_group_keys": [{"value": "a", "other": 1}]},
     {"presentation_group_keys": ["invalid_type"]}),
    ("standard", {"amount": "1", "presentation_group_keys": [
        {"value": "a", "options": {"display_in_invoice": "yes"}}]},
     {"presentation_group_keys": ["invalid_type"]}),
    ("standard", {"amount": "1", "presentation_group_keys": [{"value": "a"}, {"value": "b"},
                                                             {"value": "c"}]},
     {"presentation_group_keys": ["too_many_keys"]}),
    ("standard", {"amount": "1", "presentation_group_keys": [{"value": "a"}, {"value": "a"}]},
     {"presentation_group_keys": ["value_is_duplicated"]}),
]  # fmt: skip


@pytest.mark.parametrize(("model", "properties", "errors"), REFUSALS)
def test_refusals(model: str, properties: dict[str, Any], errors: dict[str, list[str]]) -> None:
    assert validate_properties(model, properties) == errors


def test_every_model_has_refusals_here() -> None:
    refused = {model for model, _properties, _errors in REFUSALS}
    assert refused == set(MODELS)


ACCEPTED = [
    ("standard", {"amount": "0"}),
    ("standard", {"amount": "0.0001"}),
    ("package", {"amount": "100", "package_size": 10, "free_units": 0}),
    ("graduated", {"graduated_ranges": [tier(0, 10), tier(11, 20), tier(21, None)]}),  # classic
    ("graduated", {"graduated_ranges": [tier(0, 10), tier(10, None)]}),  # adjacent
    ("graduated", {"graduated_ranges": [tier(0, 0.1), tier(0.1, 1), tier(1, None)]}),
    ("graduated", {"graduated_ranges": [tier(0, 10), tier(10, 20), tier(21, None)]}),  # mixed
    ("graduated", {"graduated_ranges": [tier(0, "10"), tier("11", None)]}),  # Lago reads to_s
    ("volume", {"volume_ranges": [tier(0, 100), tier(101, None)]}),
    ("volume", {"volume_ranges": [tier(0, "0.5"), tier("0.5", None)]}),
    ("graduated_percentage", {"graduated_percentage_ranges": [rate_tier(0, 10),
                                                              rate_tier(11, None)]}),
    ("percentage", {"rate": "0"}),
    ("percentage", {"rate": "1.3", "fixed_amount": "2.0", "free_units_per_events": 3,
                    "free_units_per_total_aggregation": "250.0",
                    "per_transaction_min_amount": "1.75", "per_transaction_max_amount": "12"}),
    ("percentage", {"rate": "1", "per_transaction_min_amount": "2",
                    "per_transaction_max_amount": "2"}),
    ("percentage", {"rate": "1", "per_transaction_min_amount": "",  # blank: not given
                    "per_transaction_max_amount": None}),
    ("dynamic", {}),
    ("dynamic", {"anything": "is dropped before validation"}),
    ("standard", {"amount": "1", "pricing_group_keys": []}),
    ("standard", {"amount": "1", "pricing_group_keys": ["region"], "grouped_by": ["region"]}),
    ("standard", {"amount": "1", "presentation_group_keys": []}),
    ("standard", {"amount": "1", "presentation_group_keys": [
        {"value": "region", "options": {"display_in_invoice": True}}, {"value": "country"}]}),
]  # fmt: skip


@pytest.mark.parametrize(("model", "properties"), ACCEPTED)
def test_accepted(model: str, properties: dict[str, Any]) -> None:
    assert validate_properties(model, properties) == {}


def test_properties_that_are_not_an_object_validate_as_empty() -> None:
    assert validate_properties("standard", ["1"]) == {"amount": ["invalid_amount"]}  # type: ignore[arg-type]


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match="custom"):
        validate_properties("custom", {})
    with pytest.raises(ValueError, match="custom"):
        default_properties("custom")


def test_defaults_are_lagos() -> None:
    open_tier = {"from_value": 0, "to_value": None, "flat_amount": "0"}
    assert {model: default_properties(model) for model in MODELS} == {
        "standard": {"amount": "0"},
        "package": {"package_size": 1, "amount": "0", "free_units": 0},
        "percentage": {"rate": "0"},
        "graduated": {"graduated_ranges": [{**open_tier, "per_unit_amount": "0"}]},
        "volume": {"volume_ranges": [{**open_tier, "per_unit_amount": "0"}]},
        "graduated_percentage": {
            "graduated_percentage_ranges": [{**open_tier, "rate": "0", "fixed_amount": "0"}]
        },
        "dynamic": {},
    }


@pytest.mark.parametrize("model", sorted(MODELS))
def test_defaults_are_valid_and_fresh(model: str) -> None:
    properties = default_properties(model)
    assert validate_properties(model, properties) == {}
    for value in properties.values():
        if isinstance(value, list):
            value[0]["flat_amount"] = "9"
    properties["extra"] = True
    assert "extra" not in default_properties(model)
    assert "9" not in str(default_properties(model))
