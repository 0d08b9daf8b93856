"""Estimating the fees of an event before sending it, as Lago's scenario spec
estimate_events_spec.rb has it: a plan of 10 EUR (monthly, calendar) with one
pay-in-advance charge; an estimate, then the same event sent, then an estimate again.
The estimate prices the event against the period's usage so far, exactly as the fee of
a sent event: a unique value already counted adds nothing, a prorated charge counts the
days left, a percentage charge its free events and per-transaction bounds. Nothing is
stored.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.usage.estimate import estimate_fees, parse_estimate
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True


def start(database: Database, org: Org, aggregation: str, charge: dict[str, Any],
          at: datetime, **metric: Any) -> Billing:  # fmt: skip
    billing = Billing(database, org)
    if aggregation != "count_agg":
        metric.setdefault("field_name", "item_id")
    metric_id = billing.metric("m", aggregation, **metric)
    billing.plan("p", [{"billable_metric_id": metric_id, "pay_in_advance": True, **charge}],
                 amount_cents=1_000)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", at)
    return billing


def estimate(billing: Billing, now: datetime, properties: dict[str, Any] | None = None,
             **fields: Any) -> tuple[int, str, int]:  # fmt: skip
    body = {"code": "m", "external_subscription_id": "sub", "properties": properties or {},
            **fields}  # fmt: skip
    [fee] = estimate_fees(billing.database, billing.org.id, parse_estimate(body), now)
    return fee["amount_cents"], fee["units"], fee["events_count"]


def standard(amount: str, **fields: Any) -> dict[str, Any]:
    return {"charge_model": "standard", "properties": {"amount": amount}, **fields}


def day(number: int, year: int = 2025) -> datetime:
    return utc(year, 9, number)


@pytest.mark.parametrize(
    ("aggregation", "charge", "value", "first", "second", "metric"),
    [
        ("count_agg", standard("10"), None, (1_000, "1.0", 1), (1_000, "1.0", 1), {}),
        ("sum_agg", standard("10"), 4, (4_000, "4.0", 1), (4_000, "4.0", 1), {}),
        # 4 x 10 for 29 of September's 30 days, then for 27.
        ("sum_agg", standard("10", prorated=True), 4, (3_867, "4.0", 1), (3_600, "4.0", 1),
         {"recurring": True}),
        # Each event costs its own amount.
        ("sum_agg", {"charge_model": "dynamic", "properties": {}}, 1, (200, "1.0", 1),
         (200, "1.0", 1), {}),
        # The first event is free, the next at 50 %.
        ("sum_agg", {"charge_model": "percentage",
                     "properties": {"rate": "50", "free_units_per_events": 1}}, 4,
         (0, "4.0", 1), (200, "4.0", 1), {}),
    ],
)  # fmt: skip
def test_estimate_send_estimate(
    database: Database, org: Org, aggregation: str, charge: dict[str, Any], value: int | None,
    first: tuple[int, str, int], second: tuple[int, str, int], metric: dict[str, Any],
) -> None:  # fmt: skip
    billing = start(database, org, aggregation, charge, day(1), **metric)
    properties = {} if value is None else {"item_id": value}
    extra = {"precise_total_amount_cents": "200"} if charge["charge_model"] == "dynamic" else {}
    assert estimate(billing, day(2), properties, **extra) == first
    billing.events("sub", "m", (day(3), properties))
    assert estimate(billing, day(4), properties, **extra) == second
    # Nothing of the estimates was kept.
    assert billing.usage("cus", "sub", day(4))["charges_usage"][0]["events_count"] == 1


def test_recurring_sum_counts_the_whole_period_again(database: Database, org: Org) -> None:
    billing = start(database, org, "sum_agg", standard("10"), day(1, 2024), recurring=True)
    billing.events("sub", "m", (day(3, 2024), {"item_id": 4}))
    assert estimate(billing, day(2), {"item_id": 4}) == (4_000, "4.0", 1)
    billing.events("sub", "m", (day(3), {"item_id": 4}))
    assert estimate(billing, day(4), {"item_id": 4}) == (4_000, "4.0", 1)


@pytest.mark.parametrize("recurring", [False, True])
def test_percentage_with_a_minimum_per_transaction(
    database: Database, org: Org, recurring: bool
) -> None:
    charge = {"charge_model": "percentage",
              "properties": {"rate": "0.5", "per_transaction_min_amount": "12"}}  # fmt: skip
    started = day(1, 2024) if recurring else day(1)
    billing = start(database, org, "sum_agg", charge, started, recurring=recurring)
    if recurring:
        billing.events("sub", "m", (day(3, 2024), {"item_id": 4}))
    # 0.5 % of 4 is below the minimum: 12.
    assert estimate(billing, day(2), {"item_id": 4}) == (1_200, "4.0", 1)
    billing.events("sub", "m", (day(3), {"item_id": 4}))
    # 0.5 % of 20,000: 100.
    assert estimate(billing, day(4), {"item_id": 20_000}) == (10_000, "20000.0", 1)


@pytest.mark.parametrize("recurring", [False, True])
def test_unique_count(database: Database, org: Org, recurring: bool) -> None:
    started = day(1, 2024) if recurring else day(1)
    billing = start(database, org, "unique_count_agg", standard("10"), started,
                    recurring=recurring)  # fmt: skip
    if recurring:
        # Counted since last year: estimating it again adds nothing; a new value does.
        billing.events("sub", "m", (day(3, 2024), {"item_id": "1234"}))
        assert estimate(billing, day(2), {"item_id": "1234"}) == (0, "0.0", 1)
        assert estimate(billing, day(2), {"item_id": "9876"}) == (1_000, "1.0", 1)
    else:
        assert estimate(billing, day(2), {"item_id": "1234"}) == (1_000, "1.0", 1)
    billing.events("sub", "m", (day(3), {"item_id": "1234"}))
    assert estimate(billing, day(4), {"item_id": "1234"}) == (0, "0.0", 1)
    assert estimate(billing, day(5), {"item_id": "5678"}) == (1_000, "1.0", 1)
    remove = {"item_id": "1234", "operation_type": "remove"}
    assert estimate(billing, day(5), remove) == (0, "0.0", 1)


def test_prorated_unique_count(database: Database, org: Org) -> None:
    billing = start(database, org, "unique_count_agg", standard("10", prorated=True), day(1),
                    recurring=True)  # fmt: skip
    # 10 for 29 of 30 days.
    assert estimate(billing, day(2), {"item_id": "1234"}) == (967, "1.0", 1)
    billing.events("sub", "m", (day(3), {"item_id": "1234"}))
    assert estimate(billing, day(4), {"item_id": "1234"}) == (0, "0.0", 1)
    # 10 for 26 of 30 days.
    assert estimate(billing, day(5), {"item_id": "5678"}) == (867, "1.0", 1)
    remove = {"item_id": "1234", "operation_type": "remove"}
    assert estimate(billing, day(5), remove) == (0, "0.0", 1)


def test_the_fee_carries_the_tax(database: Database, org: Org) -> None:
    billing = start(database, org, "count_agg", standard("10"), day(1))
    billing.tax("vat", "20", applied_to_organization=True)
    body = {"code": "m", "external_subscription_id": "sub", "properties": {}}
    [fee] = estimate_fees(billing.database, billing.org.id, parse_estimate(body), day(2))
    assert (fee["amount_cents"], fee["taxes_amount_cents"], fee["total_amount_cents"]) == (
        1_000, 200, 1_200)  # fmt: skip
    assert Decimal(fee["precise_amount"]) == 10
