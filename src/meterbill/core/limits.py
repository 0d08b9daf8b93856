"""What the storage columns can hold, checked before a computed value is written.

Amounts computed from stored data (events, catalog) are unbounded Python numbers; the
columns are not: minor units are BIGINT, exact decimals NUMERIC(38, 15) (23 digits
before the point). PostgreSQL refuses a bigger value at flush time with a DataError,
SQLite with an OverflowError (or stores a decimal no PostgreSQL column would take), and
JSON rendering (orjson) refuses integers beyond 64 bits. Checking first gives one
refusal, the same on both databases: Lago's 422 envelope at the API, a recorded failure
in the clock.
"""

from __future__ import annotations

from decimal import Decimal

from meterbill.core.errors import ValidationFailed

BIGINT_MAX = 2**63 - 1
# NUMERIC(38, 15): a value must stay below 10**23.
DECIMAL_LIMIT = Decimal(10) ** 23
OUT_OF_RANGE = "value_is_out_of_range"


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
    if not value.is_finite() or abs(value) >= DECIMAL_LIMIT:
        raise ValueOutOfRange(field, value)
