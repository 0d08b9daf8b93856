"""What every charge model takes and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meterbill.core.money import precise_cents, to_cents

ZERO = Decimal(0)


@dataclass(frozen=True)
class Usage:
    """Aggregated usage of one charge (or one filter / group of it) for a period."""

    units: Decimal
    events_count: int = 0
    # Per-event values in timestamp order; only the percentage model's free units
    # and per-transaction bounds need them.
    event_values: Sequence[Decimal] | None = None
    # Σ precise_total_amount_cents of the events, for the dynamic model.
    precise_total_amount_cents: Decimal = ZERO
    currency: str = "EUR"


@dataclass(frozen=True)
class ChargeAmount:
    """An amount in the currency's major units, unrounded, as Lago computes it."""

    amount: Decimal
    unit_amount: Decimal
    amount_details: dict[str, Any] = field(default_factory=dict)

    def cents(self, currency: str) -> int:
        return to_cents(self.amount, currency)

    def precise_cents(self, currency: str) -> Decimal:
        return precise_cents(self.amount, currency)


def per_unit(amount: Decimal, units: Decimal) -> Decimal:
    return amount / units if units else ZERO


def decimal_of(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else ZERO
