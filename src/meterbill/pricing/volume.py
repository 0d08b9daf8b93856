"""volume: every unit at the price of the one tier that holds the total, plus its flat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

from meterbill.pricing.result import ZERO, ChargeAmount, Usage, per_unit
from meterbill.pricing.tiers import Tier, parse_tiers
from meterbill.pricing.validation import Errors, validate_ranges

KEY = "volume_ranges"
NO_TIER = Tier(ZERO, None, ZERO, ZERO, 0, None)


def select_tier(tiers: Sequence[Tier], units: Decimal) -> Tier:
    """The first tier (by start) with `start ≤ ceil(units)` and `units ≤ end`.

    The ceiling lets a fraction above a classic tier's end (100.5 after 0–100, 101–200)
    land in the next tier. Lago errors when no tier matches; here that can only happen
    with negative units or a gap between decimal bounds, and the first tier whose end
    holds the units is taken.
    """
    ordered = sorted(tiers, key=lambda tier: tier.from_value)
    ceiling = units.to_integral_value(rounding=ROUND_CEILING)
    for tier in ordered:
        if tier.from_value <= ceiling and (tier.to_value is None or units <= tier.to_value):
            return tier
    return next(
        (tier for tier in ordered if tier.to_value is None or units <= tier.to_value),
        ordered[-1] if ordered else NO_TIER,
    )


def compute(properties: Mapping[str, Any], usage: Usage) -> ChargeAmount:
    # A prorated charge picks its tier with the full units but prices the prorated ones.
    counted = usage.total_units
    tier = select_tier(parse_tiers(properties.get(KEY), "per_unit_amount"), counted)
    per_unit_total = usage.units * tier.price
    amount = per_unit_total + tier.flat
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, counted),
        amount_details={
            "flat_unit_amount": tier.flat,
            "per_unit_amount": per_unit(per_unit_total, counted),
            "per_unit_total_amount": per_unit_total,
        },
    )


def validate(properties: Mapping[str, Any]) -> Errors:
    return validate_ranges(properties, KEY, "per_unit_amount", "invalid_amount")


def default_properties() -> dict[str, Any]:
    return {KEY: [{"from_value": 0, "to_value": None, "per_unit_amount": "0", "flat_amount": "0"}]}
