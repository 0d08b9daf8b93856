"""percentage: a rate on the aggregated value, with free units, a fixed fee per event and
optional per-transaction minimum and maximum (billing.md §2.3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import repeat
from typing import Any

from meterbill.pricing.parsing import decimal_of, decimal_or_none, option, present
from meterbill.pricing.result import ZERO, ChargeAmount, Usage, per_unit
from meterbill.pricing.validation import ErrorBag, Errors, is_amount, is_count

HUNDRED = Decimal(100)
ONE = Decimal(1)


@dataclass(frozen=True)
class Terms:
    rate: Decimal  # in percent
    fixed: Decimal  # per paid event; 0 when absent
    free_events: int  # free_units_per_events; 0 when absent
    free_total: Decimal  # free_units_per_total_aggregation; 0 when absent
    minimum: Decimal | None  # per transaction
    maximum: Decimal | None

    @classmethod
    def of(cls, properties: Mapping[str, Any]) -> Terms:
        # Ruby's `to_i`: whatever is not a number counts as no free events.
        events = int(decimal_of(properties.get("free_units_per_events")))
        return cls(
            rate=decimal_of(properties.get("rate")),
            fixed=decimal_of(properties.get("fixed_amount")),
            free_events=events,
            free_total=decimal_of(properties.get("free_units_per_total_aggregation")),
            minimum=option(properties, "per_transaction_min_amount"),
            maximum=option(properties, "per_transaction_max_amount"),
        )

    @property
    def has_free_units(self) -> bool:
        return self.free_events != 0 or self.free_total != 0

    @property
    def per_transaction(self) -> bool:
        return self.minimum is not None or self.maximum is not None


@dataclass(frozen=True)
class RunningTotal:
    """Lago's running total: cumulative event values, used to find the free value.

    For a count-like metric it is 1, 2, … units, kept as a length so that a large count
    does not build a list. For a value metric it covers the first `free_units_per_events`
    events, or, with only a free total, the events up to the one that goes past it.
    """

    totals: tuple[Decimal, ...] = ()
    # Count-like: the totals are 1..counting_to. With no totals and 0 here it is empty.
    counting_to: int = 0

    @classmethod
    def of(cls, usage: Usage, terms: Terms) -> RunningTotal:
        if not terms.has_free_units:
            return cls()
        if usage.event_values is None:
            return cls(counting_to=int(max(usage.units, ZERO).to_integral_value(ROUND_FLOOR)))
        values = usage.event_values
        totals: list[Decimal] = []
        total = ZERO
        if terms.free_events:
            for value in values[: terms.free_events]:
                total += value
                totals.append(total)
        else:
            for value in values:
                if total > terms.free_total:
                    break
                total += value
                totals.append(total)
        return cls(totals=tuple(totals))

    @property
    def size(self) -> int:
        return len(self.totals) if self.totals else self.counting_to

    @property
    def last(self) -> Decimal:
        return self.totals[-1] if self.totals else Decimal(self.counting_to)

    def nth(self, position: int) -> Decimal:
        """1-based, as `free_units_per_events` counts."""
        return self.totals[position - 1] if self.totals else Decimal(position)

    def count_below(self, limit: Decimal) -> int:
        if self.totals:
            return sum(1 for total in self.totals if total < limit)
        # Among 1..n, the integers below `limit` are 1..ceil(limit) − 1.
        below = int(limit.to_integral_value(ROUND_CEILING)) - 1
        return min(max(below, 0), self.counting_to)


def free_value(running: RunningTotal, terms: Terms) -> Decimal:
    """The part of the units that is free."""
    if running.last == 0:
        return ZERO
    if 0 < terms.free_events < running.size:
        return running.nth(terms.free_events)
    if terms.free_total == 0:
        return running.last
    return min(running.last, terms.free_total)


def free_count(running: RunningTotal, terms: Terms) -> int:
    """How many events are free of the fixed fee: the smaller non-zero of the two limits."""
    limits = [terms.free_events, running.count_below(terms.free_total)]
    return min((limit for limit in limits if limit != 0), default=0)


def per_transaction_total(values: Iterable[Decimal], terms: Terms) -> Decimal:
    """Each event priced alone (rate + fixed fee) and clamped to [min, max].

    Free events and the free total are used up first, in event order; an event the free
    total covers only in part is priced on the rest, and that ends every allowance.
    The free total keeps applying after the free events are used up (Lago's `or`).
    """
    events_left = terms.free_events
    free_left = terms.free_total
    total = ZERO
    for event_value in values:
        value = event_value
        if events_left > 0 or free_left > 0:
            events_left -= 1
            if free_left <= 0:
                continue
            # Strictly greater: an event equal to what is left is priced on 0, so it
            # still costs the fixed fee or the minimum, as in Lago.
            if free_left > value:
                free_left -= value
                continue
            value -= free_left
            free_left = ZERO
            events_left = 0
        cost = value * terms.rate / HUNDRED + terms.fixed
        if terms.minimum is not None and cost < terms.minimum:
            cost = terms.minimum
        elif terms.maximum is not None and cost > terms.maximum:
            cost = terms.maximum
        total += cost
    return total


def compute(properties: Mapping[str, Any], usage: Usage) -> ChargeAmount:
    terms = Terms.of(properties)
    running = RunningTotal.of(usage, terms)
    free = free_value(running, terms)
    free_events = free_count(running, terms)
    units, count = usage.units, usage.events_count

    rate_amount = ZERO if free > units else (units - free) * terms.rate / HUNDRED
    no_fixed_fee = units == 0 or free_events >= count
    fixed_total = ZERO if no_fixed_fee else (count - free_events) * terms.fixed
    if terms.per_transaction:
        values = usage.event_values if usage.event_values is not None else repeat(ONE, count)
        amount = per_transaction_total(values, terms)
        adjustment = amount - rate_amount - fixed_total
    else:
        amount = rate_amount + fixed_total
        adjustment = ZERO

    shown_free_events = min(count, free_events)
    paid_events = count - shown_free_events
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, usage.total_units),
        amount_details={
            "units": units,
            "free_units": free,
            "free_events": shown_free_events,
            "paid_units": max(units - free, ZERO),
            "rate": terms.rate,
            "per_unit_total_amount": rate_amount,
            "paid_events": paid_events,
            "fixed_fee_unit_amount": terms.fixed if paid_events > 0 else ZERO,
            "fixed_fee_total_amount": fixed_total,
            # What the per-transaction bounds added (or took off) over the plain formula.
            "min_max_adjustment_total_amount": adjustment,
        },
    )


def validate(properties: Mapping[str, Any]) -> Errors:
    bag = ErrorBag()
    if not is_amount(properties.get("rate")):
        bag.add("rate", "invalid_rate")
    optional_amounts = ("fixed_amount", "free_units_per_total_aggregation")
    for key in optional_amounts:
        if properties.get(key) is not None and not is_amount(properties[key]):
            bag.add(key, f"invalid_{key}")
    events = properties.get("free_units_per_events")
    if events is not None and not is_count(events, minimum=1):
        bag.add("free_units_per_events", "invalid_free_units_per_events")
    # The per-transaction bounds are checked only when given (blank counts as not given)
    # and, unlike the other options, report the generic code.
    low, high = (
        properties.get("per_transaction_min_amount"),
        properties.get("per_transaction_max_amount"),
    )
    for key, value in (("per_transaction_min_amount", low), ("per_transaction_max_amount", high)):
        if present(value) and not is_amount(value):
            bag.add(key, "invalid_amount")
    if present(low) and present(high):
        low_number, high_number = decimal_or_none(low), decimal_or_none(high)
        if low_number is not None and high_number is not None and low_number > high_number:
            bag.add(
                "per_transaction_max_amount", "per_transaction_max_lower_than_per_transaction_min"
            )
    return bag.errors


def default_properties() -> dict[str, Any]:
    return {"rate": "0"}
