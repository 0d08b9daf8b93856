"""standard: every unit at one price."""

from __future__ import annotations

from typing import Any

from meterbill.pricing.result import ChargeAmount, Usage, decimal_of


def standard(properties: dict[str, Any], usage: Usage) -> ChargeAmount:
    price = decimal_of(properties.get("amount"))
    return ChargeAmount(amount=usage.units * price, unit_amount=price, amount_details={})
