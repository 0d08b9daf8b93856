"""Credits and money of a wallet (billing.md §9.1): one credit is worth `rate_amount`.

Only whole minor units of money can be bought or spent, so credits given in a request
are floored to 5 decimals, turned into money rounded to the currency's exponent, and
turned back into the credits that money is worth.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from meterbill.core.money import from_cents, round_half_up, to_cents

CREDIT_PLACES = 5


def floor_credits(credits: Decimal) -> Decimal:
    return credits.quantize(Decimal(1).scaleb(-CREDIT_PLACES), rounding=ROUND_FLOOR)


def cents_of_credits(credits: Decimal, rate_amount: Decimal, currency: str) -> int:
    """The money `credits` are worth, in minor units (floored credits, half-up money)."""
    return to_cents(floor_credits(credits) * rate_amount, currency)


def credits_of_cents(cents: int, rate_amount: Decimal, currency: str) -> Decimal:
    """The credits `cents` buy, at the 5 decimals Lago stores credits with."""
    return round_half_up(from_cents(cents, currency) / rate_amount, CREDIT_PLACES)
