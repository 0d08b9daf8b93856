"""dynamic: the events carry their own price (precise_total_amount_cents)."""

from __future__ import annotations

from typing import Any

from meterbill.core.money import subunit_to_unit
from meterbill.pricing.result import ZERO, ChargeAmount, Usage, per_unit


def dynamic(_properties: dict[str, Any], usage: Usage) -> ChargeAmount:
    if not usage.units:
        return ChargeAmount(amount=ZERO, unit_amount=ZERO)
    amount = usage.precise_total_amount_cents / subunit_to_unit(usage.currency)
    return ChargeAmount(amount=amount, unit_amount=per_unit(amount, usage.units))
