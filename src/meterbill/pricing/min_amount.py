"""A charge's minimum spend (min_amount_cents) and the true-up it produces."""

from __future__ import annotations

from decimal import Decimal

from meterbill.core.money import round_half_up


def true_up_cents(
    min_amount_cents: int, used_amount_cents: int, duration_days: int, billed_days: int
) -> int:
    """Cents to add so the period's charge fees reach the (prorated) minimum; 0 if reached."""
    if min_amount_cents <= 0 or duration_days <= 0:
        return 0
    prorated = Decimal(min_amount_cents) / Decimal(duration_days) * Decimal(billed_days)
    return max(int(round_half_up(prorated - Decimal(used_amount_cents))), 0)
