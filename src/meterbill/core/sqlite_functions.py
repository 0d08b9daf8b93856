"""SQL functions SQLite lacks, registered on every connection.

PostgreSQL has exact NUMERIC arithmetic and regular expressions; SQLite has
neither (its numbers are doubles), so aggregation there goes through these
Decimal-based functions and the results stay exact on both databases.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any
from zoneinfo import ZoneInfo

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
# Sums, differences and products without rounding: the default context keeps 28
# significant digits, fewer than a NUMERIC(38, 15) holds.
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def is_number(value: Any) -> int:
    return int(value is not None and bool(NUMBER.match(str(value))))


def epoch_seconds(value: Any) -> str | None:
    """A stored instant ('YYYY-MM-DD HH:MM:SS[.ffffff]', UTC) as exact epoch seconds."""
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    whole = int(moment.replace(microsecond=0).timestamp())
    return str(Decimal(whole) + Decimal(moment.microsecond) / Decimal(1_000_000))


def local_date(value: Any, timezone: str) -> str | None:
    """A stored instant (naive UTC text) as an ISO date in `timezone`."""
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


class DecimalSum:
    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            self.total = EXACT.add(self.total or Decimal(0), Decimal(str(value)))

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


class DecimalMax:
    def __init__(self) -> None:
        self.best: Decimal | None = None

    def step(self, value: Any) -> None:
        if value is not None:
            number = Decimal(str(value))
            self.best = number if self.best is None or number > self.best else self.best

    def finalize(self) -> str | None:
        return None if self.best is None else str(self.best)


class DecimalProductSum:
    """Σ a × b, exactly."""

    def __init__(self) -> None:
        self.total: Decimal | None = None

    def step(self, left: Any, right: Any) -> None:
        if left is not None and right is not None:
            product = EXACT.multiply(Decimal(str(left)), Decimal(str(right)))
            self.total = EXACT.add(self.total or Decimal(0), product)

    def finalize(self) -> str | None:
        return None if self.total is None else str(self.total)


def decimal_add(left: Any, right: Any) -> str | None:
    if left is None or right is None:
        return None
    return str(EXACT.add(Decimal(str(left)), Decimal(str(right))))


def decimal_sub(left: Any, right: Any) -> str | None:
    if left is None or right is None:
        return None
    return str(EXACT.subtract(Decimal(str(left)), Decimal(str(right))))


def decimal_abs(value: Any) -> str | None:
    return None if value is None else str(Decimal(str(value)).copy_abs())


def decimal_compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 as `left` is below, equal to or above `right`."""
    if left is None or right is None:
        return None
    return int(Decimal(str(left)).compare(Decimal(str(right))))


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    connection.create_function("mb_is_number", 1, is_number, deterministic=True)
    connection.create_function("mb_epoch", 1, epoch_seconds, deterministic=True)
    connection.create_function("mb_sub", 2, decimal_sub, deterministic=True)
    connection.create_function("mb_add", 2, decimal_add, deterministic=True)
    connection.create_function("mb_abs", 1, decimal_abs, deterministic=True)
    connection.create_function("mb_cmp", 2, decimal_compare, deterministic=True)
    connection.create_function("mb_local_date", 2, local_date, deterministic=True)
    connection.create_aggregate("mb_sum", 1, DecimalSum)  # type: ignore[arg-type]
    connection.create_aggregate("mb_max", 1, DecimalMax)  # type: ignore[arg-type]
    connection.create_aggregate("mb_product_sum", 2, DecimalProductSum)  # type: ignore[arg-type]
