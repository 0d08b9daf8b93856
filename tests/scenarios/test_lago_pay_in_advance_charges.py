"""Pay-in-advance charges as Lago's scenario spec pay_in_advance_charges_spec.rb has
them: a fee per event (not invoiceable), priced on what the period's usage up to that
event adds, whatever events come later. Subscribed Jan 24, 2023; events in February.
Lago prices the fee as the event arrives; meterbill's clock does it at the next tick.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.events.service import create_batch
from meterbill.invoices.models import Fee
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True
CLICKHOUSE_HTTP = True


class Advance(Billing):
    sent = 0

    def start(self, aggregation: str, charge: dict[str, Any], field: str | None = None,
              filters: list[dict[str, Any]] | None = None) -> None:  # fmt: skip
        extra: dict[str, Any] = {} if field is None else {"field_name": field}
        if filters:
            extra["filters"] = filters
        metric = self.metric("m", aggregation, **extra)
        self.plan("p", [{"billable_metric_id": metric, "pay_in_advance": True,
                         "invoiceable": False, **charge}], amount_cents=1_000)  # fmt: skip
        self.customer("cus", timezone="UTC")
        self.subscribe("cus", "p", "sub", utc(2023, 1, 24))

    def send(self, at: datetime, properties: dict[str, Any], **fields: Any) -> None:
        self.sent += 1
        event = {"transaction_id": f"e{self.sent}", "external_subscription_id": "sub",
                 "code": "m", "timestamp": at.timestamp(), "properties": properties}  # fmt: skip
        raw = [{**event, **fields}]
        with self.database.transaction() as session:
            create_batch(session, self.org.id, raw, utc(2020, 1, 1))

    def fee_for(self, at: datetime, properties: dict[str, Any], **fields: Any) -> Fee:
        """Send one event at `at`, tick, and return the fee it got."""
        self.send(at, properties, **fields)
        self.tick(at.replace(minute=30))
        with self.database.transaction(write=False) as session:
            [fee] = session.scalars(
                select(Fee).where(
                    Fee.organization_id == self.org.id,
                    Fee.event_transaction_id == f"e{self.sent}",
                )
            )
            session.expunge(fee)
        assert fee.invoice_id is None and fee.pay_in_advance
        return fee


@pytest.fixture
def advance(database: Database, org: Org) -> Advance:
    return Advance(database, org)


def fee_row(fee: Fee) -> tuple[Decimal, int, int]:
    return fee.units, fee.events_count, fee.amount_cents


def day(number: int) -> datetime:
    return utc(2023, 2, number, 10)


def test_count_standard(advance: Advance) -> None:
    advance.start("count_agg", {"charge_model": "standard", "properties": {"amount": "10"}})
    assert fee_row(advance.fee_for(day(15), {})) == (1, 1, 1_000)
    assert fee_row(advance.fee_for(day(17), {})) == (1, 1, 1_000)


def test_unique_count_pays_each_value_once_a_period(advance: Advance) -> None:
    advance.start("unique_count_agg", {"charge_model": "standard", "properties": {"amount": "12"}},
                  field="unique_id")  # fmt: skip
    rows = [
        fee_row(advance.fee_for(day(15), {"unique_id": "id_1"})),
        fee_row(advance.fee_for(day(16), {"unique_id": "id_1", "operation_type": "remove"})),
        # Back again: counted, but paid already this period.
        fee_row(advance.fee_for(day(17), {"unique_id": "id_1"})),
        fee_row(advance.fee_for(day(18), {"unique_id": "id_2"})),
        fee_row(advance.fee_for(day(19), {"unique_id": "id_2"})),
        fee_row(advance.fee_for(day(20), {"unique_id": "id_3"})),
        fee_row(advance.fee_for(day(21), {"unique_id": "id_3", "operation_type": "remove"})),
    ]
    # Lago charges the value added back on Feb 17 nothing (0): it keeps, per period, the
    # highest count already charged. meterbill prices each event on what it changes in
    # the period's count, so the value removed and added back is charged again (README,
    # "Deliberate differences").
    assert rows == [(1, 1, 1_200), (0, 1, 0), (1, 1, 1_200), (1, 1, 1_200), (0, 1, 0),
                    (1, 1, 1_200), (0, 1, 0)]  # fmt: skip


def test_sum_standard(advance: Advance) -> None:
    advance.start("sum_agg", {"charge_model": "standard", "properties": {"amount": "1"}},
                  field="amount")  # fmt: skip
    advance.send(utc(2023, 2, 19), {"amount": "5000"})  # later: not counted before it
    rows = [fee_row(advance.fee_for(day(15), {"amount": "10"})),
            fee_row(advance.fee_for(day(17), {"amount": "-4"})),
            fee_row(advance.fee_for(day(18), {"amount": "8"}))]  # fmt: skip
    assert rows[:2] == [(10, 1, 1_000), (0, 1, 0)]
    # 6 + 8 = 14: Lago charges the 4 beyond the highest total already charged (10):
    # (4, 1, 400). meterbill charges what the event adds to the total, 8 (README,
    # "Deliberate differences").
    assert rows[2] == (8, 1, 800)


def filter_charge(default: str) -> dict[str, Any]:
    return {"charge_model": "standard", "properties": {"amount": default},
            "filters": [{"properties": {"amount": "20"},
                         "values": {"region": ["europe"], "cloud": ["AWS"]}}]}  # fmt: skip


def test_sum_standard_with_a_matching_filter(advance: Advance) -> None:
    europe = {"properties": {"amount": "20"}, "values": {"region": ["europe"]}}
    charge = {"charge_model": "standard", "properties": {"amount": "0"}, "filters": [europe]}
    advance.start("sum_agg", charge, field="amount",
                  filters=[{"key": "region", "values": ["europe"]}])  # fmt: skip
    fee = advance.fee_for(day(15), {"amount": "10", "region": "europe"})
    assert fee_row(fee) == (10, 1, 20_000)
    assert fee.charge_filter_id is not None


def test_sum_standard_without_a_matching_filter(advance: Advance) -> None:
    advance.start("sum_agg", filter_charge("10"), field="amount",
                  filters=[{"key": "region", "values": ["europe"]},
                           {"key": "cloud", "values": ["AWS"]}])  # fmt: skip
    fee = advance.fee_for(day(15), {"amount": "10", "region": "africa", "cloud": "AWS"})
    assert fee_row(fee) == (10, 1, 10_000)
    assert fee.charge_filter_id is None


def test_sum_package(advance: Advance) -> None:
    properties = {"amount": "100", "free_units": 3, "package_size": 2}
    advance.start("sum_agg", {"charge_model": "package", "properties": properties},
                  field="amount")  # fmt: skip
    rows = [fee_row(advance.fee_for(day(15), {"amount": "3"})),
            fee_row(advance.fee_for(day(17), {"amount": "1"})),
            fee_row(advance.fee_for(day(18), {"amount": "2"}))]  # fmt: skip
    # 3 free; the 4th unit opens a package; the 5th and 6th the next one.
    assert rows == [(3, 1, 0), (1, 1, 10_000), (2, 1, 10_000)]


def test_sum_graduated(advance: Advance) -> None:
    ranges = [{"from_value": 0, "to_value": 5, "per_unit_amount": "0.02", "flat_amount": "0.01"},
              {"from_value": 6, "to_value": None, "per_unit_amount": "0.01",
               "flat_amount": "0.01"}]  # fmt: skip
    charge = {"charge_model": "graduated", "properties": {"graduated_ranges": ranges}}
    advance.start("sum_agg", charge, field="amount")
    rows = [fee_row(advance.fee_for(day(15), {"amount": "3"})),
            fee_row(advance.fee_for(day(17), {"amount": "1"})),
            fee_row(advance.fee_for(day(18), {"amount": "2"}))]  # fmt: skip
    # 3 x 0.02 + 0.01; 0.02; then the 5th unit at 0.02, the 6th at 0.01 + 0.01 flat.
    assert rows == [(3, 1, 7), (1, 1, 2), (2, 1, 4)]


@pytest.mark.parametrize(
    ("properties", "amounts", "expected"),
    [
        # The first 2 events are free; then 5 % of 3 + 1 EUR.
        ({"rate": "5", "fixed_amount": "1", "free_units_per_events": 2},
         ["8", "5", "3"], [0, 0, 115]),
        # The first 120 units are free.
        ({"rate": "5", "fixed_amount": "1", "free_units_per_total_aggregation": "120.0"},
         ["100", "10", "20", "20"], [0, 0, 150, 200]),
        ({"rate": "5", "fixed_amount": "1", "free_units_per_total_aggregation": "3.0"},
         ["5", "1"], [110, 105]),
        # 1 % + 0.50 EUR per transaction, at least 1.75 EUR, at most 2 EUR.
        ({"rate": "1", "fixed_amount": "0.5", "per_transaction_max_amount": "2",
          "per_transaction_min_amount": "1.75"}, ["100", "1000", "10000"], [175, 200, 200]),
    ],
)  # fmt: skip
def test_sum_percentage(
    advance: Advance, properties: dict[str, Any], amounts: list[str], expected: list[int]
) -> None:
    advance.start("sum_agg", {"charge_model": "percentage", "properties": properties},
                  field="amount")  # fmt: skip
    found = [advance.fee_for(day(14 + n), {"amount": value}).amount_cents
             for n, value in enumerate(amounts)]  # fmt: skip
    assert found == expected


def test_sum_dynamic(advance: Advance) -> None:
    advance.start("sum_agg", {"charge_model": "dynamic", "properties": {}}, field="amount")
    fee = advance.fee_for(utc(2023, 2, 15, 10), {"amount": 5}, precise_total_amount_cents="1234.56")
    assert fee_row(fee) == (5, 1, 1_235)
