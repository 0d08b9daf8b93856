"""Current usage by aggregation, as Lago's scenario specs
current_usage/by_aggregation_type have it: count, latest, max and a recurring weighted
sum, each read after every event; the weighted sum billed at the end of its months.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True


def setup(database: Database, org: Org, aggregation: str, price: str, start: datetime,
          **metric: Any) -> Billing:  # fmt: skip
    billing = Billing(database, org)
    metric_id = billing.metric("m", aggregation, **metric)
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "standard",
                        "properties": {"amount": price}}], amount_cents=0)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", start)
    return billing


def read(billing: Billing, now: datetime) -> tuple[str, int, int]:
    usage = billing.usage("cus", "sub", now)
    [charge] = usage["charges_usage"]
    return charge["units"], charge["amount_cents"], charge["events_count"]


@pytest.mark.parametrize(
    ("aggregation", "price", "values", "seen"),
    [
        ("count_agg", "10", [None, None, None], [("1.0", 1_000), ("2.0", 2_000), ("3.0", 3_000)]),
        # The last value counts.
        ("latest_agg", "5", ["10", "3", "50"], [("10.0", 5_000), ("3.0", 1_500),
                                                ("50.0", 25_000)]),
        ("max_agg", "10", ["5", "20", "3"], [("5.0", 5_000), ("20.0", 20_000),
                                             ("20.0", 20_000)]),
    ],
)  # fmt: skip
def test_usage_after_each_event(
    database: Database, org: Org, aggregation: str, price: str, values: list[str | None],
    seen: list[tuple[str, int]],
) -> None:  # fmt: skip
    extra = {} if aggregation == "count_agg" else {"field_name": "item_id"}
    billing = setup(database, org, aggregation, price, utc(2024, 3, 1), **extra)
    assert read(billing, utc(2024, 3, 5)) == ("0.0", 0, 0)
    found = []
    for hour, value in enumerate(values, start=1):
        properties = {} if value is None else {"item_id": value}
        billing.events("sub", "m", (utc(2024, 3, 5, hour), properties))
        found.append(read(billing, utc(2024, 3, 5, hour, 30))[:2])
    assert found == seen
    assert read(billing, utc(2024, 3, 5, 12))[2] == 3


def test_recurring_weighted_sum(database: Database, org: Org) -> None:
    billing = setup(database, org, "weighted_sum_agg", "1", utc(2023, 3, 5),
                    field_name="value", recurring=True)  # fmt: skip
    billing.events("sub", "m", (utc(2023, 3, 5), {"value": "2500"}))
    usage = billing.usage("cus", "sub", utc(2023, 3, 5, 1))
    # 2,500 for 27 of March's 31 days: 2,177.42 EUR.
    assert usage["total_amount_cents"] == 217_742
    assert Decimal(usage["charges_usage"][0]["units"]).quantize(Decimal("0.0001")) == Decimal(
        "2177.4194")  # fmt: skip
    billing.tick(utc(2023, 4, 1))
    [march] = billing.invoices()
    fee = march.fee("m")
    assert (fee.amount_cents, round(fee.units)) == (217_742, 2_177)
    billing.events("sub", "m", (utc(2023, 4, 4), {"value": "-2000"}),
                   (utc(2023, 4, 6), {"value": "-200"}))  # fmt: skip
    # April: 2,500 for 3 days, 500 for 2, 300 for 25: 16,000 / 30 = 533.33.
    usage = billing.usage("cus", "sub", utc(2023, 4, 6, 1))
    assert usage["total_amount_cents"] == 53_333
    billing.tick(utc(2023, 5, 1))
    april = billing.invoices()[-1].fee("m")
    assert (april.amount_cents, round(april.units, 5)) == (53_333, Decimal("533.33333"))
