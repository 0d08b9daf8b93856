"""Money: integer minor units at the edges, Decimal inside, half-up rounding.

Lago rounds with Ruby's BigDecimal#round, which is half away from zero; Python's
built-in round() is half-even, so every rounding goes through this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from functools import cache

from babel.numbers import get_currency_precision

# ISO 4217 codes Lago accepts for customers, plans, coupons and wallets (its
# `Currencies` concern). The list is case-sensitive: "eur" is not a currency.
CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD
    BWP BYN BZD CAD CDF CHF CLF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IRR ISK JMD JOD
    JPY KES KGS KHR KMF KRW KWD KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP
    MRO MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SEK SGD SHP SLL SOS SRD STD SZL THB TJS TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
    """.split()
)


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in CURRENCIES


@cache
def exponent(currency: str) -> int:
    """Number of decimal digits of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(currency))


def subunit_to_unit(currency: str) -> int:
    return 10 ** exponent(currency)


def round_half_up(value: Decimal, places: int = 0) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal, currency: str) -> int:
    """Major-unit amount -> integer minor units, rounded half-up at the currency's exponent."""
    return int(round_half_up(amount * subunit_to_unit(currency)))


def precise_cents(amount: Decimal, currency: str) -> Decimal:
    """Major-unit amount -> minor units without rounding (Lago's precise_amount_cents)."""
    return amount * subunit_to_unit(currency)


def from_cents(cents: int, currency: str) -> Decimal:
    return Decimal(cents) / subunit_to_unit(currency)


def decimal_string(value: Decimal) -> str:
    """Render a Decimal the way Rails renders BigDecimal in JSON: "4.0", "0.5", "12.345"."""
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1))}.0"
    return format(value.normalize(), "f")


def round_shares(total: Decimal, weights: Sequence[Decimal], places: int) -> list[Decimal]:
    """`total` split in proportion to `weights`, each share to `places` decimals, the shares
    summing to `total` exactly (largest remainder; ties to the earlier weight).

    Proportional shares computed one by one carry the context's rounding into their sum
    (5870 spread on 62 and 323383 sums to 5870.000...001), and a tax on a sum that sits
    on a half cent then rounds the other way on the invoice and on its credit notes.
    `total` must be a multiple of 10^-places; zero weights get zero."""
    unit = Decimal(1).scaleb(-places)
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        return [Decimal(0) for _weight in weights]
    with localcontext() as context:
        context.prec = 80
        exact = [total * weight / weight_sum for weight in weights]
        floors = [value.quantize(unit, rounding=ROUND_FLOOR) for value in exact]
        left = int((total - sum(floors, Decimal(0))) / unit)
        by_remainder = sorted(range(len(exact)), key=lambda i: (floors[i] - exact[i], i))
        for index in by_remainder[:left]:
            floors[index] += unit
    return floors
