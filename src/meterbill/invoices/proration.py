"""The plan fee for a run of days: the whole amount, or its days at the period's day price.

billing.md §4.6: the day price divides by the length of the whole period containing
the days; days are local calendar days, inclusive; days inside a trial are free; the
result is rounded half-up to whole minor units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from meterbill.core.money import round_half_up
from meterbill.core.periods import Period


@dataclass(frozen=True)
class PlanFee:
    amount_cents: int
    precise_amount_cents: Decimal
    days: int


def billed_days(full: Period, first: date, last: date, trial_end: date | None) -> int:
    """Days from `first` to `last` (inclusive, clamped to `full`) outside the trial."""
    start = max(first, full.start)
    if trial_end is not None:
        start = max(start, trial_end)
    end = min(last, full.end)
    return max((end - start).days + 1, 0)


def plan_fee(
    amount_cents: int, full: Period, first: date, last: date, trial_end: date | None = None
) -> PlanFee:
    """The plan fee for local days `first`..`last` of the period `full`."""
    days = billed_days(full, first, last, trial_end)
    if days == full.days:
        # A full period is the plan's amount, not a sum of day prices.
        return PlanFee(amount_cents, Decimal(amount_cents), days)
    precise = Decimal(amount_cents) * Decimal(days) / Decimal(full.days)
    return PlanFee(int(round_half_up(precise)), precise, days)


def trial_end_date(started: date, trial_period_days: Decimal | None) -> date | None:
    """The first paid local day, or None without a trial.

    A fractional trial ends during its last day, which is then already paid.
    """
    if not trial_period_days:
        return None
    return started + timedelta(days=int(trial_period_days))
