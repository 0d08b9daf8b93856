"""Languages and formats of documents: message catalogs, money, dates, rates, addresses.

Catalogs are the `.po` files under `locales/`, compiled in memory on first use (no build
step, no `.mo` in git). A label missing from a catalog prints in English.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Protocol

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

from meterbill.core.money import exponent, round_half_up

LOCALES = ("en", "fr", "nb", "de", "it", "es", "sv", "pt-BR", "zh-TW")
DEFAULT_LOCALE = "en"
DOMAIN = "documents"
LOCALES_DIR = Path(__file__).parent / "locales"

# Lago's locale codes -> Babel's (also the catalog folder names).
_BABEL = {"pt-BR": "pt_BR", "zh-TW": "zh_Hant_TW"}
_FOLDER = {"pt-BR": "pt_BR", "zh-TW": "zh_TW"}
# Unit prices keep up to this many decimals (Lago keeps 6 significant digits).
UNIT_PRICE_PLACES = 6


class _HasLocale(Protocol):
    document_locale: str | None


def document_locale(customer: _HasLocale | None, organization: _HasLocale | None) -> str:
    """The customer's document locale, else the organization's, else English."""
    for holder in (customer, organization):
        value = getattr(holder, "document_locale", None) if holder is not None else None
        if value in LOCALES:
            return str(value)
    return DEFAULT_LOCALE


def _checked(locale: str) -> str:
    return locale if locale in LOCALES else DEFAULT_LOCALE


def babel_locale(locale: str) -> Locale:
    return Locale.parse(_BABEL.get(_checked(locale), _checked(locale)))


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of `locale`; English (the msgids themselves) for `en`, for an
    unknown locale and for any label a catalog lacks."""
    locale = _checked(locale)
    path = LOCALES_DIR / _FOLDER.get(locale, locale) / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT_LOCALE or not path.exists():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=_BABEL.get(locale, locale), domain=DOMAIN)
    buffer = BytesIO()
    # Fuzzy entries are left out, as msgfmt does: an unreviewed label prints in English.
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def gettext(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def format_money(amount_cents: int | Decimal, currency: str, locale: str) -> str:
    """Minor units as the locale writes money, at the currency's exponent:
    `format_money(123456, "EUR", "fr")` -> "1 234,56 €" (Babel's spaces)."""
    # Rounded half-up here: Babel would round half-even.
    cents = round_half_up(Decimal(amount_cents))
    major = cents.scaleb(-exponent(currency))
    return format_currency(major, currency, locale=babel_locale(locale))


def format_unit_price(amount: Decimal, currency: str, locale: str) -> str:
    """A unit price in major units: at least the currency's decimals, up to six."""
    rounded = amount.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES), rounding=ROUND_HALF_UP)
    if rounded == rounded.to_integral_value():
        rounded = rounded.quantize(Decimal(1))
    else:
        rounded = rounded.normalize()
    return format_currency(
        rounded, currency, locale=babel_locale(locale), decimal_quantization=False
    )


def format_date(value: date, locale: str) -> str:
    """The long date of the locale: "December 4, 2026", "4 décembre 2026", "2026年12月4日"."""
    return babel_format_date(value, format="long", locale=babel_locale(locale))


def format_units(value: Decimal | int, locale: str) -> str:
    """A quantity with its decimals trimmed: 1500 -> "1,500", 2.50 -> "2.5"."""
    number = Decimal(value)
    if number == number.to_integral_value():
        number = number.quantize(Decimal(1))
    else:
        number = number.normalize()
    return format_decimal(number, locale=babel_locale(locale), decimal_quantization=False)


def format_rate(percent: Decimal | int | float, locale: str) -> str:
    """A rate given in percent (20 -> "20%", 5.5 -> "5,5 %" in French)."""
    value = Decimal(str(percent)) / 100
    return format_percent(value, locale=babel_locale(locale), decimal_quantization=False)


def country_name(code: str | None, locale: str) -> str | None:
    if not code:
        return None
    return babel_locale(locale).territories.get(code.upper(), code.upper())


# How the city line(s) of a postal address read in each country. Fields: {city}, {zip},
# {state}; empty parts are dropped with the separators around them.
_CITY_LINES: dict[str, tuple[str, ...]] = {
    "US": ("{city}, {state} {zip}",),
    "CA": ("{city} {state} {zip}",),
    "AU": ("{city} {state} {zip}",),
    "GB": ("{city}", "{zip}"),
    "IE": ("{city}", "{zip}"),
    "BR": ("{city} - {state}", "{zip}"),
    "IT": ("{zip} {city} {state}",),
    "ES": ("{zip} {city}", "{state}"),
    "JP": ("{zip}", "{state}{city}"),
    "CN": ("{zip}", "{state}{city}"),
    "TW": ("{zip}", "{state}{city}"),
    "IN": ("{city} {zip}", "{state}"),
    "MX": ("{zip} {city}, {state}",),
}
_DEFAULT_CITY_LINES = ("{zip} {city}", "{state}")


def _fill(template: str, city: str, zipcode: str, state: str) -> str:
    text = template.format(city=city, zip=zipcode, state=state)
    # Drop the separators an empty field leaves behind.
    for empty in (" - ", ", "):
        text = text.strip().removeprefix(empty.strip()).removesuffix(empty.strip())
    text = " ".join(text.split())
    return text.strip(" ,-")


def address_lines(
    *,
    line1: str | None,
    line2: str | None,
    city: str | None,
    zipcode: str | None,
    state: str | None,
    country: str | None,
    locale: str,
) -> list[str]:
    """A postal address as the country writes it, the country's name in the locale."""
    lines = [line for line in (line1, line2) if line and line.strip()]
    code = (country or "").upper()
    parts = (city or "", zipcode or "", state or "")
    if any(part.strip() for part in parts):
        for template in _CITY_LINES.get(code, _DEFAULT_CITY_LINES):
            filled = _fill(template, *parts)
            if filled:
                lines.append(filled)
    name = country_name(code, locale)
    if name:
        lines.append(name)
    return lines
