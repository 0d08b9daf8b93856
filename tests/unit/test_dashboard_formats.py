"""The dashboard's one money formatter and its dates: exponent and symbol from the
currency, exact decimals (never a float), instants moved to a timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from meterbill.dashboard.formats import local_date, local_datetime, money, number


def test_money_uses_the_currency_exponent_and_symbol() -> None:
    assert money(123456, "EUR") == "€1,234.56"
    assert money(123456, "USD") == "$1,234.56"
    assert money(1234, "JPY") == "¥1,234"
    assert money(12345, "KWD") == "KWD12.345"
    assert money(5, "CHF") == "CHF0.05"
    assert money(-50, "USD") == "-$0.50"
    assert money(0, "EUR") == "€0.00"
    assert money(None, "EUR") == "-"


def test_money_is_exact_for_amounts_no_float_holds() -> None:
    # 2^53 + 1 cents: a float would print ...992.00
    assert money(9_007_199_254_740_993, "EUR") == "€90,071,992,547,409.93"
    # Precise minor units round half-up (Python's round() would give €12.34).
    assert money(Decimal("1234.5"), "EUR") == "€12.35"
    assert money(Decimal("12.5"), "JPY") == "¥13"


def test_numbers_drop_trailing_zeros_only() -> None:
    assert number(Decimal("12.500")) == "12.5"
    assert number(Decimal("3")) == "3"
    assert number("1234567.25") == "1,234,567.25"
    assert number(Decimal("0.000001")) == "0.000001"
    assert number(Decimal("100")) == "100"


def test_instants_are_shown_in_the_given_timezone() -> None:
    late = datetime(2026, 1, 15, 20, 30, tzinfo=UTC)
    assert local_datetime(late, "Asia/Tokyo") == "Jan 16, 2026, 05:30"
    assert local_date(late, "Asia/Tokyo") == "Jan 16, 2026"
    assert local_date(late, "America/New_York") == "Jan 15, 2026"
    # A billing date is already a date in the customer's timezone: shown as it is.
    assert local_date(date(2026, 2, 1), "Asia/Tokyo") == "Feb 1, 2026"
