"""Money rounding: half-up at the currency's exponent, never float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.core.money import (
    CURRENCIES,
    decimal_string,
    exponent,
    from_cents,
    precise_cents,
    round_half_up,
    round_shares,
    to_cents,
)


@pytest.mark.parametrize(
    ("amount", "currency", "cents"),
    [
        ("13.3496", "EUR", 1335),  # billing.md E16
        ("0.005", "EUR", 1),  # half-up, where round() would give 0
        ("0.015", "EUR", 2),
        ("0.025", "EUR", 3),  # round() would give 2
        ("-0.005", "EUR", -1),  # half away from zero
        ("54.84", "EUR", 5484),
        ("1234.5", "JPY", 1235),  # JPY has no minor unit
        ("1.0005", "KWD", 1001),  # three decimals
    ],
)
def test_to_cents(amount: str, currency: str, cents: int) -> None:
    assert to_cents(Decimal(amount), currency) == cents


def test_exponents() -> None:
    assert [exponent(c) for c in ("EUR", "USD", "JPY", "KRW", "KWD", "BHD")] == [2, 2, 0, 0, 3, 3]
    assert len(CURRENCIES) == 142


@given(
    st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False),
    st.sampled_from(sorted(CURRENCIES)),
)
def test_to_cents_is_half_up_and_integer(amount: Decimal, currency: str) -> None:
    cents = to_cents(amount, currency)
    assert type(cents) is int
    exact = precise_cents(amount, currency)
    assert isinstance(exact, Decimal)
    # Half away from zero: the distance is at most one half, and exactly one half only
    # when rounding away from zero.
    distance = Decimal(cents) - exact
    assert abs(distance) <= Decimal("0.5")
    if abs(distance) == Decimal("0.5"):
        assert abs(Decimal(cents)) > abs(exact)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["EUR", "JPY", "KWD"]))
def test_cents_round_trip(cents: int, currency: str) -> None:
    assert to_cents(from_cents(cents, currency), currency) == cents


@pytest.mark.parametrize(
    ("value", "text"),
    [("4", "4.0"), ("0", "0.0"), ("0.5", "0.5"), ("12.3450", "12.345"), ("1E+2", "100.0")],
)
def test_decimal_string_like_rails(value: str, text: str) -> None:
    assert decimal_string(Decimal(value)) == text


def test_round_half_up_places() -> None:
    assert round_half_up(Decimal("9.645161"), 5) == Decimal("9.64516")
    assert round_half_up(Decimal("2.5")) == Decimal(3)


def test_round_shares_sum_exactly() -> None:
    # Spread one by one, 5870 on 62 and 323383 sums to 5870.000...001; 5870 x 62 / 323445
    # = 1.12519902920125523...
    shares = round_shares(Decimal(5870), [Decimal(62), Decimal(323383)], 15)
    assert sum(shares) == Decimal(5870)
    assert shares[0] == Decimal("1.125199029201255")
    # Thirds: the first share takes the last unit (ties to the earlier weight).
    assert round_shares(Decimal(1), [Decimal(1)] * 3, 2) == [
        Decimal("0.34"), Decimal("0.33"), Decimal("0.33")]  # fmt: skip
    assert round_shares(Decimal(5), [Decimal(0), Decimal(0)], 2) == [Decimal(0), Decimal(0)]


@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.decimals(min_value=0, max_value=10**12, places=6), min_size=1,
                     max_size=8),
)  # fmt: skip
def test_round_shares_properties(total: int, weights: list[Decimal]) -> None:
    shares = round_shares(Decimal(total), weights, 15)
    if sum(weights) == 0:
        return
    assert sum(shares) == Decimal(total)
    unit = Decimal("1e-15")
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share - Decimal(total) * weight / sum(weights)) < unit
