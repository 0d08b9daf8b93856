"""billing.md §14 charge-model examples (E3–E10, E16), billed end to end by the clock.

Each case: a metric, a monthly in-arrears plan of 0 EUR with one charge, a customer in UTC,
a subscription, the events, then `tick` on the next billing day; the charge fee is read
back from the database and through `GET /invoices/{id}`. Amounts in the examples are in
EUR (major units): "12" is 1 200 cents.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.events.service import create_batch
from tests.conftest import Org
from tests.scenarios.billing import Billing, FeeRow, InvoiceRow, utc

METRIC = "usage"
JANUARY = utc(2024, 1, 1)
BILLED = utc(2024, 2, 1, 1)


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


def charge(metric_id: str, model: str, properties: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"billable_metric_id": metric_id, "charge_model": model, "properties": properties,
            **fields}  # fmt: skip


def rails(value: Decimal) -> str:
    """A decimal as Rails serialises a BigDecimal (billing.md §0): "12.0", "0.5"."""
    return f"{value:.0f}.0" if value == value.to_integral_value() else f"{value.normalize():f}"


def bill_january(
    billing: Billing,
    model: str,
    properties: dict[str, Any],
    values: list[str],
    aggregation: str = "sum_agg",
) -> InvoiceRow:
    """One event per value in January 2024 (calendar, UTC), billed on February 1st."""
    fields = {} if aggregation == "count_agg" else {"field_name": "v"}
    metric = billing.metric(METRIC, aggregation, **fields)
    billing.plan("p", [charge(metric, model, properties)])
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", JANUARY)
    events = [(utc(2024, 1, 10, hour), {"v": value}) for hour, value in enumerate(values)]
    if events:
        billing.events("sub", METRIC, *events)
    billing.tick(utc(2024, 1, 31, 23))
    assert billing.invoices() == []
    billing.tick(BILLED)
    [invoice] = billing.invoices()
    assert (invoice.status, invoice.billing_date) == ("finalized", BILLED.date())
    return invoice


def api_fee(http: httpx.Client, invoice: InvoiceRow) -> dict[str, Any]:
    body = http.get(f"/invoices/{invoice.id}").json()["invoice"]
    [fee] = [fee for fee in body["fees"] if fee["item"]["type"] == "charge"]
    assert fee["item"]["code"] == METRIC
    return fee


def check(
    http: httpx.Client, invoice: InvoiceRow, amount: str, units: str, events_count: int | None
) -> tuple[FeeRow, dict[str, Any]]:
    """The charge fee, in the database and through the API, is `amount` EUR for `units`
    (and `events_count` events, unless None)."""
    fee = invoice.fee(METRIC)
    precise = Decimal(amount) * 100
    cents = int(precise.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert (fee.fee_type, fee.amount_cents, fee.precise_amount_cents, fee.units) == (
        "charge", cents, precise, Decimal(units))  # fmt: skip
    body = api_fee(http, invoice)
    assert (body["amount_cents"], body["units"], body["precise_amount"]) == (
        cents, rails(Decimal(units)), rails(Decimal(amount)))  # fmt: skip
    if events_count is not None:
        assert (fee.events_count, body["events_count"]) == (events_count, events_count)
    assert invoice.fees_amount_cents == cents
    return fee, body


def charge_fees(invoice: InvoiceRow) -> list[FeeRow]:
    return [fee for fee in invoice.fees if fee.fee_type == "charge"]


# E3 — graduated, classic tiers [0–10: 10/unit + 2] [11–20: 5/unit + 3] [21–∞: 5/unit + 3].
E3 = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
        {"from_value": 11, "to_value": 20, "per_unit_amount": "5", "flat_amount": "3"},
        {"from_value": 21, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
    ]
}


@pytest.mark.parametrize(
    ("units", "amount"), [(0, "2"), (1, "12"), (10, "102"), (11, "110"), (12, "115")]
)
def test_e3_graduated(billing: Billing, http: httpx.Client, units: int, amount: str) -> None:
    values = [str(units)] if units else []
    invoice = bill_january(billing, "graduated", E3, values)
    # Without usage the first tier's flat amount is still billed: the fee line is kept.
    _, body = check(http, invoice, amount, str(units), len(values))
    if units == 12:
        assert Decimal(body["precise_unit_amount"]).quantize(Decimal("0.00001")) == Decimal(
            "9.58333"
        )


def test_e3_graduated_free_first_tier_without_usage_has_no_fee(billing: Billing) -> None:
    free_first = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 0.01, "per_unit_amount": "0", "flat_amount": "0"},
            {"from_value": 0.01, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
            {"from_value": 10, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
        ]
    }
    invoice = bill_january(billing, "graduated", free_first, [])
    # 0 units, 0 amount, 0 events: no fee line (billing.md §6).
    assert charge_fees(invoice) == []
    assert invoice.fees_amount_cents == 0


# E4 — package: amount "100", package_size 10, 121 units.


@pytest.mark.parametrize(
    ("free_units", "amount", "unit_amount"), [(0, "1300", "10.74"), (10, "1200", "10.81"),
                                              (200, "0", "0.00")]
)  # fmt: skip
def test_e4_package(
    billing: Billing, http: httpx.Client, free_units: int, amount: str, unit_amount: str
) -> None:
    properties = {"amount": "100", "package_size": 10, "free_units": free_units}
    invoice = bill_january(billing, "package", properties, ["121"])
    # All free: 0 EUR, but 121 units and one event keep the line.
    _, body = check(http, invoice, amount, "121", 1)
    assert Decimal(body["precise_unit_amount"]).quantize(Decimal("0.01")) == Decimal(unit_amount)


# E5 — volume [0–100: 2/unit + 10] [101–200: 1/unit + 0] [201–∞: 0.5/unit + 50].
E5 = {
    "volume_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
        {"from_value": 101, "to_value": 200, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 201, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "50"},
    ]
}


@pytest.mark.parametrize(
    ("units", "amount"),
    [("0", "10"), ("1", "12"), ("100", "210"), ("100.5", "100.5"), ("101", "101"),
     ("200", "200"), ("300", "200")],
)  # fmt: skip
def test_e5_volume(billing: Billing, http: httpx.Client, units: str, amount: str) -> None:
    values = [units] if Decimal(units) else []
    invoice = bill_january(billing, "volume", E5, values)
    # 0 units: the first tier's flat 10 EUR; 100.5 → ceil 101 picks the second tier.
    check(http, invoice, amount, units, len(values))


# E6 — percentage, rate 1.3 %, fixed 2.0; events 50, 100, 250, 400 (units 800).


@pytest.mark.parametrize(
    ("free", "amount"),
    [
        ({"free_units_per_events": 3, "free_units_per_total_aggregation": "250.0"}, "11.15"),
        ({"free_units_per_events": 3}, "7.2"),
        ({}, "18.4"),
    ],
)
def test_e6_percentage_free_units_and_fixed_fee(
    billing: Billing, http: httpx.Client, free: dict[str, Any], amount: str
) -> None:
    properties = {"rate": "1.3", "fixed_amount": "2.0", **free}
    invoice = bill_january(billing, "percentage", properties, ["50", "100", "250", "400"])
    check(http, invoice, amount, "800", 4)


def test_e6_percentage_without_fixed_fee(billing: Billing, http: httpx.Client) -> None:
    # Rate 2.9 %, 4 units (4 counted events), no fixed fee → 0.116 EUR.
    invoice = bill_january(billing, "percentage", {"rate": "2.9"}, ["1"] * 4, "count_agg")
    check(http, invoice, "0.116", "4", 4)


# E7 — percentage with per-transaction bounds: events 10, 80, 10 000; rate 2.99 %.
E7 = {"rate": "2.99", "per_transaction_min_amount": "1.75", "per_transaction_max_amount": "12"}


@pytest.mark.parametrize(
    ("properties", "amount"),
    [
        (E7, "16.142"),
        ({**E7, "fixed_amount": "2.0"}, "18.691"),
        ({**E7, "free_units_per_events": 2}, "12"),
        ({**E7, "free_units_per_total_aggregation": "30"}, "13.794"),
        ({**E7, "free_units_per_events": 3, "free_units_per_total_aggregation": "10000"}, "2.691"),
        ({"rate": "2.99"}, "301.691"),
    ],
)
def test_e7_percentage_per_transaction_min_max(
    billing: Billing, http: httpx.Client, properties: dict[str, Any], amount: str
) -> None:
    invoice = bill_january(billing, "percentage", properties, ["10", "80", "10000"])
    check(http, invoice, amount, "10090", 3)


# E8 — graduated percentage [0–10: 1 % + 200] [11–20: 2 % + 300] [21–∞: 3 % + 400].
E8 = {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "200"},
        {"from_value": 11, "to_value": 20, "rate": "2", "flat_amount": "300"},
        {"from_value": 21, "to_value": None, "rate": "3", "flat_amount": "400"},
    ]
}


@pytest.mark.parametrize(("units", "amount"), [(0, "200"), (1, "200.01")])
def test_e8_graduated_percentage(
    billing: Billing, http: httpx.Client, units: int, amount: str
) -> None:
    values = [str(units)] if units else []
    invoice = bill_january(billing, "graduated_percentage", E8, values)
    check(http, invoice, amount, str(units), len(values))


# E9 — weighted sum over August 2023 (31 days), standard 10 EUR a unit.
E9_DELTAS = [((0, 0), 2), ((1, 0), 3), ((1, 30), 1), ((2, 0), -4), ((4, 0), -2), ((5, 0), 10),
             ((5, 30), -10)]  # fmt: skip


@pytest.mark.parametrize(
    ("deltas", "units", "shown", "cents"),
    [
        # (2×3600 + 5×1800 + 6×1800 + 2×7200 + 0×3600 + 10×1800) / (31×86400); 0.2218 EUR.
        (E9_DELTAS, Decimal(59_400) / Decimal(2_678_400), Decimal("0.02218"), 22),
        # A single +1000 at the period start: 1000 units, 10 000 EUR.
        ([((0, 0), 1000)], Decimal(1000), Decimal(1000), 1_000_000),
    ],
)
def test_e9_weighted_sum(
    billing: Billing,
    http: httpx.Client,
    deltas: list[tuple[tuple[int, int], int]],
    units: Decimal,
    shown: Decimal,
    cents: int,
) -> None:
    metric = billing.metric(METRIC, "weighted_sum_agg", field_name="v", weighted_interval="seconds")
    billing.plan("p", [charge(metric, "standard", {"amount": "10"})])
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2023, 8, 1))
    billing.events("sub", METRIC, *[(utc(2023, 8, 1, h, m), {"v": v}) for (h, m), v in deltas])
    billing.tick(utc(2023, 9, 1, 1))
    [invoice] = billing.invoices()
    assert invoice.billing_date == utc(2023, 9, 1).date()
    fee = invoice.fee(METRIC)
    assert round(fee.units, 5) == shown
    # Units kept at 20 decimals; compared at 12 (PostgreSQL keeps 15 places).
    assert (fee.amount_cents, round(fee.precise_amount_cents, 12), round(fee.units, 12),
            fee.events_count) == (cents, round(units * 1000, 12), round(units, 12),
                                  len(deltas))  # fmt: skip
    body = api_fee(http, invoice)
    assert body["amount_cents"] == cents
    assert round(Decimal(body["units"]), 12) == round(units, 12)
    assert round(Decimal(body["precise_amount"]), 12) == round(units * 10, 12)


# E10 — prorated recurring sum: 2 × 2.5 in March (carried at full weight into May) and
# 2 × 12 on May 26 (6 days of 31 left): 5 + 24 × 6/31 = 9.645161… → ceil(5) 9.64517.


def bill_e10(billing: Billing) -> tuple[InvoiceRow, InvoiceRow]:
    """The April and May 2023 invoices of a recurring, prorated sum charged 100 EUR a unit."""
    storage = billing.metric(METRIC, "sum_agg", field_name="v", recurring=True)
    billing.plan("p", [charge(storage, "standard", {"amount": "100"}, prorated=True)])
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2023, 3, 1))
    billing.events(
        "sub",
        METRIC,
        (utc(2023, 3, 3), {"v": "2.5"}),
        (utc(2023, 3, 9), {"v": "2.5"}),
        (utc(2023, 5, 26, 8), {"v": 12}),
        (utc(2023, 5, 26, 9), {"v": 12}),
    )
    billing.tick(utc(2023, 6, 1, 1))
    # March (billed Apr 1) and April (May 1) come first; the June 1st invoice bills May only.
    invoices = billing.invoices()
    assert [invoice.billing_date for invoice in invoices] == [
        utc(2023, 4, 1).date(), utc(2023, 5, 1).date(), utc(2023, 6, 1).date()]  # fmt: skip
    april, may = invoices[1:]
    assert (may.periods[0]["charges_from"], may.periods[0]["charges_to"]) == (
        utc(2023, 5, 1), utc(2023, 5, 31, 23, 59, 59))  # fmt: skip
    return april, may


def test_e10_prorated_recurring_sum(billing: Billing, http: httpx.Client) -> None:
    april, may = bill_e10(billing)
    # Units shown unprorated (29); the amount uses 9.64517 units × 100 EUR.
    check(http, may, "964.517", "29", None)
    # April carried the whole March level at full weight: 5 units × 100 EUR.
    assert (april.fee(METRIC).amount_cents, april.fee(METRIC).units) == (50_000, Decimal(5))


def test_e10_events_count_includes_the_carried_events(billing: Billing, http: httpx.Client) -> None:
    _, may = bill_e10(billing)
    assert may.fee(METRIC).events_count == 4
    assert api_fee(http, may)["events_count"] == 4


# E16 — dynamic: the events carry their price in precise_total_amount_cents.


def test_e16_dynamic(billing: Billing, http: httpx.Client) -> None:
    metric = billing.metric(METRIC, "sum_agg", field_name="v")
    billing.plan("p", [charge(metric, "dynamic", {})])
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", JANUARY)
    raw = [
        {"transaction_id": f"dyn-{index}", "external_subscription_id": "sub", "code": METRIC,
         "timestamp": utc(2024, 1, 10 + index).timestamp(), "properties": {"v": 1},
         "precise_total_amount_cents": cents}
        for index, cents in enumerate(["1234.56", "100.4"])
    ]  # fmt: skip
    with billing.database.transaction() as session:
        create_batch(session, billing.org.id, raw, utc(2020, 1, 1))
    billing.tick(BILLED)
    [invoice] = billing.invoices()
    # 1 234.56 + 100.4 = 1 334.96 cents = 13.3496 EUR → 1 335.
    fee, _ = check(http, invoice, "13.3496", "2", 2)
    assert (fee.amount_cents, fee.precise_amount_cents) == (1335, Decimal("1334.96"))
