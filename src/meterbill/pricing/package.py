"""package: units are sold by packages of `package_size`; a started package is paid in full."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from meterbill.pricing.parsing import decimal_of
from meterbill.pricing.result import ZERO, ChargeAmount, Usage, per_unit
from meterbill.pricing.validation import ErrorBag, Errors, is_amount, is_count


def compute(properties: Mapping[str, Any], usage: Usage) -> ChargeAmount:
    price = decimal_of(properties.get("amount"))
    size = decimal_of(properties.get("package_size"))
    if size <= 0:  # only unvalidated properties get here; one unit per package is harmless
        size = Decimal(1)
    free = decimal_of(properties.get("free_units"))
    paid = usage.units - free
    amount = price * _packages(paid, size) if paid > 0 else ZERO
    return ChargeAmount(
        amount=amount,
        # Per paid unit, not per unit: free units are not part of what was bought.
        unit_amount=per_unit(amount, paid) if paid > 0 else ZERO,
        amount_details=_details(usage.units, free, paid, size, price),
    )


def _packages(paid: Decimal, size: Decimal) -> Decimal:
    # divmod is exact, where ceil(paid / size) could round the quotient first.
    whole, rest = divmod(paid, size)
    return whole + 1 if rest else whole


def _details(
    units: Decimal, free: Decimal, paid: Decimal, size: Decimal, price: Decimal
) -> dict[str, Any]:
    # Lago's three shapes: without usage everything is zero, even the package size.
    if units == 0:
        return {"free_units": ZERO, "paid_units": ZERO, "per_package_size": 0,
                "per_package_unit_amount": ZERO}  # fmt: skip
    return {
        "free_units": free,
        "paid_units": max(paid, ZERO),
        "per_package_size": int(size),
        "per_package_unit_amount": price,
    }


def validate(properties: Mapping[str, Any]) -> Errors:
    bag = ErrorBag()
    if not is_amount(properties.get("amount")):
        bag.add("amount", "invalid_amount")
    # Lago requires free_units (0 is fine) as well as package_size.
    if not is_count(properties.get("free_units"), minimum=0):
        bag.add("free_units", "invalid_free_units")
    if not is_count(properties.get("package_size"), minimum=1):
        bag.add("package_size", "invalid_package_size")
    return bag.errors


def default_properties() -> dict[str, Any]:
    return {"package_size": 1, "amount": "0", "free_units": 0}
