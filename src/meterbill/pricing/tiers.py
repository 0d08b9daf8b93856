"""Tiered models: graduated, graduated_percentage and volume."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from meterbill.pricing.result import ZERO, ChargeAmount, Usage, decimal_of, per_unit

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Tier:
    from_value: Decimal
    to_value: Decimal | None
    price: Decimal  # per-unit amount, or rate in percent
    flat: Decimal


def tiers(ranges: list[dict[str, Any]], price_key: str) -> list[Tier]:
    return [
        Tier(
            from_value=decimal_of(item.get("from_value")),
            to_value=decimal_of(item["to_value"]) if item.get("to_value") is not None else None,
            price=decimal_of(item.get(price_key)),
            flat=decimal_of(item.get("flat_amount")),
        )
        for item in ranges
    ]


def graduated_units(ranges: list[Tier], total: Decimal) -> Iterator[tuple[Tier, Decimal]]:
    """Each tier reached by `total`, with the units that fall in it.

    A tier whose `from` equals the previous `to` is "adjacent"; one that starts
    one unit later is "classic" and counts its first unit inclusively.
    """
    previous_to: Decimal | None = None
    for tier in ranges:
        reach = total if tier.to_value is None else min(total, tier.to_value)
        if tier.from_value == 0:
            units = reach
        elif previous_to is not None and tier.from_value == previous_to:
            units = reach - tier.from_value
        else:
            units = reach - tier.from_value + 1
        yield tier, max(units, ZERO)
        if tier.to_value is None or tier.to_value >= total:
            return
        previous_to = tier.to_value


def graduated(properties: dict[str, Any], usage: Usage) -> ChargeAmount:
    details = []
    amount = ZERO
    for tier, units in graduated_units(
        tiers(properties.get("graduated_ranges") or [], "per_unit_amount"), usage.units
    ):
        per_unit_total = units * tier.price
        amount += per_unit_total + tier.flat
        details.append(
            {
                "from_value": tier.from_value,
                "to_value": tier.to_value,
                "flat_unit_amount": tier.flat,
                "per_unit_amount": tier.price if units else ZERO,
                "units": units,
                "per_unit_total_amount": per_unit_total,
                "total_with_flat_amount": per_unit_total + tier.flat,
            }
        )
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, usage.units),
        amount_details={"graduated_ranges": details},
    )


def graduated_percentage(properties: dict[str, Any], usage: Usage) -> ChargeAmount:
    details = []
    amount = ZERO
    for tier, units in graduated_units(
        tiers(properties.get("graduated_percentage_ranges") or [], "rate"), usage.units
    ):
        per_unit_total = units * tier.price / HUNDRED
        amount += per_unit_total + tier.flat
        details.append(
            {
                "from_value": tier.from_value,
                "to_value": tier.to_value,
                "flat_unit_amount": tier.flat,
                "rate": tier.price,
                "units": units,
                "per_unit_total_amount": per_unit_total,
                "total_with_flat_amount": per_unit_total + tier.flat,
            }
        )
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, usage.units),
        amount_details={"graduated_percentage_ranges": details},
    )


def volume(properties: dict[str, Any], usage: Usage) -> ChargeAmount:
    """All units at the price of the one tier that contains the total."""
    ordered = sorted(
        tiers(properties.get("volume_ranges") or [], "per_unit_amount"),
        key=lambda tier: tier.from_value,
    )
    ceiling = usage.units.to_integral_value(rounding=ROUND_CEILING)
    chosen = next(
        (
            tier
            for tier in ordered
            if tier.from_value <= ceiling
            and (tier.to_value is None or usage.units <= tier.to_value)
        ),
        ordered[-1] if ordered else Tier(ZERO, None, ZERO, ZERO),
    )
    per_unit_total = usage.units * chosen.price
    amount = per_unit_total + chosen.flat
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, usage.units),
        amount_details={
            "flat_unit_amount": chosen.flat,
            "per_unit_amount": chosen.price,
            "per_unit_total_amount": per_unit_total,
        },
    )
