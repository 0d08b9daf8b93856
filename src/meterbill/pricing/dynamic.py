"""dynamic: the events carry their own price (precise_total_amount_cents)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meterbill.core.money import subunit_to_unit
from meterbill.pricing.result import ZERO, ChargeAmount, Usage, per_unit
from meterbill.pricing.validation import Errors


def compute(properties: Mapping[str, Any], usage: Usage) -> ChargeAmount:
    # No units means no charge, even if the events carried amounts.
    if not usage.total_units:
        return ChargeAmount(amount=ZERO, unit_amount=ZERO)
    if usage.currency is None:
        raise ValueError("a dynamic charge needs the currency to convert its events' cents")
    amount = usage.precise_total_amount_cents / subunit_to_unit(usage.currency)
    return ChargeAmount(amount=amount, unit_amount=per_unit(amount, usage.total_units))


def validate(properties: Mapping[str, Any]) -> Errors:
    return {}


def default_properties() -> dict[str, Any]:
    return {}
