"""Current usage of recurring sum and unique count metrics, as Lago's scenario specs
current_usage/by_aggregation_type/sum_agg_spec.rb and unique_count_agg_spec.rb have them:
a plan of 0 (monthly, calendar) with one standard charge grouped by three keys, usage
read after each event.

For pay-in-advance charges Lago's current usage shows what its running maximum of the
period's usage has charged, so a sum or a count that goes down keeps its amount;
meterbill prices the period's usage as it stands (README, "Deliberate differences": it
keeps no running maximum). The units shown are the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True

KEYS = ["key_1", "key_2", "key_3"]
FEB_06 = {"key_1": "2024", "key_2": "Feb", "key_3": "06"}


def start(database: Database, org: Org, aggregation: str, charge: dict[str, Any],
          subscriptions: dict[str, datetime]) -> Billing:  # fmt: skip
    billing = Billing(database, org)
    metric_id = billing.metric("m", aggregation, field_name="item_id", recurring=True)
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "standard", **charge}])
    billing.customer("cus", timezone="UTC")
    for external_id, at in subscriptions.items():
        billing.subscribe("cus", "p", external_id, at)
    return billing


def send_and_read(billing: Billing, subscription: str, at: datetime,
                  properties: dict[str, Any]) -> tuple[int, str]:  # fmt: skip
    billing.events(subscription, "m", (at, properties))
    billing.tick(at)
    usage = billing.usage("cus", subscription, at)
    return usage["total_amount_cents"], usage["charges_usage"][0]["units"]


IN_ADVANCE_SUM = {"pay_in_advance": True, "prorated": True,
                  "properties": {"amount": "29", "grouped_by": KEYS}}  # fmt: skip


def test_sum_in_advance_prorated_and_grouped(database: Database, org: Org) -> None:
    billing = start(database, org, "sum_agg", IN_ADVANCE_SUM, {"sub": utc(2024, 2, 1)})
    seen = [send_and_read(billing, "sub", utc(2024, 2, 6, hour), {"item_id": value, **FEB_06})
            for hour, value in ((1, 10), (2, -5), (3, 2))]  # fmt: skip
    # 10 x 29 for the 24 of February's 29 days left: 240 EUR. Lago keeps 24,000 after
    # the -5 and the +2 (its running maximum, 10); meterbill prices 5 then 7 units.
    assert seen == [(24_000, "10.0"), (12_000, "5.0"), (16_800, "7.0")]


def test_sum_in_advance_on_two_subscriptions_of_one_plan(database: Database, org: Org) -> None:
    billing = start(database, org, "sum_agg", IN_ADVANCE_SUM,
                    {"sub_1": utc(2024, 2, 1), "sub_2": utc(2024, 2, 1, 1)})  # fmt: skip
    for subscription, hour in (("sub_1", 0), ("sub_2", 1)):
        seen = [
            send_and_read(billing, subscription, utc(2024, 2, 6, hour, minute, second),
                          {"item_id": value, **FEB_06})
            for minute, second, value in ((1, 1, 10), (2, 2, -5), (3, 3, 2))
        ]  # fmt: skip
        # Each subscription's usage is its own.
        assert seen == [(24_000, "10.0"), (12_000, "5.0"), (16_800, "7.0")]


def test_unique_count_grouped_counts_a_value_once_a_group(database: Database, org: Org) -> None:
    charge = {"properties": {"amount": "1", "grouped_by": KEYS}}
    billing = start(database, org, "unique_count_agg", charge, {"sub": utc(2024, 2, 6)})
    billing.events(
        "sub", "m",
        (utc(2024, 2, 7), {"item_id": "001", **FEB_06, "key_3": "08"}),
        (utc(2024, 2, 7, 0, 0, 2), {"item_id": "001", **FEB_06}),
        (utc(2024, 2, 7, 0, 0, 3), {"item_id": "002", **FEB_06}),
    )  # fmt: skip
    # 001 in two groups, 002 in one: 3 units at 1.
    assert billing.usage("cus", "sub", utc(2024, 2, 7, 1))["total_amount_cents"] == 300


def test_unique_count_in_advance(database: Database, org: Org) -> None:
    charge = {"pay_in_advance": True, "properties": {"amount": "1"}}
    billing = start(database, org, "unique_count_agg", charge, {"sub": utc(2024, 2, 1, 1)})
    seen = [
        send_and_read(billing, "sub", utc(2024, 2, 23, 1, 2), {"item_id": "seat_1"}),
        send_and_read(billing, "sub", utc(2024, 2, 26, 1, 1),
                      {"item_id": "seat_1", "operation_type": "remove"}),
        send_and_read(billing, "sub", utc(2024, 2, 26, 1, 1, 30), {"item_id": "seat_2"}),
    ]  # fmt: skip
    # Lago shows 100 after the removal too (one seat charged); meterbill shows 0 then.
    assert seen == [(100, "1.0"), (0, "0.0"), (100, "1.0")]


def test_unique_count_in_advance_prorated_and_grouped(database: Database, org: Org) -> None:
    charge = {"pay_in_advance": True, "prorated": True,
              "properties": {"amount": "29", "grouped_by": KEYS}}  # fmt: skip
    billing = start(database, org, "unique_count_agg", charge, {"sub": utc(2024, 2, 1)})
    seen = [
        # A removal of a value never added counts for nothing.
        send_and_read(billing, "sub", utc(2024, 2, 1, 1),
                      {"item_id": "001", "operation_type": "remove", **FEB_06}),
        # Added on the 1st: all 29 days of February.
        send_and_read(billing, "sub", utc(2024, 2, 1, 1, 0, 10),
                      {"item_id": "001", "operation_type": "add", **FEB_06}),
        send_and_read(billing, "sub", utc(2024, 2, 2, 1),
                      {"item_id": "001", "operation_type": "add", **FEB_06}),
        # Removed on the 3rd: 3 days. Lago keeps showing the 2,900 charged.
        send_and_read(billing, "sub", utc(2024, 2, 3, 1),
                      {"item_id": "001", "operation_type": "remove", **FEB_06}),
    ]  # fmt: skip
    assert seen == [(0, "0.0"), (2_900, "1.0"), (2_900, "1.0"), (300, "0.0")]


def test_unique_count_in_advance_prorated(database: Database, org: Org) -> None:
    charge = {"pay_in_advance": True, "prorated": True, "properties": {"amount": "1"}}
    billing = start(database, org, "unique_count_agg", charge, {"sub": utc(2024, 2, 23, 1)})
    seen = [
        # 7 of February's 29 days left: 0.24.
        send_and_read(billing, "sub", utc(2024, 2, 23, 1, 2), {"item_id": "seat_1"}),
        # Removed on the 29th, which still counts: the same 7 days.
        send_and_read(billing, "sub", utc(2024, 2, 29, 1, 1),
                      {"item_id": "seat_1", "operation_type": "remove"}),
        send_and_read(billing, "sub", utc(2024, 2, 29, 1, 2),
                      {"item_id": "seat_1", "operation_type": "remove"}),
    ]  # fmt: skip
    assert seen == [(24, "1.0"), (24, "0.0"), (24, "0.0")]
