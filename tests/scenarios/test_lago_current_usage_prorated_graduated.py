"""Prorated graduated charges on a recurring sum, as Lago's scenario spec
current_usage/by_charge_model/prorated_graduated_spec.rb ("with sum_agg") has them: a
plan of 0 (monthly, calendar, UTC) with one prorated graduated charge, usage read after
each event and the invoices of the billing days, a termination and an upgrade.

Each event's units fall in the tiers its running total crosses and are priced there at
the share of the period left on the event's day; the level carried from earlier periods
counts for the days the subscription is active; the flat amounts of the tiers ever
reached are never prorated. The spec's unique_count_agg half is in
test_lago_prorated_graduated_unique.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import terminate

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True

THREE_TIERS = [
    {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
    {"from_value": 6, "to_value": 15, "per_unit_amount": "5", "flat_amount": "50"},
    {"from_value": 16, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
]  # fmt: skip


def free_then(price: str) -> list[dict[str, Any]]:
    return [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 6, "to_value": None, "per_unit_amount": price, "flat_amount": "0"},
    ]


def charge(metric_id: str, ranges: list[dict[str, Any]]) -> dict[str, Any]:
    return {"billable_metric_id": metric_id, "charge_model": "graduated", "prorated": True,
            "properties": {"graduated_ranges": ranges}}  # fmt: skip


def start(database: Database, org: Org, ranges: list[dict[str, Any]], at: datetime) -> Billing:
    billing = Billing(database, org)
    metric_id = billing.metric("m", "sum_agg", field_name="amount", recurring=True)
    billing.plan("p", [charge(metric_id, ranges)])
    billing.plan("bigger", [charge(metric_id, ranges)], amount_cents=100)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", at)
    return billing


def usage(billing: Billing, now: datetime) -> tuple[int, int, str]:
    found = billing.usage("cus", "sub", now)
    [charge_usage] = found["charges_usage"]
    return found["amount_cents"], found["total_amount_cents"], charge_usage["units"]


# September 2023 (30 days): value, then usage on that day (amount = total, units).
SEPTEMBER = [
    # 2 units in tier 1 for 21 days: 100 + 2 x 10 x 21/30 = 114.
    (10, "2", 11_400, "2.0"),
    # 3 more in tier 1, 2 in tier 2 (+ its flat 50), for 15 days: + 15 + 5 + 50.
    (16, "5", 18_400, "7.0"),
    # Back to 1: 2 out of tier 2 and 4 out of tier 1 for 11 days: - 3.67 - 14.67.
    (20, "-6", 16_567, "1.0"),
    # Up to 11: 4 in tier 1, 6 in tier 2, for 6 days: + 8 + 6.
    (25, "10", 17_967, "11.0"),
    # 4 in tier 2 for 5 days: + 3.33.
    (26, "4", 18_300, "15.0"),
    # 60 in tier 3 (flat 0) for 1 day: + 4.
    (30, "60", 18_700, "75.0"),
]


def september(billing: Billing, *, read: bool) -> list[tuple[int, int, str]]:
    seen = []
    for day, value, _amount, _units in SEPTEMBER:
        billing.events("sub", "m", (utc(2023, 9, day), {"amount": value}))
        if read:
            seen.append(usage(billing, utc(2023, 9, day, 1)))
    return seen


def test_three_tiers_through_two_months(database: Database, org: Org) -> None:
    billing = start(database, org, THREE_TIERS, utc(2023, 9, 1))
    # No usage: the first tier's flat amount.
    assert usage(billing, utc(2023, 9, 1, 1)) == (10_000, 10_000, "0.0")
    assert september(billing, read=True) == [
        (amount, amount, units) for _day, _value, amount, units in SEPTEMBER
    ]
    billing.tick(utc(2023, 10, 1))
    [invoice] = billing.invoices()
    assert (invoice.total_amount_cents, invoice.fee("m").units) == (18_700, 75)
    # October carries 75 units for the whole month: 150 + 50 + 100 + 60 x 2.
    assert usage(billing, utc(2023, 10, 5)) == (37_000, 37_000, "75.0")
    # 20 more in tier 3 for 15 of 31 days: + 19.35.
    billing.events("sub", "m", (utc(2023, 10, 17), {"amount": "20"}))
    assert usage(billing, utc(2023, 10, 17, 1)) == (38_935, 38_935, "95.0")


def test_events_before_the_subscription_are_carried(database: Database, org: Org) -> None:
    billing = start(database, org, free_then("12"), utc(2023, 12, 1))
    november = datetime.fromtimestamp(1_699_336_493, UTC)
    billing.events("sub", "m", (november, {"amount": "5"}), (november, {"amount": "5"}))
    # 10 carried for the whole of December: 5 free, 5 at 12.
    assert usage(billing, utc(2023, 12, 2)) == (6_000, 6_000, "10.0")
    billing.tick(utc(2024, 1, 1))
    assert [invoice.total_amount_cents for invoice in billing.invoices()] == [6_000]
    assert usage(billing, utc(2024, 1, 5)) == (6_000, 6_000, "10.0")
    # 2 more at 12 for 26 of 31 days: + 20.13.
    billing.events("sub", "m", (utc(2024, 1, 6), {"amount": "2"}))
    assert usage(billing, utc(2024, 1, 6, 1)) == (8_013, 8_013, "12.0")


def test_termination_prorates_the_carried_level(database: Database, org: Org) -> None:
    billing = start(database, org, free_then("10"), utc(2023, 10, 1))
    billing.events("sub", "m", (utc(2023, 10, 5), {"amount": "4"}),
                   (utc(2023, 10, 5), {"amount": "3"}))  # fmt: skip
    billing.events("sub", "m", (utc(2023, 11, 5), {"amount": "-1"}))
    # 6 carried into December: 1 unit at 10.
    assert usage(billing, utc(2023, 12, 7)) == (1_000, 1_000, "6.0")
    # 1 more for the 25 days left of 31: + 8.06.
    billing.events("sub", "m", (utc(2023, 12, 7), {"amount": "1"}))
    assert usage(billing, utc(2023, 12, 7, 0, 30)) == (1_806, 1_806, "7.0")
    terminate(billing, "sub", utc(2023, 12, 7, 0, 40))
    billing.tick(utc(2023, 12, 7, 1))
    # Lago's spec runs no billing on Nov 1 and Dec 1; meterbill's clock bills the days it
    # missed (README, "Deliberate differences"): October, 2 units at 10 for 27 of 31 days;
    # November, 2 carried at 10, then 1 out for 26 of 30 days.
    assert [(invoice.billing_date.isoformat(), invoice.total_amount_cents)
            for invoice in billing.invoices()] == [
        ("2023-11-01", 1_742), ("2023-12-01", 1_133),
        # The termination: 1 unit carried for 7 of 31 days, 1 added for 1 day.
        ("2023-12-07", 258),
    ]  # fmt: skip


def test_upgrade(database: Database, org: Org) -> None:
    billing = start(database, org, THREE_TIERS, utc(2023, 9, 1))
    september(billing, read=False)
    assert usage(billing, utc(2023, 9, 30, 1)) == (18_700, 18_700, "75.0")
    billing.tick(utc(2023, 10, 1))
    assert usage(billing, utc(2023, 10, 5)) == (37_000, 37_000, "75.0")
    billing.events("sub", "m", (utc(2023, 10, 17), {"amount": "20"}))
    assert usage(billing, utc(2023, 10, 17, 1)) == (38_935, 38_935, "95.0")
    body = {"external_customer_id": "cus", "plan_code": "bigger", "external_id": "sub"}
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True),
                            utc(2023, 10, 18, 5, 20))  # fmt: skip
    billing.tick(utc(2023, 11, 1))
    september_invoice, upgrade, november = billing.invoices()
    assert september_invoice.total_amount_cents == 18_700
    # The old plan to Oct 17: 75 carried for 17 of 31 days, 20 added for 1 day.
    assert (upgrade.total_amount_cents, upgrade.fee("m").units) == (27_323, 95)
    # The new plan from Oct 18: 95 carried for 14 of 31 days, and 100 x 14/31 = 45.
    assert sorted((fee.fee_type, fee.amount_cents) for fee in november.fees) == [
        ("charge", 26_742), ("subscription", 45)]  # fmt: skip
    assert november.total_amount_cents == 26_742 + 45
    assert usage(billing, utc(2023, 11, 5)) == (41_000, 41_000, "95.0")


def test_a_tier_reached_within_a_day_keeps_its_flat_amount(database: Database, org: Org) -> None:
    billing = start(database, org, THREE_TIERS, utc(2023, 9, 1))
    # Up to 10 (tier 2) and back to 2 on one day: tier 2's flat 50 stays, as Lago walks
    # event by event; the units priced are the day's net 2, for 21 of 30 days.
    billing.events("sub", "m", (utc(2023, 9, 10), {"amount": "10"}),
                   (utc(2023, 9, 10, 1), {"amount": "-8"}))  # fmt: skip
    assert usage(billing, utc(2023, 9, 10, 2)) == (16_400, 16_400, "2.0")
