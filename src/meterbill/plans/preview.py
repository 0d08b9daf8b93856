"""A plan's price for a few unit counts, for one full billing period, as billing prices it.

Each charge is priced by the charge models (meterbill.pricing) with its own properties:
the price of usage that matches none of its filters, in one group. A charge minimum
(min_amount_cents) adds its true-up, as on an invoice of a full period. What only real
events decide is stated rather than guessed: a dynamic charge's price comes with its
events, and a percentage charge is shown as if every unit were one event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from meterbill import pricing
from meterbill.plans.models import Charge, Plan

DEFAULT_UNITS = (0, 10, 100, 1000)
# The most units the page accepts in its ?units= (the charge models take any Decimal;
# this only keeps a typed-in figure to something a person means).
UNITS_MAX = Decimal(10) ** 12


@dataclass(frozen=True)
class ChargePrice:
    """One charge's amount for the row's units (true-up included), in minor units."""

    amount_cents: int
    true_up_cents: int


@dataclass(frozen=True)
class PreviewRow:
    units: Decimal
    charges: list[ChargePrice]
    # The plan's subscription fee plus every charge.
    total_cents: int


def preview(
    plan: Plan, charges: Sequence[Charge], unit_counts: Sequence[Decimal]
) -> list[PreviewRow]:
    """For each unit count, what each charge bills for that usage in one period and the
    period's total (the plan's base amount included)."""
    rows = []
    for units in unit_counts:
        prices = [_charge_price(charge, units, plan.amount_currency) for charge in charges]
        total = plan.amount_cents + sum(p.amount_cents + p.true_up_cents for p in prices)
        rows.append(PreviewRow(units=units, charges=prices, total_cents=total))
    return rows


def _charge_price(charge: Charge, units: Decimal, currency: str) -> ChargePrice:
    usage = pricing.Usage(
        units=units,
        # Percentage charges count events (fixed fee, free events): one per unit here.
        events_count=int(units),
        currency=currency,
    )
    amount = pricing.compute(charge.charge_model, charge.properties, usage).cents(currency)
    # A full period: the minimum is not prorated.
    true_up = pricing.true_up_cents(charge.min_amount_cents, amount, 1, 1)
    return ChargePrice(amount_cents=amount, true_up_cents=true_up)


def unit_counts(extra: str | None) -> tuple[list[Decimal], Decimal | None]:
    """The default counts plus the one typed in (when it is a number of units), sorted;
    the typed one is also returned (None when absent or not a count)."""
    counts = [Decimal(n) for n in DEFAULT_UNITS]
    chosen = _units(extra)
    if chosen is not None and chosen not in counts:
        counts.append(chosen)
    return sorted(counts), chosen


def _units(raw: str | None) -> Decimal | None:
    if not raw or not raw.strip():
        return None
    try:
        value = Decimal(raw.strip())
    except ArithmeticError:
        return None
    if not value.is_finite() or value < 0 or value > UNITS_MAX:
        return None
    # Sums may bring fractional units; four decimals are plenty for a preview.
    return value.quantize(Decimal("0.0001")).normalize() if value % 1 else Decimal(int(value))
