"""The few SQL expressions that differ between PostgreSQL and SQLite.

Numbers inside event properties are summed exactly on both: NUMERIC on
PostgreSQL, Decimal-based functions on SQLite (see core.sqlite_functions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Numeric, String, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

from meterbill.events.models import Event

NUMBER_PATTERN = r"^-?\d+(\.\d+)?$"


@dataclass(frozen=True)
class Dialect:
    postgres: bool

    def prop(self, key: str) -> ColumnElement[Any]:
        """An event property as text (numbers and strings compare alike)."""
        return (
            cast(Event.properties[key].as_string(), String)
            if not self.postgres
            else (Event.properties[key].as_string())
        )

    def numeric_prop(self, key: str) -> ColumnElement[Any]:
        """The property as an exact number, or NULL when it does not hold one.

        On PostgreSQL, JSON numbers are cast directly: the pattern test is only
        needed for numbers sent as strings, and skipping it halves the cost per row.
        """
        text_value = self.prop(key)
        if not self.postgres:
            return case((func.mb_is_number(text_value) == 1, text_value), else_=None)
        return case(
            (func.jsonb_typeof(Event.properties[key]) == "number", cast(text_value, Numeric)),
            (text_value.regexp_match(NUMBER_PATTERN), cast(text_value, Numeric)),
            else_=None,
        )

    def local_date(self, instant: ColumnElement[Any], timezone: str) -> ColumnElement[Any]:
        """The date of a stored UTC instant in `timezone`."""
        if self.postgres:
            return cast(func.timezone(timezone, instant), Date)
        return func.mb_local_date(instant, timezone)

    def is_number(self, expr: ColumnElement[Any]) -> ColumnElement[bool]:
        if self.postgres:
            return expr.regexp_match(NUMBER_PATTERN)
        return func.mb_is_number(expr) == 1

    def number(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(expr, Numeric) if self.postgres else expr

    def sum(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.sum(expr) if self.postgres else func.mb_sum(expr)

    def max(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.max(expr) if self.postgres else func.mb_max(expr)

    def epoch(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.extract("epoch", expr) if self.postgres else func.mb_epoch(expr)

    def product_sum(
        self, left: ColumnElement[Any], right: ColumnElement[Any]
    ) -> ColumnElement[Any]:
        return func.sum(left * right) if self.postgres else func.mb_product_sum(left, right)

    def subtract(self, left: ColumnElement[Any], right: ColumnElement[Any]) -> ColumnElement[Any]:
        return left - right if self.postgres else func.mb_sub(left, right)

    def literal_number(self, value: Any) -> ColumnElement[Any]:
        return literal(value, Numeric) if self.postgres else literal(str(value))
