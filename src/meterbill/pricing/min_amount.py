"""A charge's minimum spend (min_amount_cents) and the true-up fee that tops it up.

billing.md §2.5: when the period's fees of a charge (all filters and groups) come to less
than the minimum, prorated to the days billed, a true-up fee adds the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from meterbill.core.money import round_half_up, subunit_to_unit
from meterbill.pricing.result import ZERO


@dataclass(frozen=True)
class TrueUp:
    """The true-up fee's figures; it always has units 1 and events_count 0."""

    amount_cents: int
    precise_amount_cents: Decimal
    unit_amount_cents: int
    precise_unit_amount: Decimal


def prorated_min_amount_cents(
    min_amount_cents: int, charges_duration_days: int, billed_days: int
) -> Decimal:
    """The minimum for the days billed: `min / charges_duration × days`.

    Multiplied before dividing so that a full period gives back the minimum exactly
    (Lago divides first, in floats).
    """
    if charges_duration_days <= 0:
        return ZERO
    return Decimal(min_amount_cents) * Decimal(billed_days) / Decimal(charges_duration_days)


def true_up(
    min_amount_cents: int,
    used_amount_cents: int,
    used_precise_amount_cents: Decimal,
    charges_duration_days: int,
    billed_days: int,
    currency: str,
) -> TrueUp | None:
    """The true-up fee, or None when the fees already reach the prorated minimum."""
    minimum = prorated_min_amount_cents(min_amount_cents, charges_duration_days, billed_days)
    if used_amount_cents >= minimum:
        return None
    amount_cents = int(round_half_up(minimum - used_amount_cents))
    precise = minimum - used_precise_amount_cents
    return TrueUp(
        amount_cents=amount_cents,
        precise_amount_cents=precise,
        unit_amount_cents=amount_cents,
        precise_unit_amount=precise / subunit_to_unit(currency),
    )


def true_up_cents(
    min_amount_cents: int, used_amount_cents: int, duration_days: int, billed_days: int
) -> int:
    """Only the true-up's amount_cents; 0 when no true-up is due."""
    minimum = prorated_min_amount_cents(min_amount_cents, duration_days, billed_days)
    if used_amount_cents >= minimum:
        return 0
    return int(round_half_up(minimum - used_amount_cents))
