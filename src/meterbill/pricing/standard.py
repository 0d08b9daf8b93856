"""standard: every unit at one price."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meterbill.pricing.parsing import decimal_of
from meterbill.pricing.result import ChargeAmount, Usage, per_unit
from meterbill.pricing.validation import Errors, is_amount


def compute(properties: Mapping[str, Any], usage: Usage) -> ChargeAmount:
    amount = usage.units * decimal_of(properties.get("amount"))
    # Divided rather than taken from the price: a prorated charge prices its prorated
    # units but reports a unit amount over the full units.
    return ChargeAmount(amount=amount, unit_amount=per_unit(amount, usage.total_units))


def validate(properties: Mapping[str, Any]) -> Errors:
    return {} if is_amount(properties.get("amount")) else {"amount": ["invalid_amount"]}


def default_properties() -> dict[str, Any]:
    return {"amount": "0"}
