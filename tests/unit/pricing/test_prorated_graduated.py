"""Prorated graduated: each step's units priced in the tiers its running total crosses,
at the step's proration; flat amounts of every tier the running total reached."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from meterbill.pricing import Usage, compute

TIERS = {"graduated_ranges": [
    {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
    {"from_value": 6, "to_value": 15, "per_unit_amount": "5", "flat_amount": "50"},
    {"from_value": 16, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
]}  # fmt: skip


def prorated(full: int, days: int, of: int = 30) -> tuple[D, D]:
    return D(full), D(full) * D(days) / D(of)


def amount(steps: list[tuple[D, D]]) -> D:
    full = sum((f for f, _p in steps), D(0))
    units = sum((p for _f, p in steps), D(0))
    return compute("graduated", TIERS, Usage(units, full_units=full, prorated_steps=steps)).amount


def test_a_step_across_two_tiers_is_priced_in_each() -> None:
    # 2 for 21 days in tier 1; then 3 in tier 1 and 2 in tier 2 for 15 days.
    steps = [prorated(0, 30), prorated(2, 21), prorated(5, 15)]
    assert amount(steps) == D(100) + D(14) + D(15) + D(5) + D(50)


def test_a_removal_takes_units_out_from_the_top_and_flats_stay() -> None:
    steps = [prorated(0, 30), prorated(2, 21), prorated(5, 15), prorated(-6, 11)]
    # 2 out of tier 2 and 4 out of tier 1 at 11/30; tier 2's flat amount stays.
    expected = D(184) - D(2) * D(5) * D(11) / D(30) - D(4) * D(10) * D(11) / D(30)
    assert abs(amount(steps) - expected) < D("1e-20")


def test_details_hold_the_final_units_and_the_priced_parts() -> None:
    steps = [prorated(0, 30), prorated(7, 15)]
    result = compute("graduated", TIERS, Usage(D("3.5"), full_units=D(7), prorated_steps=steps))
    details = result.amount_details["graduated_ranges"]
    assert [(item["units"], item["per_unit_total_amount"]) for item in details] == [
        (D(5), D(25)), (D(2), D(5))]  # fmt: skip
    assert result.amount == D(180)


@given(st.lists(st.integers(min_value=0, max_value=40), max_size=6))
def test_without_proration_it_is_plain_graduated(values: list[int]) -> None:
    steps = [(D(value), D(value)) for value in values]
    total = D(sum(values))
    plain = compute("graduated", TIERS, Usage(total)).amount
    assert compute("graduated", TIERS, Usage(total, prorated_steps=steps)).amount == plain


def test_the_peak_adds_the_flat_amounts_of_the_tiers_it_reached() -> None:
    steps = [prorated(0, 30), prorated(2, 21)]
    usage = Usage(D("1.4"), full_units=D(2), prorated_steps=steps, peak_units=D(16))
    # Tiers 2 (50) and 3 (0) reached along the way.
    assert compute("graduated", TIERS, usage).amount == D(100) + D(14) + D(50)
