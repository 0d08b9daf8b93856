"""What every charge model takes (Usage) and returns (ChargeAmount), and the fee figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meterbill.core.money import precise_cents, subunit_to_unit, to_cents

ZERO = Decimal(0)


def _exact(value: Any, name: str) -> Decimal:
    # A float here would already have lost the exact figure Lago bills on.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal or an int, not {type(value).__name__}")
    return Decimal(value)


@dataclass(frozen=True)
class Usage:
    """Aggregated usage of one charge (or one filter / group of it) for one period."""

    units: Decimal
    events_count: int = 0
    # Per-event values in timestamp order. Only percentage reads them (running totals for
    # free units, per-transaction min/max); None means a count-like metric where every
    # event weighs one unit.
    event_values: Sequence[Decimal] | None = None
    # Σ precise_total_amount_cents of the events: the dynamic model's price.
    precise_total_amount_cents: Decimal = ZERO
    # Only needed by dynamic, to turn those cents into major units.
    currency: str | None = None
    # Unprorated total of a prorated charge: volume picks its tier with it and most models
    # divide by it for unit_amount, while `units` (prorated) is what gets priced.
    full_units: Decimal | None = None
    # A prorated charge's usage as it built up: (full units, prorated units) of each step
    # in time order, the level carried into the period first. Only prorated graduated
    # reads them: each step's units fall in the tiers its running total crosses.
    prorated_steps: Sequence[tuple[Decimal, Decimal]] | None = None
    # The highest running total of those units, event by event (a day's steps net out
    # what rose and fell within it): prorated graduated adds the flat amount of every
    # tier it reached.
    peak_units: Decimal | None = None

    def __post_init__(self) -> None:
        # Frozen: normalise once, here, so every model can rely on Decimals and a tuple.
        set_ = object.__setattr__
        set_(self, "units", _exact(self.units, "units"))
        amount = _exact(self.precise_total_amount_cents, "precise_total_amount_cents")
        set_(self, "precise_total_amount_cents", amount)
        if self.full_units is not None:
            set_(self, "full_units", _exact(self.full_units, "full_units"))
        if self.peak_units is not None:
            set_(self, "peak_units", _exact(self.peak_units, "peak_units"))
        if self.event_values is not None:
            values = tuple(_exact(value, "event value") for value in self.event_values)
            set_(self, "event_values", values)
        if self.prorated_steps is not None:
            steps = tuple(
                (_exact(full, "step units"), _exact(prorated, "step prorated units"))
                for full, prorated in self.prorated_steps
            )
            set_(self, "prorated_steps", steps)
        if isinstance(self.events_count, bool) or not isinstance(self.events_count, int):
            raise TypeError("events_count must be an int")

    @property
    def total_units(self) -> Decimal:
        """The units unit_amount is divided by (Lago's `full_units_number || units`)."""
        return self.units if self.full_units is None else self.full_units


@dataclass(frozen=True)
class FeeAmounts:
    """A charge amount as the fee columns hold it, in the currency's minor units."""

    amount_cents: int
    precise_amount_cents: Decimal
    unit_amount_cents: int
    precise_unit_amount: Decimal


@dataclass(frozen=True)
class ChargeAmount:
    """A charge model's result in the currency's major units, unrounded, as Lago computes it
    before creating the fee."""

    amount: Decimal
    unit_amount: Decimal
    amount_details: dict[str, Any] = field(default_factory=dict)

    def cents(self, currency: str) -> int:
        return to_cents(self.amount, currency)

    def precise_cents(self, currency: str) -> Decimal:
        return precise_cents(self.amount, currency)

    def fee_amounts(self, currency: str) -> FeeAmounts:
        return fee_amounts(self, currency)


def fee_amounts(charge: ChargeAmount, currency: str) -> FeeAmounts:
    """The fee's figures for `charge` in `currency`.

    amount_cents is rounded half-up at the currency's exponent. unit_amount_cents is
    truncated, not rounded: Lago assigns the unrounded product to a bigint column and
    Rails casts with `to_i`. Lago stores the two precise figures at 15 decimals
    (numeric(40,15) / numeric(30,15)); they are returned unrounded here.
    """
    return FeeAmounts(
        amount_cents=to_cents(charge.amount, currency),
        precise_amount_cents=precise_cents(charge.amount, currency),
        unit_amount_cents=int(charge.unit_amount * subunit_to_unit(currency)),
        precise_unit_amount=charge.unit_amount,
    )


def per_unit(amount: Decimal, units: Decimal) -> Decimal:
    return amount / units if units else ZERO
