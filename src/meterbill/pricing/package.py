"""package: units are sold in packages; a started package is paid in full."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import Any

from meterbill.pricing.result import ZERO, ChargeAmount, Usage, decimal_of, per_unit


def package(properties: dict[str, Any], usage: Usage) -> ChargeAmount:
    price = decimal_of(properties.get("amount"))
    size = Decimal(int(properties.get("package_size") or 1))
    free = decimal_of(properties.get("free_units") or 0)
    paid_units = max(usage.units - free, ZERO)
    packages = (paid_units / size).to_integral_value(rounding=ROUND_CEILING)
    amount = packages * price
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, paid_units),
        amount_details={
            "free_units": min(free, usage.units),
            "paid_units": paid_units,
            "per_package_size": int(size),
            "per_package_unit_amount": price,
        },
    )
