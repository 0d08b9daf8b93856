"""Current usage of percentage charges, as Lago's scenario spec
current_usage/by_charge_model/percentage_spec.rb has them: a plan of 10 EUR, a 20 % tax on
the organization, a sum metric on `amount`, subscribed Mar 5, 2023; events on Mar 6 one
after the other, usage read after each (amount, total with tax, units).

Rate 1 % with a fixed amount per event: free events and free units are counted in
event order; per-transaction bounds clamp each event's fee (rate + fixed).
"""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True

BOUNDED = {"rate": "1", "fixed_amount": "1", "per_transaction_max_amount": "12",
           "per_transaction_min_amount": "1.75"}  # fmt: skip


def start(database: Database, org: Org, properties: dict[str, Any]) -> Billing:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    metric_id = billing.metric("m", "sum_agg", field_name="amount")
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "percentage",
                        "properties": properties}], amount_cents=1_000)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2023, 3, 5))
    return billing


def read(billing: Billing, minute: int) -> tuple[int, int, str]:
    usage = billing.usage("cus", "sub", utc(2023, 3, 6, 0, minute, 30))
    return usage["amount_cents"], usage["total_amount_cents"], usage["charges_usage"][0]["units"]


@pytest.mark.parametrize(
    ("properties", "amounts", "seen"),
    [
        # The first 3 events are free; the 4th: 1 % of 10 + 5.
        ({"rate": "1", "fixed_amount": "5", "free_units_per_events": 3},
         ["10", "10", "10", "10"],
         [(0, 0, "10.0"), (0, 0, "20.0"), (0, 0, "30.0"), (510, 612, "40.0")]),
        # The first 15 units are free: 1 % of 1 + 5, then + 1 % of 10 + 5.
        ({"rate": "1", "fixed_amount": "5", "free_units_per_total_aggregation": "15.0"},
         ["4", "4", "4", "4", "10"],
         [(0, 0, "4.0"), (0, 0, "8.0"), (0, 0, "12.0"), (501, 601, "16.0"),
          (1_011, 1_213, "26.0")]),
        # Both: the free events run out first (1 % of 1 + 5)...
        ({"rate": "1", "fixed_amount": "5", "free_units_per_events": 3,
          "free_units_per_total_aggregation": "15.0"},
         ["1", "1", "1", "1"],
         [(0, 0, "1.0"), (0, 0, "2.0"), (0, 0, "3.0"), (501, 601, "4.0")]),
        # ... or the free units do: 5 of the 2nd event's 10 are charged, then all 10.
        ({"rate": "1", "fixed_amount": "5", "free_units_per_events": 3,
          "free_units_per_total_aggregation": "15.0"},
         ["10", "10", "10"],
         [(0, 0, "10.0"), (505, 606, "20.0"), (1_015, 1_218, "30.0")]),
        # 1 % + 1 per event, within [1.75, 12]: 2, then 11, then 101 capped at 12.
        (BOUNDED, ["100", "1000", "10000"],
         [(200, 240, "100.0"), (1_300, 1_560, "1100.0"), (2_500, 3_000, "11100.0")]),
    ],
)  # fmt: skip
def test_usage_after_each_event(
    database: Database, org: Org, properties: dict[str, Any], amounts: list[str],
    seen: list[tuple[int, int, str]],
) -> None:  # fmt: skip
    billing = start(database, org, properties)
    found = []
    for minute, amount in enumerate(amounts):
        billing.events("sub", "m", (utc(2023, 3, 6, 0, minute), {"amount": amount}))
        found.append(read(billing, minute))
    assert found == seen


def test_bounded_per_transaction_with_pricing_groups(database: Database, org: Org) -> None:
    billing = start(database, org, {**BOUNDED, "pricing_group_keys": ["region", "provider"]})
    found = []
    for minute, amount in enumerate(["100", "1000", "10000"]):
        properties = {"amount": amount, "region": "US", "provider": "AWS"}
        billing.events("sub", "m", (utc(2023, 3, 6, 0, minute), properties))
        usage = billing.usage("cus", "sub", utc(2023, 3, 6, 0, minute, 30))
        [charge] = usage["charges_usage"]
        [group] = charge["grouped_usage"]
        assert group["grouped_by"] == {"region": "US", "provider": "AWS"}
        found.append((usage["total_amount_cents"], charge["units"], charge["amount_cents"]))
    assert found == [(240, "100.0", 200), (1_560, "1100.0", 1_300), (3_000, "11100.0", 2_500)]


@pytest.mark.parametrize("grouped", [False, True])
def test_bounded_per_transaction_without_events(
    database: Database, org: Org, grouped: bool
) -> None:
    keys = {"pricing_group_keys": ["region", "provider"]} if grouped else {}
    billing = start(database, org, {**BOUNDED, **keys})
    for _ in range(2):  # read twice: nothing is cached wrong
        usage = billing.usage("cus", "sub", utc(2023, 3, 6))
        [charge] = usage["charges_usage"]
        assert (usage["total_amount_cents"], charge["units"], charge["amount_cents"]) == (
            0, "0.0", 0)  # fmt: skip
