"""What the storage columns can hold, checked before a computed value is written.

Amounts computed from stored data (events, catalog) are unbounded Python numbers; the
columns are not: minor units are BIGINT, exact decimals NUMERIC(38, 15) (23 digits
before the point). PostgreSQL refuses a bigger value at flush time with a DataError,
SQLite with an OverflowError (or stores a decimal no PostgreSQL column would take), and
JSON rendering (orjson) refuses integers beyond 64 bits. Checking first gives one
refusal, the same on both databases: Lago's 422 envelope at the API, a recorded failure
in the clock.

The bounds checked at the door, before anything is stored, live here too: chosen so
that whatever is accepted can be billed for a century without overflowing a column or a
date (README, "Limits").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from meterbill.core.errors import ValidationFailed

BIGINT_MAX: Final = 2**63 - 1
OUT_OF_RANGE: Final = "value_is_out_of_range"
# Decimals are stored as NUMERIC(38, 15): 23 digits before the point at most.
LARGEST_DECIMAL: Final = Decimal(10) ** 23
# Integer columns are int4 unless they hold money (int8).
INT32_MAX: Final = 2**31 - 1
# Bounds chosen so that anything accepted can be billed for a century without a
# column or a date overflowing (README, "Limits"). Lago has none of these.
# Money: ten trillion units of a currency per amount; an invoice adding up thousands
# of such fees, with taxes, still fits a 64-bit column.
AMOUNT_CENTS_MAX: Final = 10**15
# A price in major units (charge amounts, tier prices, flat fees): ten trillion, as
# AMOUNT_CENTS_MAX in a two-decimal currency. Prices times usage that still overflow
# a column are a failure recorded on the invoice at billing time, never a crash.
PRICE_MAX: Final = Decimal(10) ** 13
# Units billed at once (a one-off fee's units): with the largest unit amount the
# product is refused at billing instead (AMOUNT_CENTS_MAX).
UNITS_MAX: Final = Decimal(10) ** 15
# Day counts (trial periods, payment terms, grace periods): a century.
DAYS_MAX: Final = 36_500
# Free text: names, codes, external ids and other one-line values (identifiers are
# indexed, and PostgreSQL refuses an index entry over 2704 bytes); then descriptions.
TEXT_MAX: Final = 255
LONG_TEXT_MAX: Final = 10_000
# Rounding precision of a metric: decimals are kept to 15 places.
ROUNDING_MAX: Final = 15


class ValueOutOfRange(ValidationFailed):
    """A computed value no column (or JSON integer) can hold: 422 value_is_out_of_range."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__({field: [OUT_OF_RANGE]})
        self.field, self.value = field, value

    def __str__(self) -> str:
        return f"{self.field} is out of range: {self.value}"


def check_bigint(field: str, value: int) -> None:
    if not -BIGINT_MAX <= value <= BIGINT_MAX:
        raise ValueOutOfRange(field, value)


def check_decimal(field: str, value: Decimal) -> None:
    if not value.is_finite() or value.copy_abs() >= LARGEST_DECIMAL:
        raise ValueOutOfRange(field, value)
