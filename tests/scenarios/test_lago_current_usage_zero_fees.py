"""Current usage that costs nothing, as Lago's scenario spec current_usage/zero_fees_spec.rb
has it: a plan of 0 (monthly, calendar), subscribed Mar 5, 2024, usage read that day.
Every charge shows, at zero, with its filters (each and the catch-all) and, when grouped
without events, one empty group; events that cost nothing still show their units.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True

TODAY = utc(2024, 3, 5)
ZERO = {"units": "0.0", "total_aggregated_units": "0.0", "events_count": 0, "amount_cents": 0,
        "pricing_unit_details": None}  # fmt: skip
GRADUATED = {"graduated_ranges": [
    {"from_value": 0, "to_value": 10, "per_unit_amount": "2", "flat_amount": "0"},
    {"from_value": 11, "to_value": None, "per_unit_amount": "1", "flat_amount": "50"}]}  # fmt: skip


def start(database: Database, org: Org, charges: list[tuple[str, str, dict[str, Any]]],
          metric: dict[str, Any] | None = None) -> Billing:  # fmt: skip
    """charges: (metric code, charge model, charge fields)."""
    billing = Billing(database, org)
    ids = {
        "count": billing.metric("count"),
        "sum": billing.metric("sum", "sum_agg", field_name="value"),
    }
    if metric is not None:
        ids["custom"] = billing.metric("custom", **metric)
    billing.plan("p", [{"billable_metric_id": ids[code], "charge_model": model, **fields}
                       for code, model, fields in charges])  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", TODAY)
    return billing


def totals(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item[key] for key in ZERO}


def read(billing: Billing, now: datetime = TODAY) -> dict[str, Any]:
    return billing.usage("cus", "sub", now)


@pytest.mark.parametrize(
    ("code", "model", "properties"),
    [
        ("count", "standard", {"amount": "20"}),
        # A first tier without a flat amount costs nothing at 0 units.
        ("count", "graduated", GRADUATED),
        ("count", "package", {"amount": "100", "free_units": 10, "package_size": 10}),
        ("sum", "percentage", {"rate": "0.05", "fixed_amount": "2"}),
        ("count", "volume", {"volume_ranges": [
            {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "0"},
            {"from_value": 101, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}),
        ("count", "graduated_percentage", {"graduated_percentage_ranges": [
            {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "0"},
            {"from_value": 11, "to_value": None, "rate": "0.5", "flat_amount": "50"}]}),
    ],
)  # fmt: skip
def test_each_model_at_zero(
    database: Database, org: Org, code: str, model: str, properties: dict[str, Any]
) -> None:
    usage = read(start(database, org, [(code, model, {"properties": properties})]))
    assert (usage["amount_cents"], usage["taxes_amount_cents"], usage["total_amount_cents"],
            usage["currency"]) == (0, 0, 0, "EUR")  # fmt: skip
    assert (usage["from_datetime"], usage["to_datetime"], usage["issuing_date"]) == (
        "2024-03-05T00:00:00Z", "2024-03-31T23:59:59Z", "2024-03-31")  # fmt: skip
    [charge] = usage["charges_usage"]
    assert totals(charge) == ZERO
    assert (charge["amount_currency"], charge["charge"]["charge_model"]) == ("EUR", model)
    assert charge["billable_metric"]["code"] == code
    assert (charge["filters"], charge["grouped_usage"]) == ([], [])


def test_two_charges_at_zero(database: Database, org: Org) -> None:
    billing = start(database, org, [("count", "standard", {"properties": {"amount": "20"}}),
                                    ("sum", "graduated", {"properties": GRADUATED})])  # fmt: skip
    usage = read(billing)
    assert usage["total_amount_cents"] == 0
    assert sorted(charge["charge"]["charge_model"] for charge in usage["charges_usage"]) == [
        "graduated", "standard"]  # fmt: skip
    for charge in usage["charges_usage"]:
        assert (totals(charge), charge["filters"], charge["grouped_usage"]) == (ZERO, [], [])


GROUPED = [("count", "standard", {"properties": {"amount": "20", "grouped_by": ["region"]}})]


def test_grouped_without_events_shows_one_empty_group(database: Database, org: Org) -> None:
    [charge] = read(start(database, org, GROUPED))["charges_usage"]
    assert totals(charge) == ZERO
    [group] = charge["grouped_usage"]
    assert (group["grouped_by"], totals(group), group["filters"]) == ({"region": None}, ZERO, [])


@pytest.mark.parametrize("regions", [["europe"], ["europe", "usa"]])
def test_grouped_shows_the_groups_seen(database: Database, org: Org, regions: list[str]) -> None:
    billing = start(database, org, GROUPED)
    billing.events("sub", "count", *[(TODAY, {"region": region}) for region in regions])
    usage = read(billing, utc(2024, 3, 5, 1))
    assert usage["amount_cents"] == 2_000 * len(regions)
    [charge] = usage["charges_usage"]
    assert charge["units"] == f"{len(regions)}.0"
    assert sorted((g["grouped_by"]["region"], g["units"], g["events_count"], g["amount_cents"])
                  for g in charge["grouped_usage"]) == [
        (region, "1.0", 1, 2_000) for region in regions]  # fmt: skip


REGION_FILTERS = {"properties": {"amount": "10"}, "filters": [
    {"properties": {"amount": "20"}, "values": {"region": ["europe"]}},
    {"properties": {"amount": "50"}, "values": {"region": ["usa"]}}]}  # fmt: skip


def filtered(database: Database, org: Org, aggregation: str = "count_agg", **metric: Any
             ) -> Billing:  # fmt: skip
    return start(database, org, [("custom", "standard", REGION_FILTERS)],
                 {"aggregation": aggregation, "filters": [
                     {"key": "region", "values": ["europe", "usa"]}], **metric})  # fmt: skip


def by_values(charge: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {None if f["values"] is None else f["values"]["region"][0]: totals(f)
            for f in charge["filters"]}  # fmt: skip


def test_filters_at_zero_each_and_the_catch_all(database: Database, org: Org) -> None:
    billing = filtered(database, org)
    for _ in range(2):  # the same twice
        usage = read(billing)
        [charge] = usage["charges_usage"]
        assert (usage["total_amount_cents"], totals(charge), charge["grouped_usage"]) == (
            0, ZERO, [])  # fmt: skip
        assert by_values(charge) == {"europe": ZERO, "usa": ZERO, None: ZERO}
        assert [f["invoice_display_name"] for f in charge["filters"]] == [None, None, None]


def test_filters_with_some_usage(database: Database, org: Org) -> None:
    billing = filtered(database, org)
    billing.events("sub", "custom", (TODAY, {"region": "europe"}),
                   (TODAY, {"region": "unknown"}))  # fmt: skip
    usage = read(billing, utc(2024, 3, 5, 1))
    [charge] = usage["charges_usage"]
    # Europe at 20, the unknown region at the charge's 10.
    assert (usage["amount_cents"], charge["units"], charge["events_count"]) == (3_000, "2.0", 2)
    one = {**ZERO, "units": "1.0", "total_aggregated_units": "1.0", "events_count": 1}
    assert by_values(charge) == {"europe": {**one, "amount_cents": 2_000}, "usa": ZERO,
                                 None: {**one, "amount_cents": 1_000}}  # fmt: skip


def test_recurring_filters_carry_into_the_next_period(database: Database, org: Org) -> None:
    billing = filtered(database, org, "unique_count_agg", field_name="item_id", recurring=True)
    billing.events("sub", "custom", (TODAY, {"region": "europe", "item_id": "item_1"}))
    usage = read(billing, utc(2024, 4, 10))
    [charge] = usage["charges_usage"]
    assert (usage["amount_cents"], charge["units"]) == (2_000, "1.0")
    europe = by_values(charge)["europe"]
    assert (europe["units"], europe["amount_cents"]) == ("1.0", 2_000)
    assert (by_values(charge)["usa"], by_values(charge)[None]) == (ZERO, ZERO)


@pytest.mark.parametrize(
    ("code", "properties", "value", "units"),
    [
        ("count", {"amount": "0"}, None, "3.0"),
        # 3 units, all free (50 free units).
        ("count", {"amount": "100", "free_units": 50, "package_size": 10}, None, "3.0"),
        # Events that add nothing.
        ("sum", {"amount": "10"}, 0, "0.0"),
    ],
)  # fmt: skip
def test_events_that_cost_nothing(
    database: Database, org: Org, code: str, properties: dict[str, Any], value: int | None,
    units: str,
) -> None:  # fmt: skip
    model = "package" if "package_size" in properties else "standard"
    billing = start(database, org, [(code, model, {"properties": properties})])
    event = {} if value is None else {"value": value}
    billing.events("sub", code, *[(TODAY, event)] * 3)
    usage = read(billing, utc(2024, 3, 5, 1))
    [charge] = usage["charges_usage"]
    assert usage["amount_cents"] == 0
    assert (charge["units"], charge["total_aggregated_units"], charge["events_count"],
            charge["amount_cents"], charge["filters"]) == (units, units, 3, 0, [])  # fmt: skip


def test_a_filter_priced_at_zero(database: Database, org: Org) -> None:
    charge_fields = {"properties": {"amount": "0.12"}, "filters": [
        {"properties": {"amount": "0"}, "values": {"cloud": ["aws"]}},
        {"properties": {"amount": "0.10"}, "values": {"cloud": ["gcp"]}}]}  # fmt: skip
    billing = start(database, org, [("custom", "standard", charge_fields)],
                    {"aggregation": "sum_agg", "field_name": "hours",
                     "filters": [{"key": "cloud", "values": ["aws", "gcp"]}]})  # fmt: skip
    billing.events("sub", "custom", (TODAY, {"cloud": "aws", "hours": 100}),
                   (TODAY, {"cloud": "gcp", "hours": 200}))  # fmt: skip
    [charge] = read(billing, utc(2024, 3, 5, 1))["charges_usage"]
    assert (charge["units"], charge["events_count"], charge["amount_cents"]) == ("300.0", 2, 2_000)
    found = {None if f["values"] is None else f["values"]["cloud"][0]:
             (f["units"], f["events_count"], f["amount_cents"])
             for f in charge["filters"]}  # fmt: skip
    assert found == {"aws": ("100.0", 1, 0), "gcp": ("200.0", 1, 2_000), None: ("0.0", 0, 0)}
