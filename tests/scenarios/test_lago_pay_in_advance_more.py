"""The rest of Lago's scenario spec pay_in_advance_charges_spec.rb (the first cases are in
test_lago_pay_in_advance_charges.py, whose `Advance` helper this uses): a plan of 10 EUR
with one pay-in-advance charge, not invoiceable, subscribed Jan 24, 2023; one event at a
time in February, each fee read after the tick that prices it.
"""

from __future__ import annotations

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.test_lago_pay_in_advance_charges import Advance, day, fee_row

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True


@pytest.fixture
def advance(database: Database, org: Org) -> Advance:
    return Advance(database, org)


def test_count_percentage_with_a_free_event(advance: Advance) -> None:
    properties = {"rate": "1", "fixed_amount": "1", "free_units_per_events": 1}
    advance.start("count_agg", {"charge_model": "percentage", "properties": properties})
    # Counted as 1 unit, the free one.
    assert fee_row(advance.fee_for(day(15), {"amount": "5"})) == (1, 1, 0)


def test_sum_graduated_percentage_across_tiers(advance: Advance) -> None:
    ranges = [{"rate": "20", "from_value": 0, "to_value": 100, "flat_amount": "10"},
              {"rate": "30", "from_value": 101, "to_value": 200, "flat_amount": "7"},
              {"rate": "40", "from_value": 201, "to_value": None, "flat_amount": "5"}]  # fmt: skip
    advance.start("sum_agg", {"charge_model": "graduated_percentage",
                              "properties": {"graduated_percentage_ranges": ranges}},
                  field="amount")  # fmt: skip
    rows = [fee_row(advance.fee_for(day(n), {"amount": amount}))
            for n, amount in ((15, "50"), (17, "100"), (19, "300"))]  # fmt: skip
    assert rows == [
        # 20 % of 50 and the first tier's flat 10.
        (50, 1, 1_000 + 1_000),
        # 50 more at 20 %, 50 at 30 % and the second tier's flat 7.
        (100, 1, 1_000 + 1_500 + 700),
        # 50 at 30 %, 250 at 40 % and the third tier's flat 5.
        (300, 1, 1_500 + 10_000 + 500),
    ]


def test_bounded_percentage_current_usage_counts_every_event_of_the_period(
    advance: Advance,
) -> None:
    properties = {"rate": "1", "fixed_amount": "0.5", "per_transaction_max_amount": "2",
                  "per_transaction_min_amount": "1.75"}  # fmt: skip
    advance.start("sum_agg", {"charge_model": "percentage", "properties": properties},
                  field="amount")  # fmt: skip
    # Sent before, dated later in the period: not in the fees before it.
    advance.send(utc(2023, 2, 20), {"amount": "333"})
    fees = [advance.fee_for(day(n), {"amount": amount}).amount_cents
            for n, amount in ((14, "100"), (15, "1000"), (16, "10000"))]  # fmt: skip
    # 1 % + 0.50 within [1.75, 2]: 1.50 -> 1.75; 10.50 -> 2; 100.50 -> 2.
    assert fees == [175, 200, 200]
    usage = advance.usage("cus", "sub", day(16))
    [charge] = usage["charges_usage"]
    assert (charge["units"], charge["total_aggregated_units"]) == ("11433.0", "11433.0")
    # With the later event (3.83 -> 2): 1.75 + 2 + 2 + 2.
    assert usage["total_amount_cents"] == 775
