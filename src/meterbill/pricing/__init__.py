"""Charge models: pure functions from aggregated usage and `properties` to an amount."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meterbill.pricing.dynamic import dynamic
from meterbill.pricing.min_amount import true_up_cents
from meterbill.pricing.package import package
from meterbill.pricing.percentage import percentage
from meterbill.pricing.result import ChargeAmount, Usage
from meterbill.pricing.standard import standard
from meterbill.pricing.tiers import graduated, graduated_percentage, volume
from meterbill.pricing.validation import default_properties, validate_properties

MODELS: dict[str, Callable[[dict[str, Any], Usage], ChargeAmount]] = {
    "standard": standard,
    "package": package,
    "graduated": graduated,
    "graduated_percentage": graduated_percentage,
    "volume": volume,
    "percentage": percentage,
    "dynamic": dynamic,
}


def compute(charge_model: str, properties: dict[str, Any], usage: Usage) -> ChargeAmount:
    """The charge's amount for this usage; negative usage counts as none (as in Lago)."""
    if usage.units < 0:
        usage = Usage(
            units=usage.units * 0,
            events_count=usage.events_count,
            event_values=usage.event_values,
            precise_total_amount_cents=usage.precise_total_amount_cents,
            currency=usage.currency,
        )
    result = MODELS[charge_model](properties, usage)
    if result.amount < 0:
        return ChargeAmount(amount=result.amount * 0, unit_amount=result.unit_amount * 0)
    return result


__all__ = [
    "MODELS",
    "ChargeAmount",
    "Usage",
    "compute",
    "default_properties",
    "true_up_cents",
    "validate_properties",
]
