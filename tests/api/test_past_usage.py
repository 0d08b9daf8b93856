"""GET /api/v1/customers/{id}/past_usage: billed periods read back from real invoices.

Three months of usage are billed by `tick` at fixed dates, then read through the
official client and raw HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client

from meterbill.clock import tick
from meterbill.core.db import Database
from tests.conftest import Org
from tests.db.test_current_usage import Setup, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True

EMPTY_META = {"current_page": 0, "next_page": None, "prev_page": None, "total_pages": 0,
              "total_count": 0}  # fmt: skip


@pytest.fixture
def billed(database: Database, org: Org) -> Setup:
    """January to March billed for `sub` (and `side`, another subscription of `cus`)."""
    setup = Setup(database, org)
    setup.tax("vat", "20", applied_to_organization=True)
    calls = setup.metric("calls")
    storage = setup.metric("storage", "sum_agg", field_name="gb",
                           filters=[{"key": "region", "values": ["us", "eu"]}])  # fmt: skip
    seats = setup.metric("seats", "unique_count_agg", field_name="user")
    setup.plan("p", [
        {"billable_metric_id": calls, "charge_model": "standard", "properties": {"amount": "1"}},
        {"billable_metric_id": storage, "charge_model": "standard", "properties": {"amount": "1"},
         "filters": [{"values": {"region": ["us"]}, "properties": {"amount": "2"},
                      "invoice_display_name": "US"}]},
        {"billable_metric_id": seats, "charge_model": "standard",
         "properties": {"amount": "10", "pricing_group_keys": ["team"]}},
    ], amount_cents=500)  # fmt: skip
    setup.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    setup.subscribe("cus", "p", "side", utc(2024, 1, 1))
    for month, calls_count in ((1, 1), (2, 2), (3, 3)):
        setup.events("sub", "calls", *[(utc(2024, month, 2 + i), {}) for i in range(calls_count)])
    setup.events("sub", "storage", (utc(2024, 3, 5), {"gb": 3, "region": "us"}),
                 (utc(2024, 3, 6), {"gb": 4, "region": "eu"}),
                 (utc(2024, 3, 7), {"gb": 5}))  # fmt: skip
    setup.events("sub", "seats", (utc(2024, 3, 5), {"user": "a", "team": "red"}),
                 (utc(2024, 3, 6), {"user": "b", "team": "red"}),
                 (utc(2024, 3, 7), {"user": "c", "team": "blue"}))  # fmt: skip
    setup.events("side", "calls", (utc(2024, 3, 9), {}))
    for month in (2, 3, 4):
        tick(database, utc(2024, month, 1, 1))
    return setup


def periods(http: httpx.Client, customer: str = "cus", **params: Any) -> dict[str, Any]:
    response = http.get(f"/customers/{customer}/past_usage", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_one_period_per_billed_invoice_newest_first(
    billed: Setup, http: httpx.Client, lago: Client
) -> None:
    body = periods(http, external_subscription_id="sub")
    assert body["meta"] == {"current_page": 1, "next_page": None, "prev_page": None,
                            "total_pages": 1, "total_count": 3}  # fmt: skip
    march, _february, january = body["usage_periods"]
    assert [
        (p["from_datetime"], p["to_datetime"], p["issuing_date"]) for p in (march, january)
    ] == [
        ("2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z", "2024-04-01"),
        ("2024-01-01T00:00:00Z", "2024-01-31T23:59:59Z", "2024-02-01"),
    ]
    # Amounts are the invoice's: both subscriptions' fees (2 × 5.00 + usage), and the
    # taxes of every fee on it; lago_invoice_id names that invoice.
    invoice = http.get(f"/invoices/{march['lago_invoice_id']}").json()["invoice"]
    assert march["currency"] == "EUR"
    assert march["amount_cents"] == invoice["fees_amount_cents"]
    assert march["taxes_amount_cents"] == invoice["taxes_amount_cents"]
    assert march["total_amount_cents"] == march["amount_cents"] + march["taxes_amount_cents"]
    # March for `sub`: 3 calls × 1.00, storage 3 GB US × 2.00 + 9 GB × 1.00, 3 seats × 10.00;
    # `side`'s call is on the same invoice but not in this subscription's usage.
    assert march["amount_cents"] == 2 * 500 + 300 + 1_500 + 3_000 + 100
    by_metric = {c["billable_metric"]["code"]: c for c in march["charges_usage"]}
    calls = by_metric["calls"]
    assert (calls["units"], calls["events_count"], calls["amount_cents"]) == ("3.0", 3, 300)
    assert calls["total_aggregated_units"] == "3.0"
    assert calls["amount_currency"] == "EUR"
    assert calls["charge"]["charge_model"] == "standard"
    assert calls["billable_metric"]["aggregation_type"] == "count_agg"
    assert (calls["filters"], calls["grouped_usage"]) == ([], [])
    storage = by_metric["storage"]
    assert (storage["units"], storage["amount_cents"]) == ("12.0", 1_500)
    # One entry per billed filter, and one for the events no filter matched.
    assert sorted(
        ((f["values"], f["invoice_display_name"], f["units"], f["amount_cents"])
         for f in storage["filters"]), key=str,
    ) == [
        (None, None, "9.0", 900),
        ({"region": ["us"]}, "US", "3.0", 600),
    ]  # fmt: skip
    seats = by_metric["seats"]
    assert sorted((g["grouped_by"]["team"], g["units"], g["amount_cents"])
                  for g in seats["grouped_usage"]) == [("blue", "1.0", 1_000),
                                                       ("red", "2.0", 2_000)]  # fmt: skip
    assert [c["billable_metric"]["code"] for c in january["charges_usage"]] == ["calls"]
    # The official client parses every period.
    parsed = lago.customers.past_usage("cus", "sub")
    assert [p.from_datetime for p in parsed["usage_periods"]] == [
        "2024-03-01T00:00:00Z", "2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z",
    ]  # fmt: skip
    assert parsed["usage_periods"][0].charges_usage[0].charge.lago_id
    assert parsed["meta"]["total_count"] == 3


def test_metric_filter_pages_and_periods_count(billed: Setup, http: httpx.Client) -> None:
    only_calls = periods(http, external_subscription_id="sub", billable_metric_code="storage")
    charges = [[c["billable_metric"]["code"] for c in p["charges_usage"]]
               for p in only_calls["usage_periods"]]  # fmt: skip
    # Every period stays; only that metric's charges are listed.
    assert charges == [["storage"], [], []]
    second = periods(http, external_subscription_id="sub", per_page=1, page=2)
    assert [p["from_datetime"] for p in second["usage_periods"]] == ["2024-02-01T00:00:00Z"]
    assert second["meta"] == {"current_page": 2, "next_page": 3, "prev_page": 1,
                              "total_pages": 3, "total_count": 3}  # fmt: skip
    # periods_count caps the page (Lago's LIMIT after pagination).
    newest = periods(http, external_subscription_id="sub", periods_count=2)
    assert [p["issuing_date"] for p in newest["usage_periods"]] == ["2024-04-01", "2024-03-01"]
    assert newest["meta"] == {"current_page": 1, "next_page": 2, "prev_page": None,
                              "total_pages": 2, "total_count": 3}  # fmt: skip
    for odd in ("0", "abc", "-3"):
        assert (
            periods(http, external_subscription_id="sub", periods_count=odd)["usage_periods"] == []
        )
    # Another subscription of the same customer has its own periods.
    side = periods(http, external_subscription_id="side")["usage_periods"]
    assert len(side) == 3
    assert [c["units"] for c in side[0]["charges_usage"]] == ["1.0"]


def test_refusals_and_unknowns(billed: Setup, http: httpx.Client) -> None:
    for params in ({}, {"external_subscription_id": ""}):
        missing = http.get("/customers/cus/past_usage", params=params)
        assert (missing.status_code, missing.json()) == (422, {
            "status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
            "error_details": {"external_subscription_id": ["value_is_mandatory"]},
        })  # fmt: skip
    unknown_metric = http.get(
        "/customers/cus/past_usage",
        params={"external_subscription_id": "sub", "billable_metric_code": "nope"},
    )
    assert (unknown_metric.status_code, unknown_metric.json()) == (404, {
        "status": 404, "error": "Not Found", "code": "billable_metric_not_found",
    })  # fmt: skip
    # The customer is not looked up: an unknown one (or subscription) has no periods.
    assert periods(http, "nobody", external_subscription_id="sub") == {
        "usage_periods": [], "meta": EMPTY_META,
    }  # fmt: skip
    assert periods(http, external_subscription_id="nope")["usage_periods"] == []
    odd = periods(http, external_subscription_id="sub", page="x", per_page="-1")
    assert odd["meta"]["total_count"] == 3


def test_another_organization_sees_nothing(billed: Setup, server: str, database: Database) -> None:
    from tests.conftest import make_org

    stranger = make_org(database, "Stranger")
    response = httpx.get(
        f"{server}/api/v1/customers/cus/past_usage",
        params={"external_subscription_id": "sub"},
        headers={"Authorization": f"Bearer {stranger.api_key}"},
    )
    assert response.json() == {"usage_periods": [], "meta": EMPTY_META}
