"""Lago's validation of charge `properties`, per charge model.

Returns field -> error codes; the plan service reports them under `properties`.
Amounts must be strings holding non-negative decimals (Lago refuses JSON numbers).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

Errors = dict[str, list[str]]


def _is_amount(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        number = Decimal(value)
    except InvalidOperation:
        return False
    return number.is_finite() and number >= 0


def _is_count(value: Any, *, positive: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return value > 0 if positive else value >= 0


def _is_bound(value: Any) -> bool:
    return (
        isinstance(value, int | float | str)
        and not isinstance(value, bool)
        and _is_amount(str(value))
    )


def _ranges_are_valid(ranges: list[Any]) -> bool:
    """First tier from 0; each next starts at the previous end (or one after); only the
    last is open-ended; every closed tier ends after it starts."""
    previous_to: Decimal | None = None
    for index, item in enumerate(ranges):
        if not isinstance(item, dict) or not _is_bound(item.get("from_value")):
            return False
        start = Decimal(str(item["from_value"]))
        end_raw = item.get("to_value")
        last = index == len(ranges) - 1
        if end_raw is None:
            if not last:
                return False
        elif not _is_bound(end_raw) or Decimal(str(end_raw)) <= start or last:
            return False
        if index == 0 and start != 0:
            return False
        if previous_to is not None and start not in (previous_to, previous_to + 1):
            return False
        previous_to = Decimal(str(end_raw)) if end_raw is not None else None
    return True


def _tiers(properties: dict[str, Any], key: str, price_key: str, price_code: str) -> Errors:
    ranges = properties.get(key)
    if not isinstance(ranges, list) or not ranges:
        return {key: [f"missing_{key}"]}
    errors: Errors = {}
    if not _ranges_are_valid(ranges):
        errors[key] = [f"invalid_{key}"]
    for item in ranges:
        if isinstance(item, dict):
            if not _is_amount(item.get(price_key)):
                errors.setdefault(price_key, []).append(price_code)
            if not _is_amount(item.get("flat_amount")):
                errors.setdefault("flat_amount", []).append("invalid_amount")
    return {field: sorted(set(codes)) for field, codes in errors.items()}


def _standard(properties: dict[str, Any]) -> Errors:
    return {} if _is_amount(properties.get("amount")) else {"amount": ["invalid_amount"]}


def _package(properties: dict[str, Any]) -> Errors:
    errors = _standard(properties)
    if not _is_count(properties.get("package_size"), positive=True):
        errors["package_size"] = ["invalid_package_size"]
    if not _is_count(properties.get("free_units", 0)):
        errors["free_units"] = ["invalid_free_units"]
    return errors


def _percentage(properties: dict[str, Any]) -> Errors:
    errors: Errors = {}
    if not _is_amount(properties.get("rate")):
        errors["rate"] = ["invalid_rate"]
    for key in (
        "fixed_amount",
        "free_units_per_total_aggregation",
        "per_transaction_min_amount",
        "per_transaction_max_amount",
    ):
        if properties.get(key) is not None and not _is_amount(properties[key]):
            errors[key] = [f"invalid_{key}"]
    events = properties.get("free_units_per_events")
    if events is not None and not _is_count(events):
        errors["free_units_per_events"] = ["invalid_free_units_per_events"]
    low, high = (
        properties.get("per_transaction_min_amount"),
        properties.get("per_transaction_max_amount"),
    )
    if _is_amount(low) and _is_amount(high) and Decimal(low) > Decimal(high):
        errors["per_transaction_max_amount"] = [
            "per_transaction_max_lower_than_per_transaction_min"
        ]
    return errors


VALIDATORS = {
    "standard": _standard,
    "package": _package,
    "percentage": _percentage,
    "graduated": lambda p: _tiers(p, "graduated_ranges", "per_unit_amount", "invalid_amount"),
    "volume": lambda p: _tiers(p, "volume_ranges", "per_unit_amount", "invalid_amount"),
    "graduated_percentage": lambda p: _tiers(
        p, "graduated_percentage_ranges", "rate", "invalid_rate"
    ),
    "dynamic": lambda _p: {},
}


def validate_properties(charge_model: str, properties: dict[str, Any]) -> Errors:
    return VALIDATORS[charge_model](properties)


def default_properties(charge_model: str) -> dict[str, Any]:
    """What Lago stores for a charge created without properties."""
    open_tier = {"from_value": 0, "to_value": None, "flat_amount": "0"}
    return {
        "standard": {"amount": "0"},
        "package": {"package_size": 1, "amount": "0", "free_units": 0},
        "percentage": {"rate": "0"},
        "graduated": {"graduated_ranges": [{**open_tier, "per_unit_amount": "0"}]},
        "volume": {"volume_ranges": [{**open_tier, "per_unit_amount": "0"}]},
        "graduated_percentage": {"graduated_percentage_ranges": [{**open_tier, "rate": "0"}]},
        "dynamic": {},
    }[charge_model]
