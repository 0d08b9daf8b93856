"""percentage: a rate on the aggregated value, with free units, a fixed fee per event,
and optional per-transaction minimum and maximum."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from meterbill.pricing.result import ZERO, ChargeAmount, Usage, decimal_of, per_unit

HUNDRED = Decimal(100)


def _optional(properties: dict[str, Any], key: str) -> Decimal | None:
    value = properties.get(key)
    return None if value in (None, "") else Decimal(str(value))


def _event_values(usage: Usage) -> Sequence[Decimal]:
    # Count-like metrics have no values: every event weighs one unit.
    if usage.event_values is not None:
        return usage.event_values
    return [Decimal(1)] * usage.events_count


def _free_allowance(
    values: Sequence[Decimal], free_events: int, free_total: Decimal | None
) -> tuple[Decimal, int]:
    """Lago's free value and the number of events it covers completely."""
    if not free_events and free_total is None:
        return ZERO, 0
    considered = values[:free_events] if free_events else values
    running: list[Decimal] = []
    total = ZERO
    for value in considered:
        total += value
        running.append(total)
    if not running:
        return ZERO, 0
    free_value = running[-1] if free_total is None else min(running[-1], free_total)
    covered = [free_events] if free_events else []
    if free_total is not None:
        covered.append(sum(1 for item in running if item < free_total))
    counts = [count for count in covered if count]
    return free_value, min(counts) if counts else 0


def percentage(properties: dict[str, Any], usage: Usage) -> ChargeAmount:
    rate = decimal_of(properties.get("rate"))
    fixed = _optional(properties, "fixed_amount")
    free_events = int(properties.get("free_units_per_events") or 0)
    free_total = _optional(properties, "free_units_per_total_aggregation")
    minimum = _optional(properties, "per_transaction_min_amount")
    maximum = _optional(properties, "per_transaction_max_amount")
    if free_total == ZERO:
        free_total = None

    if minimum is not None or maximum is not None:
        amount = _per_transaction(
            _event_values(usage), rate, fixed, free_events, free_total, minimum, maximum
        )
        return ChargeAmount(
            amount=amount, unit_amount=per_unit(amount, usage.units), amount_details={}
        )

    values = _event_values(usage) if (free_events or free_total is not None) else []
    free_value, free_count = _free_allowance(values, free_events, free_total)
    count = usage.events_count
    paid_units = max(usage.units - free_value, ZERO)
    rate_amount = ZERO if free_value > usage.units else paid_units * rate / HUNDRED
    paid_events = max(count - free_count, 0)
    fixed_total = (
        ZERO if usage.units == 0 or fixed is None or free_count >= count else paid_events * fixed
    )
    amount = rate_amount + fixed_total
    return ChargeAmount(
        amount=amount,
        unit_amount=per_unit(amount, usage.units),
        amount_details={
            "units": usage.units,
            "free_units": min(free_value, usage.units),
            "free_events": free_count,
            "paid_units": paid_units,
            "rate": rate,
            "per_unit_total_amount": rate_amount,
            "paid_events": paid_events,
            "fixed_fee_unit_amount": fixed or ZERO,
            "fixed_fee_total_amount": fixed_total,
            "min_max_adjustment_total_amount": ZERO,
        },
    )


def _per_transaction(
    values: Sequence[Decimal],
    rate: Decimal,
    fixed: Decimal | None,
    free_events: int,
    free_total: Decimal | None,
    minimum: Decimal | None,
    maximum: Decimal | None,
) -> Decimal:
    """Each event priced alone and clamped; free events and free value are used up first,
    in event order, and an event only partly covered ends the allowance."""
    has_allowance = bool(free_events) or free_total is not None
    slots = free_events if free_events else None
    remaining = free_total
    amount = ZERO
    for value in values:
        if has_allowance and (slots is None or slots > 0) and (remaining is None or remaining > 0):
            if remaining is None or value <= remaining:
                if remaining is not None:
                    remaining -= value
                if slots is not None:
                    slots -= 1
                continue
            value -= remaining
            has_allowance = False
        cost = value * rate / HUNDRED + (fixed or ZERO)
        if minimum is not None:
            cost = max(cost, minimum)
        if maximum is not None:
            cost = min(cost, maximum)
        amount += cost
    return amount
