"""Prorated graduated charges on a recurring unique count, as Lago's scenario spec
current_usage/by_charge_model/prorated_graduated_spec.rb ("with unique_count_agg") has
them: a plan of 0 (monthly, calendar, UTC) with one prorated graduated charge on the
values of `amount`, usage read after each add or remove.

Each value counts for the days it is active in the period, its removal day included;
its unit lands in the tier of the running count when it comes; flat amounts of the tiers
reached are not prorated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import terminate

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True

TWO_TIERS = [
    {"from_value": 0, "to_value": 1, "per_unit_amount": "10", "flat_amount": "100"},
    {"from_value": 2, "to_value": None, "per_unit_amount": "5", "flat_amount": "50"},
]


def start(database: Database, org: Org, ranges: list[dict[str, Any]],
          at: datetime = utc(2023, 9, 1), **subscription: Any) -> Billing:  # fmt: skip
    billing = Billing(database, org)
    metric_id = billing.metric("m", "unique_count_agg", field_name="amount", recurring=True)
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "graduated",
                        "prorated": True, "properties": {"graduated_ranges": ranges}}])  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", at, **subscription)
    return billing


def step(billing: Billing, at: datetime, value: str, operation: str = "add") -> tuple[int, str]:
    billing.events("sub", "m", (at, {"amount": value, "operation_type": operation}))
    return read(billing, at.replace(hour=at.hour + 1))


def read(billing: Billing, now: datetime) -> tuple[int, str]:
    usage = billing.usage("cus", "sub", now)
    return usage["amount_cents"], usage["charges_usage"][0]["units"]


def test_two_tiers(database: Database, org: Org) -> None:
    billing = start(database, org, TWO_TIERS)
    seen = [
        # 21 of 30 days in tier 1: 100 + 7.
        step(billing, utc(2023, 9, 10), "1111"),
        # Gone on the 12th: 3 days, 100 + 1.
        step(billing, utc(2023, 9, 12), "1111", "remove"),
        # Back from the 14th: 3 + 17 days.
        step(billing, utc(2023, 9, 14), "1111"),
        # A second value lands in tier 2 (flat 50) for 16 days: + 50 + 2.67.
        step(billing, utc(2023, 9, 15), "2222"),
        # Already there: nothing changes.
        step(billing, utc(2023, 9, 16), "2222"),
        # A third for 11 days: + 1.83.
        step(billing, utc(2023, 9, 20), "3333"),
    ]
    assert seen == [(10_700, "1.0"), (10_100, "0.0"), (10_667, "1.0"), (15_933, "2.0"),
                    (15_933, "2.0"), (16_117, "3.0")]  # fmt: skip
    billing.tick(utc(2023, 10, 1))
    assert [invoice.total_amount_cents for invoice in billing.invoices()] == [16_117]
    # All three for the whole of October: 100 + 10 + 50 + 5 + 5.
    assert read(billing, utc(2023, 10, 5)) == (17_000, "3.0")
    # A fourth for 15 of 31 days: + 2.42.
    assert step(billing, utc(2023, 10, 17), "4444") == (17_242, "4.0")
    assert read(billing, utc(2023, 11, 5)) == (17_500, "4.0")


def test_a_removal_in_the_next_period(database: Database, org: Org) -> None:
    billing = start(database, org, TWO_TIERS)
    assert step(billing, utc(2023, 9, 10), "1111") == (10_700, "1.0")
    billing.tick(utc(2023, 10, 1))
    assert read(billing, utc(2023, 10, 5)) == (11_000, "1.0")
    # Active Oct 1 to 17 of 31 days: 100 + 5.48.
    assert step(billing, utc(2023, 10, 17), "1111", "remove") == (10_548, "0.0")
    # Another from the 19th takes the first tier again: + 4.19.
    assert step(billing, utc(2023, 10, 19), "2222") == (10_968, "1.0")
    billing.tick(utc(2023, 11, 1))
    assert [invoice.total_amount_cents for invoice in billing.invoices()] == [10_700, 10_968]
    assert read(billing, utc(2023, 11, 5)) == (11_000, "1.0")


def test_several_values_on_one_day(database: Database, org: Org) -> None:
    ranges = [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
        {"from_value": 6, "to_value": None, "per_unit_amount": "5", "flat_amount": "50"},
    ]
    billing = start(database, org, ranges)
    seen = [step(billing, utc(2023, 10, 10), "1111")]
    seen += [step(billing, utc(2023, 10, 20, n), value)
             for n, value in enumerate(["2222", "3333", "4444", "5555"])]  # fmt: skip
    seen.append(step(billing, utc(2023, 10, 25), "6666"))
    # 22 of 31 days at 10; four for 12 days at 10; the sixth in tier 2 for 7 days at 5.
    assert seen == [(10_710, "1.0"), (11_097, "2.0"), (11_484, "3.0"), (11_871, "4.0"),
                    (12_258, "5.0"), (17_371, "6.0")]  # fmt: skip
    billing.tick(utc(2023, 11, 1))
    # Lago's spec bills no Oct 1; meterbill's clock does (README, "Deliberate
    # differences"): September without values, the first tier's flat 100.
    assert [invoice.total_amount_cents for invoice in billing.invoices()] == [10_000, 17_371]
    assert read(billing, utc(2023, 11, 5)) == (20_500, "6.0")


def test_termination_prorates_every_value(database: Database, org: Org) -> None:
    ranges = [
        {"from_value": 0, "to_value": 1, "per_unit_amount": "5", "flat_amount": "10"},
        {"from_value": 2, "to_value": None, "per_unit_amount": "15", "flat_amount": "30"},
    ]
    billing = start(database, org, ranges, utc(2023, 10, 1))
    billing.events("sub", "m", (utc(2023, 10, 5), {"amount": "1111"}))
    # 1111 for the whole of December.
    assert read(billing, utc(2023, 12, 7)) == (1_500, "1.0")
    # 2222 in tier 2 for 25 of 31 days: + 30 + 12.10.
    assert step(billing, utc(2023, 12, 7), "2222") == (5_710, "2.0")
    terminate(billing, "sub", utc(2023, 12, 7, 2))
    billing.tick(utc(2023, 12, 7, 3))
    # Lago's spec bills only the termination; meterbill's clock also bills Nov 1 and
    # Dec 1 (README, "Deliberate differences"): 1111 for 27 of 31 days, then all of
    # November. The termination: 1111 for 7 days, 2222 for 1, and both flats.
    assert [invoice.total_amount_cents for invoice in billing.invoices()] == [
        1_435, 1_500, 4_161]  # fmt: skip


def test_a_value_gone_before_the_period_takes_no_tier(database: Database, org: Org) -> None:
    ranges = [
        {"from_value": 0, "to_value": 1, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 2, "to_value": None, "per_unit_amount": "10", "flat_amount": "0"},
    ]
    billing = start(database, org, ranges, utc(2024, 10, 1))
    for day, value, operation in ((5, "73283", "add"), (6, "73290", "add"),
                                  (7, "78924", "add"), (25, "73290", "remove")):  # fmt: skip
        billing.events("sub", "m", (utc(2024, 10, day), {"amount": value,
                                                        "operation_type": operation}))  # fmt: skip
    billing.tick(utc(2024, 11, 1))
    # In November two values are left: the first free, the second at 10.
    assert read(billing, utc(2024, 11, 15)) == (1_000, "2.0")
    billing.tick(utc(2024, 12, 1))
    assert billing.invoices()[-1].total_amount_cents == 1_000


def test_comings_and_goings_within_the_free_tier(database: Database, org: Org) -> None:
    ranges = [
        {"from_value": 0, "to_value": 3, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 4, "to_value": None, "per_unit_amount": "10", "flat_amount": "0"},
    ]
    billing = start(database, org, ranges, utc(2025, 5, 21, 4, 31, 39), billing_time="anniversary")
    for at, value, operation in ((utc(2025, 5, 21), "49303", "add"),
                                 (utc(2025, 5, 31), "49067", "add"),
                                 (utc(2025, 7, 23), "62741", "add"),
                                 (utc(2025, 7, 24), "49067", "remove"),
                                 (utc(2025, 7, 24, 1), "63011", "add")):  # fmt: skip
        billing.events("sub", "m", (at, {"amount": value, "operation_type": operation}))
    # Never more than three at once: all free.
    assert read(billing, utc(2025, 8, 19, 18))[0] == 0
