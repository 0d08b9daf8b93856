"""Current usage through the services with a fixed `now`, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.core.limits import ValueOutOfRange
from meterbill.customers.schemas import parse_customer
from meterbill.customers.service import upsert_customer
from meterbill.events.schemas import EventInput
from meterbill.events.service import create_batch, insert_events
from meterbill.metrics.schemas import parse_metric
from meterbill.metrics.service import create_metric
from meterbill.plans.schemas import parse_plan
from meterbill.plans.service import create_plan
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from meterbill.taxes.schemas import parse_tax
from meterbill.taxes.service import create_tax
from meterbill.usage.schemas import customer_usage_object
from meterbill.usage.service import compute_current_usage
from tests.conftest import Org, make_org

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True
CLICKHOUSE_HTTP = True


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class Setup:
    """Builds a customer, metric, plan and subscription the way the API does."""

    def __init__(self, database: Database, org: Org) -> None:
        self.database, self.org = database, org

    def metric(self, code: str, aggregation: str = "count_agg", **fields: Any) -> str:
        body = {"name": code.title(), "code": code, "aggregation_type": aggregation, **fields}
        with self.database.transaction() as session:
            return str(
                create_metric(
                    session, self.org.id, parse_metric(body, creating=True), utc(2020, 1, 1)
                ).id
            )

    def plan(self, code: str, charges: list[dict[str, Any]], **fields: Any) -> None:
        body = {"name": code, "code": code, "interval": "monthly", "amount_cents": 0,
                "amount_currency": "EUR", "charges": charges, **fields}  # fmt: skip
        with self.database.transaction() as session:
            create_plan(session, self.org.id, parse_plan(body, creating=True), utc(2020, 1, 1))

    def customer(self, external_id: str, **fields: Any) -> None:
        with self.database.transaction() as session:
            upsert_customer(
                session, self.org.id, parse_customer({"external_id": external_id, **fields}),
                utc(2020, 1, 1),
            )  # fmt: skip

    def subscribe(self, customer: str, plan: str, external_id: str, at: datetime,
                  **fields: Any) -> None:  # fmt: skip
        body = {"external_customer_id": customer, "plan_code": plan, "external_id": external_id,
                "subscription_at": at.isoformat(), **fields}  # fmt: skip
        with self.database.transaction() as session:
            create_subscription(session, self.org.id, parse_subscription(body, creating=True), at)

    def events(self, subscription: str, code: str, *items: tuple[datetime, dict[str, Any]]) -> None:
        raw = [
            {"transaction_id": f"{subscription}-{code}-{index}-{at.isoformat()}",
             "external_subscription_id": subscription, "code": code,
             "timestamp": at.timestamp(), "properties": properties}
            for index, (at, properties) in enumerate(items)
        ]  # fmt: skip
        with self.database.transaction() as session:
            create_batch(session, self.org.id, raw, utc(2020, 1, 1))

    def tax(self, code: str, rate: str, **fields: Any) -> None:
        with self.database.transaction() as session:
            body = {"code": code, "name": code, "rate": rate, **fields}
            create_tax(session, self.org.id, parse_tax(body, creating=True), utc(2020, 1, 1))

    def usage(
        self, customer: str, subscription: str, now: datetime, **options: Any
    ) -> dict[str, Any]:
        with self.database.transaction(write=False) as session:
            return customer_usage_object(
                compute_current_usage(session, self.org.id, customer, subscription, now, **options)
            )


@pytest.fixture
def setup(database: Database, org: Org) -> Setup:
    return Setup(database, org)


def test_monthly_calendar_graduated_with_tax(setup: Setup) -> None:
    # customers.md §13 item 37.
    calls = setup.metric("api_calls")
    setup.tax("vat", "20", applied_to_organization=True)
    setup.plan("p", [{"billable_metric_id": calls, "charge_model": "graduated", "properties": {
        "graduated_ranges": [{"from_value": 0, "to_value": None, "per_unit_amount": "0.01",
                              "flat_amount": "0.01"}]}}])  # fmt: skip
    setup.subscribe("cus", "p", "sub", utc(2022, 6, 15))
    setup.events("sub", "api_calls", *[(utc(2022, 7, day), {}) for day in (1, 2, 3, 31)])
    usage = setup.usage("cus", "sub", utc(2022, 7, 20))
    assert (usage["from_datetime"], usage["to_datetime"], usage["issuing_date"]) == (
        "2022-07-01T00:00:00Z", "2022-07-31T23:59:59Z", "2022-07-31",
    )  # fmt: skip
    assert (usage["amount_cents"], usage["taxes_amount_cents"], usage["total_amount_cents"]) == (
        5, 1, 6,
    )  # fmt: skip
    assert usage["currency"] == "EUR"
    [charge] = usage["charges_usage"]
    assert (charge["units"], charge["events_count"], charge["amount_cents"]) == ("4.0", 4, 5)
    assert charge["billable_metric"]["aggregation_type"] == "count_agg"
    untaxed = setup.usage("cus", "sub", utc(2022, 7, 20), apply_taxes=False)
    assert (untaxed["taxes_amount_cents"], untaxed["total_amount_cents"]) == (0, 5)


@pytest.mark.parametrize(
    ("timezone", "to_datetime"),
    [
        ("UTC", "2023-12-31T23:59:59Z"),
        ("Europe/Berlin", "2023-12-31T22:59:59Z"),
        ("America/Los_Angeles", "2024-01-01T07:59:59Z"),
    ],
)
def test_yearly_period_in_the_customer_timezone(
    setup: Setup, timezone: str, to_datetime: str
) -> None:
    # customers.md §8 worked example.
    calls = setup.metric("calls")
    setup.plan("y", [{"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": "1"}}], interval="yearly")  # fmt: skip
    setup.customer("cus", timezone=timezone)
    setup.subscribe("cus", "y", "sub", utc(2023, 1, 1, 9, 30))
    usage = setup.usage("cus", "sub", utc(2023, 8, 8))
    assert (usage["from_datetime"], usage["to_datetime"]) == ("2023-01-01T09:30:00Z", to_datetime)


def test_anniversary_period(setup: Setup) -> None:
    calls = setup.metric("calls")
    setup.plan("a", [{"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": "1"}}])  # fmt: skip
    setup.subscribe("cus", "a", "sub", utc(2022, 3, 7), billing_time="anniversary")
    usage = setup.usage("cus", "sub", utc(2022, 6, 22))
    assert (usage["from_datetime"], usage["to_datetime"], usage["issuing_date"]) == (
        "2022-06-07T00:00:00Z", "2022-07-06T23:59:59Z", "2022-07-06",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("interval", "utc_bounds", "tokyo_bounds", "utc_units", "tokyo_units"),
    [
        ("monthly", ("2024-01-01T00:00:00Z", "2024-01-31T23:59:59Z"),
         ("2024-01-31T15:00:00Z", "2024-02-29T14:59:59Z"), "2.0", "1.0"),
        ("weekly", ("2024-01-29T00:00:00Z", "2024-02-04T23:59:59Z"),
         ("2024-01-28T15:00:00Z", "2024-02-04T14:59:59Z"), "2.0", "2.0"),
        ("yearly", ("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"),
         ("2023-12-31T15:00:00Z", "2024-12-31T14:59:59Z"), "2.0", "2.0"),
    ],
)  # fmt: skip
def test_same_events_utc_and_tokyo(
    setup: Setup, interval: str, utc_bounds: tuple[str, str], tokyo_bounds: tuple[str, str],
    utc_units: str, tokyo_units: str,
) -> None:  # fmt: skip
    calls = setup.metric("calls")
    setup.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": "1.5"}}], interval=interval)  # fmt: skip
    setup.customer("in-utc", timezone="UTC")
    setup.customer("in-tokyo", timezone="Asia/Tokyo")
    start = utc(2023, 6, 1)
    setup.subscribe("in-utc", "p", "s-utc", start)
    setup.subscribe("in-tokyo", "p", "s-tokyo", start)
    # 10:00Z on Jan 31 is still January in Tokyo (19:00); 20:00Z is February 1st there.
    moments = [(utc(2024, 1, 31, 10), {}), (utc(2024, 1, 31, 20), {})]
    setup.events("s-utc", "calls", *moments)
    setup.events("s-tokyo", "calls", *moments)
    now = utc(2024, 1, 31, 21)
    in_utc = setup.usage("in-utc", "s-utc", now)
    in_tokyo = setup.usage("in-tokyo", "s-tokyo", now)
    assert (in_utc["from_datetime"], in_utc["to_datetime"]) == utc_bounds
    assert (in_tokyo["from_datetime"], in_tokyo["to_datetime"]) == tokyo_bounds
    assert in_utc["charges_usage"][0]["units"] == utc_units
    assert in_tokyo["charges_usage"][0]["units"] == tokyo_units
    # 1.5 per call, in cents.
    assert in_utc["amount_cents"] == int(float(utc_units) * 150)
    assert in_tokyo["amount_cents"] == int(float(tokyo_units) * 150)


def test_filters_grouping_and_zero_usage_charges(setup: Setup) -> None:
    storage = setup.metric("storage", "sum_agg", field_name="gb",
                           filters=[{"key": "region", "values": ["us", "eu"]}])  # fmt: skip
    seats = setup.metric("seats", "unique_count_agg", field_name="user")
    idle = setup.metric("idle", "sum_agg", field_name="x")
    setup.plan("p", [
        {"billable_metric_id": storage, "charge_model": "standard", "properties": {"amount": "1"},
         "filters": [{"values": {"region": ["us"]}, "properties": {"amount": "2"},
                      "invoice_display_name": "US"}]},
        {"billable_metric_id": seats, "charge_model": "standard",
         "properties": {"amount": "10", "pricing_group_keys": ["team"]}},
        {"billable_metric_id": idle, "charge_model": "graduated", "properties": {
            "graduated_ranges": [{"from_value": 0, "to_value": None, "per_unit_amount": "1",
                                  "flat_amount": "3"}]}},
    ])  # fmt: skip
    setup.subscribe("cus", "p", "sub", utc(2024, 3, 1))
    setup.events(
        "sub",
        "storage",
        (utc(2024, 3, 2), {"gb": 3, "region": "us"}),
        (utc(2024, 3, 3), {"gb": "1.5", "region": "eu"}),
        (utc(2024, 3, 4), {"gb": 2}),
    )
    setup.events("sub", "seats", (utc(2024, 3, 2), {"user": "a", "team": "red"}),
                 (utc(2024, 3, 3), {"user": "b", "team": "red"}),
                 (utc(2024, 3, 4), {"user": "c", "team": "blue"}))  # fmt: skip
    usage = setup.usage("cus", "sub", utc(2024, 3, 10))
    by_code = {c["billable_metric"]["code"]: c for c in usage["charges_usage"]}
    # Sorted by metric name.
    assert [c["billable_metric"]["code"] for c in usage["charges_usage"]] == [
        "idle",
        "seats",
        "storage",
    ]
    storage_usage = by_code["storage"]
    assert (storage_usage["units"], storage_usage["amount_cents"]) == ("6.5", 600 + 350)
    assert [(f["values"], f["units"], f["amount_cents"], f["invoice_display_name"])
            for f in storage_usage["filters"]] == [
        ({"region": ["us"]}, "3.0", 600, "US"),
        (None, "3.5", 350, None),
    ]  # fmt: skip
    seats_usage = by_code["seats"]
    assert seats_usage["amount_cents"] == 3000
    assert sorted((g["grouped_by"]["team"], g["units"], g["amount_cents"])
                  for g in seats_usage["grouped_usage"]) == [("blue", "1.0", 1000),
                                                              ("red", "2.0", 2000)]  # fmt: skip
    # A graduated charge bills its first flat amount even without usage.
    assert (by_code["idle"]["units"], by_code["idle"]["amount_cents"]) == ("0.0", 300)
    assert usage["amount_cents"] == 950 + 3000 + 300


def test_e10_prorated_recurring_sum(setup: Setup) -> None:
    # billing.md E10: 5 carried from March at full weight, 2 × 12 added on May 26
    # (6 days left of 31): 5 + 24 × 6 / 31 = 9.645161… → 9.64517 (ceiling, 5 places).
    storage = setup.metric("storage", "sum_agg", field_name="gb", recurring=True)
    setup.plan("p", [{"billable_metric_id": storage, "charge_model": "standard",
                      "prorated": True, "properties": {"amount": "100"}}])  # fmt: skip
    setup.subscribe("cus", "p", "sub", utc(2023, 1, 1))
    setup.events(
        "sub",
        "storage",
        (utc(2023, 3, 3), {"gb": "2.5"}),
        (utc(2023, 3, 9), {"gb": "2.5"}),
        (utc(2023, 5, 26, 8), {"gb": 12}),
        (utc(2023, 5, 26, 9), {"gb": 12}),
    )
    usage = setup.usage("cus", "sub", utc(2023, 5, 28))
    [charge] = usage["charges_usage"]
    # Units shown unprorated; the amount uses the prorated units: 9.64517 × 100 EUR.
    assert (charge["units"], charge["events_count"]) == ("29.0", 4)
    assert charge["amount_cents"] == 96452


def test_taxes_come_from_the_charge_else_plan_else_customer_else_organization(
    setup: Setup,
) -> None:
    setup.tax("vat", "20", applied_to_organization=True)
    for code, rate in (("ten", "10"), ("half", "2.5"), ("five", "5"), ("seven", "7")):
        setup.tax(code, rate)
    calls, seats = setup.metric("calls"), setup.metric("seats")
    per_unit = {"charge_model": "standard", "properties": {"amount": "1"}}
    setup.plan("a", [{"billable_metric_id": calls, **per_unit}])
    setup.plan("b", [{"billable_metric_id": calls, **per_unit, "tax_codes": ["seven"]},
                     {"billable_metric_id": seats, "charge_model": "standard",
                      "properties": {"amount": "2"}}], tax_codes=["five"])  # fmt: skip
    setup.customer("plain", timezone="UTC")
    setup.customer("taxed", timezone="UTC", tax_codes=["ten", "half"])
    for customer, plan in (("plain", "a"), ("taxed", "a"), ("taxed", "b")):
        subscription = f"{customer}-{plan}"
        setup.subscribe(customer, plan, subscription, utc(2024, 1, 1))
        for code in ("calls", "seats"):
            setup.events(subscription, code, *[(utc(2024, 1, 2, n), {}) for n in range(10)])
    taxes = {
        (customer, plan): setup.usage(customer, f"{customer}-{plan}", utc(2024, 1, 10))[
            "taxes_amount_cents"]
        for customer, plan in (("plain", "a"), ("taxed", "a"), ("taxed", "b"))
    }  # fmt: skip
    # 10 calls at 1 EUR (1 000) and, on plan b, 10 seats at 2 EUR (2 000).
    assert taxes == {
        ("plain", "a"): 200,  # the organization's 20 %
        ("taxed", "a"): 125,  # the customer's 10 % + 2.5 %
        ("taxed", "b"): 170,  # calls: the charge's own 7 %; seats: the plan's 5 %
    }


def test_usage_beyond_64_bit_integers_is_refused_not_crashed(fresh: Database) -> None:
    # 10^20 units at 0.01: 10^20 cents, beyond what an integer amount can hold (issue 13).
    setup = Setup(fresh, make_org(fresh))
    units = setup.metric("units", "sum_agg", field_name="units")
    setup.plan("p", [{"billable_metric_id": units, "charge_model": "standard",
                      "properties": {"amount": "0.01"}}])  # fmt: skip
    setup.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    event = EventInput("huge", "sub", "units", utc(2024, 1, 5), {"units": "1" + "0" * 20}, None)
    with fresh.transaction() as session:
        insert_events(session, setup.org.id, [event], utc(2024, 1, 5))
    with pytest.raises(ValueOutOfRange) as refused:
        setup.usage("cus", "sub", utc(2024, 1, 20))
    assert refused.value.body() == {
        "status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
        "error_details": {"amount_cents": ["value_is_out_of_range"]},
    }  # fmt: skip
