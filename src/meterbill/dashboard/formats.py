"""How the dashboard shows money and dates: one formatter each, used by every page.

Money arrives as integer minor units and becomes a Decimal of major units at the
currency's ISO 4217 exponent (JPY 0, EUR 2, KWD 3) before Babel adds the symbol:
never a float. Instants are shown in the organization's timezone; billing periods
(plain dates) are already in the customer's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, format_decimal

from meterbill.core.money import CURRENCIES, exponent, from_cents, round_half_up, subunit_to_unit

if TYPE_CHECKING:
    from meterbill.plans.models import Plan

LOCALE = "en"

# Every currency, as a select offers them.
CURRENCY_OPTIONS = [(code, code) for code in sorted(CURRENCIES)]

# Plan intervals as pages name them.
INTERVALS = {
    "weekly": "Weekly",
    "monthly": "Monthly",
    "quarterly": "Quarterly",
    "semiannual": "Semiannual",
    "yearly": "Yearly",
}


def money(cents: int | Decimal | None, currency: str | None) -> str:
    """Minor units to money: `1234` EUR -> "€12.34", with the currency's own number of
    decimals always shown. A precise Decimal of minor units is rounded half-up, as Lago
    rounds, to the currency's minor unit."""
    if cents is None:
        return "-"
    if not currency:
        return format_decimal(Decimal(cents), locale=LOCALE)
    places = exponent(currency)
    amount = (
        from_cents(cents, currency)
        if isinstance(cents, int)
        else round_half_up(Decimal(cents) / subunit_to_unit(currency), places)
    )
    pattern = "¤#,##0" + ("." + "0" * places if places else "")
    return format_currency(amount, currency, format=pattern, locale=LOCALE, currency_digits=False)


def typed_amount(cents: int | None, currency: str | None) -> str:
    """Minor units as a person types them in an amount field (1050 EUR -> "10.50"); an
    unknown currency's raw figure, "" for none."""
    if cents is None:
        return ""
    if currency not in CURRENCIES:
        return str(cents)
    return f"{from_cents(cents, currency):.{exponent(currency)}f}"


def number(value: int | Decimal | str | None) -> str:
    """Units and credits as exact decimals, trailing zeros dropped ("12.5", "3")."""
    if value is None:
        return "-"
    exact = Decimal(value)
    text = format(exact.normalize(), "f") if exact == exact.to_integral() else str(exact)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, _, fraction = text.partition(".")
    grouped = format_decimal(Decimal(whole), locale=LOCALE)
    return f"{grouped}.{fraction}" if fraction else grouped


def local_datetime(instant: datetime | None, timezone: str) -> str:
    """An instant in the given timezone, e.g. "Jan 15, 2026, 13:00"."""
    if instant is None:
        return "-"
    local = instant.astimezone(ZoneInfo(timezone))
    return local.strftime("%b %-d, %Y, %H:%M")


def local_date(instant: datetime | date | None, timezone: str | None = None) -> str:
    """A date: an instant is first moved to `timezone`; a plain date is shown as is."""
    if instant is None:
        return "-"
    if isinstance(instant, datetime):
        instant = instant.astimezone(ZoneInfo(timezone or "UTC")).date()
    return instant.strftime("%b %-d, %Y")


def plan_label(plan: Plan) -> str:
    """A plan as a picker lists it: "Pro (pro) · Monthly · €49.00"."""
    interval = INTERVALS.get(plan.interval, plan.interval)
    return (
        f"{plan.name} ({plan.code}) · {interval} · {money(plan.amount_cents, plan.amount_currency)}"
    )
