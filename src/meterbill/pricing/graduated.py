"""graduated: each tier prices the units that fall in it, plus its flat amount."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import pairwise
from typing import Any

from meterbill.pricing.result import ZERO, ChargeAmount, Usage, per_unit
from meterbill.pricing.tiers import Tier, ends_at_or_after, parse_tiers
from meterbill.pricing.validation import Errors, validate_ranges

KEY = "graduated_ranges"


def is_adjacent(tiers: Sequence[Tier]) -> bool:
    """Adjacent style (each tier starts at the previous end) counts tier units as
    `end − start`; classic style (starts one after) as `end − start + 1`. Lago decides
    for the whole list: a single classic step makes every tier classic."""
    return len(tiers) > 1 and all(
        current.from_value == (previous.to_value if previous.to_value is not None else ZERO)
        for previous, current in pairwise(tiers)
    )


def tier_units(tiers: Sequence[Tier], total: Decimal) -> list[tuple[Tier, Decimal]]:
    """Every tier `total` reaches, with the units that fall in it."""
    step = ZERO if is_adjacent(tiers) else Decimal(1)
    reached = []
    for tier in tiers:
        effective = total if tier.to_value is None or total < tier.to_value else tier.to_value
        units = effective if tier.from_value == 0 else effective - tier.from_value + step
        reached.append((tier, units))
        if ends_at_or_after(tier, total):
            break
    return reached


def compute(properties: Mapping[str, Any], usage: Usage) -> ChargeAmount:
    tiers = parse_tiers(properties.get(KEY), "per_unit_amount")
    if usage.prorated_steps is not None and tiers:
        return _prorated(tiers, usage)
    details = []
    for tier, units in tier_units(tiers, usage.units):
        price = tier.price if units else ZERO
        per_unit_total = units * price
        details.append(
            {
                "from_value": tier.shown_from,
                "to_value": tier.shown_to,
                "flat_unit_amount": tier.flat,
                "per_unit_amount": price,
                "units": units,
                "per_unit_total_amount": per_unit_total,
                # Every tier reached adds its flat amount, the first one even at 0 units.
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
    return validate_ranges(properties, KEY, "per_unit_amount", "invalid_amount")


def default_properties() -> dict[str, Any]:
    return {KEY: [{"from_value": 0, "to_value": None, "per_unit_amount": "0", "flat_amount": "0"}]}


def _prorated(tiers: Sequence[Tier], usage: Usage) -> ChargeAmount:
    """A prorated graduated charge, as Lago prices it: the full units of each step (the
    carried level, then each day's additions) move a running total through the tiers,
    and the units a step puts in (or takes out of) a tier are priced at that tier's price
    times the step's proration (its prorated / full units). Flat amounts are those of
    every tier the running total ever reached, unprorated; a negative sum of the priced
    parts bills only those.

    A tier holds the running totals above the previous tier's end up to its own end
    (from 0 exclusive for the first, which also takes totals below 0): classic tiers
    0-5, 6-15 are (0, 5] and (5, 15], as Lago counts them for whole units.
    """
    lows = [None, *(tier.to_value for tier in tiers[:-1])]
    priced = [ZERO for _ in tiers]
    position = peak = ZERO
    for full, prorated in usage.prorated_steps or ():
        if not full:
            continue
        ratio = prorated / full
        low, high = sorted((position, position + full))
        sign = 1 if full > 0 else -1
        for index, tier in enumerate(tiers):
            top = high if tier.to_value is None else min(high, tier.to_value)
            bottom = low if lows[index] is None else max(low, lows[index])
            if top > bottom:
                priced[index] += sign * (top - bottom) * ratio * tier.price
        position += full
        peak = max(peak, position)
    if usage.peak_units is not None:
        peak = max(peak, usage.peak_units)
    # The full units each tier holds at the end (the tiers reached come first, in order).
    held = [units for _tier, units in tier_units(tiers, max(position, ZERO))]
    details = []
    for index, tier in enumerate(tiers):
        details.append(
            {
                "from_value": tier.shown_from,
                "to_value": tier.shown_to,
                "flat_unit_amount": tier.flat,
                "per_unit_amount": tier.price,
                "units": held[index] if index < len(held) else ZERO,
                "per_unit_total_amount": priced[index],
                "total_with_flat_amount": priced[index] + tier.flat,
            }
        )
        if ends_at_or_after(tier, peak):
            break
    parts = sum((item["per_unit_total_amount"] for item in details), ZERO)
    flats = sum((item["flat_unit_amount"] for item in details), ZERO)
    amount = max(parts, ZERO) + flats
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, usage.total_units),
        amount_details={KEY: details},
    )
