"""Tiers as graduated, graduated_percentage and volume properties describe them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from meterbill.pricing.parsing import as_detail, decimal_of, decimal_or_none


@dataclass(frozen=True)
class Tier:
    from_value: Decimal
    to_value: Decimal | None  # None: open-ended (the last tier)
    price: Decimal  # per_unit_amount, or the rate in percent
    flat: Decimal
    # The bounds as the properties spell them, for amount_details.
    shown_from: int | Decimal | None
    shown_to: int | Decimal | None


def parse_tiers(ranges: Any, price_key: str) -> list[Tier]:
    if not isinstance(ranges, Sequence) or isinstance(ranges, str):
        return []
    return [
        Tier(
            from_value=decimal_of(item.get("from_value")),
            to_value=decimal_or_none(item.get("to_value")),
            price=decimal_of(item.get(price_key)),
            flat=decimal_of(item.get("flat_amount")),
            shown_from=as_detail(item.get("from_value")),
            shown_to=as_detail(item.get("to_value")),
        )
        for item in ranges
        if isinstance(item, Mapping)
    ]


def ends_at_or_after(tier: Tier, total: Decimal) -> bool:
    """Whether `total` stops inside this tier: the tiered models walk tiers up to here."""
    return tier.to_value is None or tier.to_value >= total
