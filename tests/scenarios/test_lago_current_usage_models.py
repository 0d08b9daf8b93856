"""Current usage by charge model, as Lago's scenario specs current_usage/by_charge_model
have it (standard, graduated, package, volume, graduated_percentage, dynamic): a plan
of 0 with one charge, subscribed Mar 5, 2024; events on Mar 6; usage read that day.
"""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.events.service import create_batch
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True

EVENT_DAY = utc(2024, 3, 6)


def send(billing: Billing, events: list[dict[str, Any]]) -> None:
    common = {"external_subscription_id": "sub", "code": "m", "timestamp": EVENT_DAY.timestamp()}
    raw = [{"transaction_id": f"t{n}", **common, **event} for n, event in enumerate(events)]
    with billing.database.transaction() as session:
        create_batch(session, billing.org.id, raw, utc(2020, 1, 1))


def usage_of(
    database: Database, org: Org, aggregation: str, charge: dict[str, Any],
    events: list[dict[str, Any]], tax: str | None = None, **metric: Any,
) -> dict[str, Any]:  # fmt: skip
    billing = Billing(database, org)
    if tax is not None:
        billing.tax("vat", tax, applied_to_organization=True)
    metric_id = billing.metric("m", aggregation, **metric)
    billing.plan("p", [{"billable_metric_id": metric_id, **charge}], amount_cents=0)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 5))
    if events:
        send(billing, events)
    return billing.usage("cus", "sub", utc(2024, 3, 6, 12))


def counted(n: int) -> list[dict[str, Any]]:
    return [{} for _ in range(n)]


def amounts(*values: str) -> list[dict[str, Any]]:
    return [{"properties": {"amount": value}} for value in values]


GRADUATED = {"charge_model": "graduated", "properties": {"graduated_ranges": [
    {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
    {"from_value": 6, "to_value": None, "per_unit_amount": "5", "flat_amount": "50"}]}}  # fmt: skip
VOLUME = {"charge_model": "volume", "properties": {"volume_ranges": [
    {"from_value": 0, "to_value": 10, "per_unit_amount": "5", "flat_amount": "100"},
    {"from_value": 11, "to_value": None, "per_unit_amount": "2", "flat_amount": "50"},
]}}  # fmt: skip
GRADUATED_PERCENTAGE = {"charge_model": "graduated_percentage", "properties": {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 100, "rate": "5", "flat_amount": "0"},
        {"from_value": 101, "to_value": None, "rate": "2", "flat_amount": "10"}]}}  # fmt: skip


def package(free_units: int) -> dict[str, Any]:
    properties = {"amount": "100", "free_units": free_units, "package_size": 10}
    return {"charge_model": "package", "properties": properties}


@pytest.mark.parametrize(
    ("aggregation", "charge", "events", "units", "amount"),
    [
        ("count_agg", {"charge_model": "standard", "properties": {"amount": "12.5"}},
         counted(4), "4.0", 5_000),
        # 3 units in the first range: 100 + 3 x 10.
        ("count_agg", GRADUATED, counted(3), "3.0", 13_000),
        # 5 x 10 + 100, then 3 x 5 + 50.
        ("count_agg", GRADUATED, counted(8), "8.0", 21_500),
        ("count_agg", package(0), counted(3), "3.0", 10_000),
        ("count_agg", package(0), counted(15), "15.0", 20_000),
        ("count_agg", package(5), counted(3), "3.0", 0),
        ("count_agg", package(5), counted(12), "12.0", 10_000),
        # All units at the price of the range they reach: 5 x 5 + 100; 15 x 2 + 50.
        ("count_agg", VOLUME, counted(5), "5.0", 12_500),
        ("count_agg", VOLUME, counted(15), "15.0", 8_000),
        # 5 % of 50; then 5 % of 100 and 2 % of 50 + 10.
        ("sum_agg", GRADUATED_PERCENTAGE, amounts("50"), "50.0", 250),
        ("sum_agg", GRADUATED_PERCENTAGE, amounts("150"), "150.0", 1_600),
    ],
)  # fmt: skip
def test_charge_models(
    database: Database, org: Org, aggregation: str, charge: dict[str, Any],
    events: list[dict[str, Any]], units: str, amount: int,
) -> None:  # fmt: skip
    extra = {"field_name": "amount"} if aggregation == "sum_agg" else {}
    usage = usage_of(database, org, aggregation, charge, events, **extra)
    [charge_usage] = usage["charges_usage"]
    assert (charge_usage["units"], charge_usage["amount_cents"]) == (units, amount)
    assert charge_usage["events_count"] == len(events)


@pytest.mark.parametrize("prorated", [False, True])
def test_graduated_without_events_bills_the_first_flat_amount(
    database: Database, org: Org, prorated: bool
) -> None:
    ranges = {"graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "2", "flat_amount": "100"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "1", "flat_amount": "50"},
    ]}  # fmt: skip
    charge = {"charge_model": "graduated", "properties": ranges, "prorated": prorated}
    usage = usage_of(database, org, "sum_agg", charge, [], tax="20", field_name="amount",
                     recurring=prorated)  # fmt: skip
    [charge_usage] = usage["charges_usage"]
    assert (charge_usage["units"], charge_usage["amount_cents"]) == ("0.0", 10_000)
    assert usage["total_amount_cents"] == 12_000


def test_standard_grouped(database: Database, org: Org) -> None:
    charge = {"charge_model": "standard", "properties": {"amount": "10", "grouped_by": ["region"]}}
    events = [{"properties": {"region": region}} for region in ("us", "us", "eu")]
    [usage] = usage_of(database, org, "count_agg", charge, events)["charges_usage"]
    assert (usage["units"], usage["amount_cents"]) == ("3.0", 3_000)
    groups = {g["grouped_by"]["region"]: (g["units"], g["amount_cents"])
              for g in usage["grouped_usage"]}  # fmt: skip
    assert groups == {"us": ("2.0", 2_000), "eu": ("1.0", 1_000)}


def test_standard_filters(database: Database, org: Org) -> None:
    charge = {"charge_model": "standard", "properties": {"amount": "0.12"}, "filters": [
        {"invoice_display_name": "GCP", "properties": {"amount": "0.10"},
         "values": {"cloud": ["gcp"]}},
        {"invoice_display_name": "AWS", "properties": {"amount": "0.08"},
         "values": {"cloud": ["aws"]}}]}  # fmt: skip
    events = [{"properties": {"cloud": "aws", "hours": 100}},
              {"properties": {"cloud": "gcp", "hours": 200}}]  # fmt: skip
    clouds = [{"key": "cloud", "values": ["aws", "gcp"]}]
    found_usage = usage_of(database, org, "sum_agg", charge, events, field_name="hours",
                           filters=clouds)  # fmt: skip
    [usage] = found_usage["charges_usage"]
    # AWS 100 x 0.08, GCP 200 x 0.10.
    assert usage["amount_cents"] == 2_800
    found = {tuple(f["values"]["cloud"]): (f["units"], f["amount_cents"])
             for f in usage["filters"] if f["values"]}  # fmt: skip
    assert found == {("aws",): ("100.0", 800), ("gcp",): ("200.0", 2_000)}


@pytest.mark.parametrize("grouped", [False, True])
def test_dynamic_prices_each_event_at_its_own_amount(
    database: Database, org: Org, grouped: bool
) -> None:
    properties = {"grouped_by": ["group_key"]} if grouped else {}
    charge = {"charge_model": "dynamic", "properties": properties}
    events = [
        {"precise_total_amount_cents": "10.1",
         "properties": {"item_id": "10", "group_key": "value 1"}},
        {"precise_total_amount_cents": "901.9",
         "properties": {"item_id": "10", "group_key": "value 2"}},
    ]  # fmt: skip
    usage = usage_of(database, org, "sum_agg", charge, events, field_name="item_id")
    [charge_usage] = usage["charges_usage"]
    assert (usage["total_amount_cents"], charge_usage["units"]) == (912, "20.0")
    if grouped:
        groups = sorted((g["grouped_by"]["group_key"], g["amount_cents"], g["units"])
                        for g in charge_usage["grouped_usage"])  # fmt: skip
        assert groups == [("value 1", 10, "10.0"), ("value 2", 902, "10.0")]
