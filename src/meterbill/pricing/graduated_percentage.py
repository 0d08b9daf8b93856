"""graduated_percentage: each tier takes a rate (in percent) of the units that fall in it,
plus its flat amount."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from meterbill.pricing.result import ZERO, ChargeAmount, Usage, per_unit
from meterbill.pricing.tiers import Tier, ends_at_or_after, parse_tiers
from meterbill.pricing.validation import Errors, validate_ranges

KEY = "graduated_percentage_ranges"
HUNDRED = Decimal(100)


def tier_units(tiers: Sequence[Tier], total: Decimal) -> list[tuple[Tier, Decimal]]:
    """Every tier `total` reaches, with the units that fall in it.

    Unlike graduated, Lago counts these tiers in classic style only (`end − start + 1`),
    even when the tiers are adjacent; matching its figures means doing the same.
    """
    reached = []
    for tier in tiers:
        start = tier.from_value
        if tier.to_value is not None and total >= tier.to_value:
            units = tier.to_value - (Decimal(1) if start == 0 else start) + 1
        else:
            units = total if start == 0 else total - start + 1
        reached.append((tier, units))
        if ends_at_or_after(tier, total):
            break
    return reached


def compute(properties: Mapping[str, Any], usage: Usage) -> ChargeAmount:
    details = []
    for tier, units in tier_units(parse_tiers(properties.get(KEY), "rate"), usage.units):
        per_unit_total = units * tier.price / HUNDRED
        details.append(
            {
                "from_value": tier.shown_from,
                "to_value": tier.shown_to,
                "flat_unit_amount": tier.flat,
                "rate": tier.price,
                "units": units,
                "per_unit_total_amount": per_unit_total,
                # As in graduated, the first tier's flat amount is due even at 0 units.
                "total_with_flat_amount": per_unit_total + tier.flat,
            }
        )
    amount = sum((item["total_with_flat_amount"] for item in details), ZERO)
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, usage.total_units),
        amount_details={KEY: details},
    )


def validate(properties: Mapping[str, Any]) -> Errors:
    return validate_ranges(properties, KEY, "rate", "invalid_rate")


def default_properties() -> dict[str, Any]:
    # Lago's default tier carries a fixed_amount too, which no calculation reads.
    tier = {"from_value": 0, "to_value": None, "rate": "0", "fixed_amount": "0",
            "flat_amount": "0"}  # fmt: skip
    return {KEY: [tier]}
