"""Reading `properties` values for pricing.

The calculators run on properties the validators accepted, so reading is lenient: a
missing value reads as zero, as Lago's `BigDecimal(x || 0)` does. Numbers go through
str() so that a JSON float such as 0.1 becomes Decimal("0.1"), never a binary float.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from meterbill.pricing.result import ZERO


def decimal_or_none(value: Any) -> Decimal | None:
    """The value as a finite Decimal, or None when it is absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def decimal_of(value: Any) -> Decimal:
    number = decimal_or_none(value)
    return ZERO if number is None else number


def present(value: Any) -> bool:
    """Rails' `present?` for the values properties hold: not None and not a blank string."""
    if value is None:
        return False
    return not (isinstance(value, str) and not value.strip())


def as_detail(value: Any) -> int | Decimal | None:
    """A tier bound echoed into amount_details as Lago echoes it: integers stay integers
    (JSON numbers), anything else becomes a Decimal."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return decimal_or_none(value)


def option(properties: Mapping[str, Any], key: str) -> Decimal | None:
    """An optional decimal property; blank counts as absent."""
    value = properties.get(key)
    return decimal_or_none(value) if present(value) else None
