"""Pay-in-advance charges (billing.md §2.5, E18): a fee per event, renewals of recurring ones."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.event_store import store_for
from meterbill.event_store.clickhouse import store as clickhouse_store
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


def _fees(http: httpx.Client, subscription: str) -> list[dict[str, Any]]:
    body = http.get(
        "/fees", params={"external_subscription_id": subscription, "per_page": 100}
    ).json()
    charges = [fee for fee in body["fees"] if fee["item"]["type"] == "charge"]
    return sorted(charges, key=lambda fee: (fee["created_at"], fee["from_date"]))


def _seats_plan(billing: Billing, **charge: Any) -> None:
    seats = billing.metric("seats", "unique_count_agg", field_name="item_id", recurring=True)
    billing.plan("seats_plan", [{"billable_metric_id": seats, "charge_model": "standard",
                                 "properties": {"amount": "30"}, "pay_in_advance": True,
                                 "invoiceable": False, "prorated": True, **charge}],
                 pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "seats_plan", "sub", utc(2024, 6, 5))


def _seat_days(billing: Billing, month: int, days: range, first: int) -> None:
    for offset, day in enumerate(days):
        billing.events(
            "sub", "seats", (utc(2024, month, day, 9), {"item_id": f"s{first + offset}"})
        )


def test_e18_prorated_seats_standalone_fees_and_renewals(
    billing: Billing, http: httpx.Client
) -> None:
    _seats_plan(billing)
    billing.tick(utc(2024, 6, 5, 1))
    _seat_days(billing, 6, range(11, 16), 1)
    billing.tick(utc(2024, 6, 16))
    june = _fees(http, "sub")
    assert sorted((fee["amount_cents"], fee["units"], fee["lago_invoice_id"], fee["pay_in_advance"],
                   fee["invoiceable"], fee["events_count"]) for fee in june) == [
        (amount, "1.0", None, True, False, 1) for amount in (1600, 1700, 1800, 1900, 2000)
    ]  # fmt: skip
    assert {fee["item"]["code"] for fee in june} == {"seats"}
    # Ticking again bills nothing twice.
    billing.tick(utc(2024, 6, 16, 5))
    assert len(_fees(http, "sub")) == 5

    billing.tick(utc(2024, 7, 1, 1))
    renewal = [fee for fee in _fees(http, "sub") if fee["from_date"].startswith("2024-07-01")]
    assert [(fee["units"], fee["amount_cents"], fee["lago_invoice_id"]) for fee in renewal] == [
        ("5.0", 15_000, None)
    ]
    assert renewal[0]["to_date"].startswith("2024-07-31T23:59:59")
    # The periodic invoice carries the plan, not the non-invoiceable seats.
    july_invoice = [i for i in billing.invoices() if i.billing_date == utc(2024, 7, 1).date()]
    assert [fee.item_code for fee in july_invoice[0].fees] == ["seats_plan"]

    _seat_days(billing, 7, range(10, 12), 6)
    billing.tick(utc(2024, 7, 12))
    july = [fee for fee in _fees(http, "sub") if fee["from_date"].startswith("2024-07-01")]
    # 30 x 22/31 = 21.2903 and 30 x 21/31 = 20.3226 EUR.
    assert sorted(fee["amount_cents"] for fee in july) == [2032, 2129, 15_000]
    billing.tick(utc(2024, 8, 1, 1))
    august = [fee for fee in _fees(http, "sub") if fee["from_date"].startswith("2024-08-01")]
    assert [(fee["units"], fee["amount_cents"]) for fee in august] == [("7.0", 21_000)]
    billing.tick(utc(2024, 8, 1, 7))
    assert len(_fees(http, "sub")) == 5 + 1 + 2 + 1


def test_e18_grouped_renewal_is_one_fee_per_seat(billing: Billing, http: httpx.Client) -> None:
    _seats_plan(billing, properties={"amount": "30", "pricing_group_keys": ["item_id"]})
    _seat_days(billing, 6, range(11, 16), 1)
    billing.tick(utc(2024, 6, 16))
    assert sorted(fee["amount_cents"] for fee in _fees(http, "sub")) == [
        1600,
        1700,
        1800,
        1900,
        2000,
    ]
    billing.tick(utc(2024, 7, 1, 1))
    renewal = [fee for fee in _fees(http, "sub") if fee["from_date"].startswith("2024-07-01")]
    assert sorted((fee["item"]["grouped_by"]["item_id"], fee["units"], fee["amount_cents"])
                  for fee in renewal) == [(f"s{i}", "1.0", 3000) for i in range(1, 6)]  # fmt: skip


def test_invoiceable_event_gets_its_own_invoice_with_coupon_and_tax(
    billing: Billing, http: httpx.Client
) -> None:
    billing.tax("vat", "24")
    calls = billing.metric("calls")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "14.29"}, "pay_in_advance": True,
                        "tax_codes": ["vat"]}])  # fmt: skip
    billing.customer("cus", timezone="UTC", invoice_grace_period=3)
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 1))
    billing.coupon("c", coupon_type="fixed_amount", amount_cents=500, amount_currency="EUR",
                   frequency="once")  # fmt: skip
    billing.apply("cus", "c", utc(2024, 3, 1))
    billing.events("sub", "calls", (utc(2024, 3, 4, 10), {}), (utc(2024, 3, 4, 11), {}))
    billing.tick(utc(2024, 3, 4, 12))
    first, second = billing.invoices("cus")
    # No grace period for these: finalized and numbered at once, coupons applied.
    assert (first.status, second.status) == ("finalized", "finalized")
    assert first.number.endswith("-001-001") and second.number.endswith("-001-002")
    # 929 x 24 % = 222.96; 1 429 x 24 % = 342.96.
    assert first.totals == (1429, 500, 929, 223, 1152, 1152)
    assert second.totals == (1429, 0, 1429, 343, 1772, 1772)
    assert first.credits == [("c", 500)]
    body = http.get(f"/invoices/{first.id}").json()["invoice"]
    assert (body["invoice_type"], body["issuing_date"], body["status"]) == (
        "subscription", "2024-03-04", "finalized")  # fmt: skip
    [fee] = body["fees"]
    assert (fee["pay_in_advance"], fee["units"], fee["events_count"], fee["amount_cents"]) == (
        True, "1.0", 1, 1429)  # fmt: skip
    # The period end does not bill the calls again.
    billing.tick(utc(2024, 4, 1, 1))
    april = [i for i in billing.invoices("cus") if i.billing_date == utc(2024, 4, 1).date()]
    assert [fee.item_code for invoice in april for fee in invoice.fees] == ["p"]


def test_graduated_in_advance_fees_take_events_of_one_instant_in_arrival_order(
    billing: Billing, http: httpx.Client
) -> None:
    gb = billing.metric("gb", "sum_agg", field_name="gb")
    tiers = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
    ]
    billing.plan("p", [{"billable_metric_id": gb, "charge_model": "graduated",
                        "properties": {"graduated_ranges": tiers}, "pay_in_advance": True,
                        "invoiceable": False}])  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 1))
    at = utc(2024, 3, 8, 10)
    billing.events("sub", "gb", (at, {"gb": 8}), (at, {"gb": 4}), (at, {"gb": 2}))
    billing.tick(utc(2024, 3, 8, 11))
    # 8 at 1 EUR; then 2 at 1 EUR and 2 at 0.5; then 2 at 0.5.
    assert sorted((fee["units"], fee["amount_cents"]) for fee in _fees(http, "sub")) == [
        ("2.0", 100), ("4.0", 300), ("8.0", 800)]  # fmt: skip


def _pending(billing: Billing, limit: int, failed: set[int] | None = None) -> list[Any]:
    with billing.database.transaction(write=False) as session:
        found = store_for(session).pending_in_advance(session, limit, None, failed or set())
        return [(event.timestamp, event.code, charge.position) for event, _sub, charge in found]


def test_every_event_of_a_charge_is_found_once_whatever_came_first(
    billing: Billing, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ClickHouse store reads unpriced events a page at a time: two here.
    monkeypatch.setattr(clickhouse_store, "SCAN_PAGE", 2)
    calls = billing.metric("calls", "count_agg")
    billing.metric("other", "count_agg")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "1"}, "pay_in_advance": True,
                        "invoiceable": False}])  # fmt: skip
    billing.customer("cus", timezone="UTC")
    # Sent before the subscription exists; the one before its start is never billed.
    billing.events("sub", "calls", (utc(2024, 3, 5, 10), {}), (utc(2024, 2, 28), {}))
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 1))
    billing.events("sub", "calls", (utc(2024, 3, 5, 9), {}))
    billing.events("sub", "other", (utc(2024, 3, 5, 8), {}))
    billing.events("elsewhere", "calls", (utc(2024, 3, 5, 8), {}))
    assert _pending(billing, 10) == [(utc(2024, 3, 5, 9), "calls", 0),
                                     (utc(2024, 3, 5, 10), "calls", 0)]  # fmt: skip
    assert _pending(billing, 1) == [(utc(2024, 3, 5, 9), "calls", 0)]
    with billing.database.transaction(write=False) as session:
        [(first, _sub, _charge)] = store_for(session).pending_in_advance(session, 1, None, set())
    assert _pending(billing, 10, {first.id}) == [(utc(2024, 3, 5, 10), "calls", 0)]

    billing.tick(utc(2024, 3, 6))
    assert _pending(billing, 10) == []
    # A late event (stamped before those already billed) is found, then billed once.
    billing.events("sub", "calls", (utc(2024, 3, 2), {}))
    assert _pending(billing, 10) == [(utc(2024, 3, 2), "calls", 0)]
    billing.tick(utc(2024, 3, 6, 1))
    billing.tick(utc(2024, 3, 6, 2))
    assert _pending(billing, 10) == []
    assert [(fee["amount_cents"], fee["events_count"]) for fee in _fees(http, "sub")] == [
        (100, 1)] * 3  # fmt: skip
