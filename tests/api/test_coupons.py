"""Coupons, applied coupons and the currency lock they take part in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.applied_coupon import AppliedCoupon
from lago_python_client.models.coupon import Coupon, LimitationConfiguration

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def fixed(code: str = "ten", **fields: Any) -> dict[str, Any]:
    return {"coupon": {"name": code.title(), "code": code, "coupon_type": "fixed_amount",
                       "amount_cents": 1000, "amount_currency": "EUR", "frequency": "once",
                       "expiration": "no_expiration", **fields}}  # fmt: skip


def percent(code: str = "pct", **fields: Any) -> dict[str, Any]:
    body = {"name": code.title(), "code": code, "coupon_type": "percentage",
            "percentage_rate": "12.5", "frequency": "recurring", "frequency_duration": 3,
            "expiration": "no_expiration"}  # fmt: skip
    return {"coupon": {**body, **fields}}


def apply(http: httpx.Client, code: str, customer: str = "cus", **fields: Any) -> httpx.Response:
    body = {"external_customer_id": customer, "coupon_code": code, **fields}
    return http.post("/applied_coupons", json={"applied_coupon": body})


@pytest.fixture
def customer(http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "cus"}})


def test_coupon_lifecycle(lago: Client, http: httpx.Client) -> None:
    http.post("/plans", json={"plan": {"name": "P", "code": "p", "interval": "monthly",
                                       "amount_cents": 100, "amount_currency": "EUR"}})  # fmt: skip
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = lago.coupons.create(
        Coupon(name="Launch", code="launch", coupon_type="percentage", percentage_rate=10.0,
               frequency="forever", expiration="time_limit", expiration_at=expires,
               reusable=False, applies_to=LimitationConfiguration(plan_codes=["p"]))
    )  # fmt: skip
    assert (created.code, created.coupon_type, created.percentage_rate) == (
        "launch",
        "percentage",
        10.0,
    )
    assert (created.frequency, created.reusable, created.expiration_at) == (
        "forever",
        False,
        expires,
    )
    assert (created.limited_plans, created.plan_codes) == (True, ["p"])
    assert created.limited_billable_metrics is False and created.amount_cents is None
    body = http.get("/coupons/launch").json()["coupon"]
    assert body["percentage_rate"] == "10.0" and body["status"] == "active"

    updated = lago.coupons.update(Coupon(name="Launch 2", percentage_rate=20.0), "launch")
    assert (updated.name, updated.percentage_rate) == ("Launch 2", 20.0)
    lago.coupons.create(Coupon(name="F", code="f", coupon_type="fixed_amount", amount_cents=500,
                               amount_currency="EUR", frequency="once",
                               expiration="no_expiration"))  # fmt: skip
    assert lago.coupons.find_all()["meta"]["total_count"] == 2
    assert lago.coupons.destroy("launch").code == "launch"
    with pytest.raises(LagoApiError):
        lago.coupons.find("launch")


def test_applied_coupon_lifecycle(lago: Client, http: httpx.Client, customer: None) -> None:
    http.post("/coupons", json=percent())
    applied = lago.applied_coupons.create(
        AppliedCoupon(external_customer_id="cus", coupon_code="pct", frequency_duration=5)
    )
    assert (applied.coupon_code, applied.status, applied.percentage_rate) == ("pct", "active", 12.5)
    assert applied.frequency == "recurring"
    assert (applied.frequency_duration, applied.frequency_duration_remaining) == (5, 5)
    assert applied.external_customer_id == "cus" and applied.amount_cents is None
    listed = lago.applied_coupons.find_all({"external_customer_id": "cus"})
    assert [item.lago_id for item in listed["applied_coupons"]] == [applied.lago_id]
    scoped = http.get("/customers/cus/applied_coupons").json()
    assert scoped["meta"]["total_count"] == 1
    terminated = lago.applied_coupons.destroy("cus", applied.lago_id)
    assert terminated.status == "terminated" and terminated.terminated_at is not None
    assert http.get("/applied_coupons", params={"status": "active"}).json()["applied_coupons"] == []


def test_fixed_override_and_remaining(http: httpx.Client, customer: None) -> None:
    http.post("/coupons", json=fixed())
    body = apply(http, "ten", amount_cents=700).json()["applied_coupon"]
    assert (body["amount_cents"], body["amount_cents_remaining"], body["amount_currency"]) == (
        700, 700, "EUR",
    )  # fmt: skip


def test_reuse_and_overlap(http: httpx.Client, customer: None) -> None:
    http.post("/plans", json={"plan": {"name": "P", "code": "p", "interval": "monthly",
                                       "amount_cents": 100, "amount_currency": "EUR"}})  # fmt: skip
    http.post("/coupons", json=fixed("once_only", reusable=False))
    assert apply(http, "once_only").status_code == 200
    again = apply(http, "once_only")
    assert again.json() == {
        **UNPROCESSABLE,
        "error_details": {"coupon": ["coupon_is_not_reusable"]},
    }
    http.post("/coupons", json=percent("a", applies_to={"plan_codes": ["p"]}))
    http.post("/coupons", json=percent("b", applies_to={"plan_codes": ["p"]}))
    assert apply(http, "a").status_code == 200
    assert apply(http, "b").json() == {
        "status": 405, "error": "Method Not Allowed", "code": "plan_overlapping",
    }  # fmt: skip
    # A reusable coupon can be applied again.
    assert apply(http, "a").status_code in (200, 405)


def test_deleting_a_coupon_terminates_its_applications(http: httpx.Client, customer: None) -> None:
    http.post("/coupons", json=percent())
    apply(http, "pct")
    http.delete("/coupons/pct")
    [applied] = http.get("/applied_coupons").json()["applied_coupons"]
    assert applied["status"] == "terminated"
    assert apply(http, "pct").json()["code"] == "coupon_not_found"


def test_deleting_the_customer_terminates_its_coupons(http: httpx.Client, customer: None) -> None:
    http.post("/coupons", json=percent())
    apply(http, "pct")
    http.delete("/customers/cus")
    [applied] = http.get("/applied_coupons").json()["applied_coupons"]
    assert applied["status"] == "terminated"


def test_currency_lock(http: httpx.Client, customer: None) -> None:
    # customers.md §13 item 24: a percentage coupon does not lock the currency.
    http.post("/coupons", json=percent())
    apply(http, "pct")
    changed = http.post("/customers", json={"customer": {"external_id": "cus", "currency": "USD"}})
    assert changed.json()["customer"]["currency"] == "USD"
    # A fixed coupon in another currency is refused, and nothing is applied.
    http.post("/coupons", json=fixed())
    refused = apply(http, "ten")
    assert refused.json() == {
        **UNPROCESSABLE,
        "error_details": {"currency": ["currencies_does_not_match"]},
    }
    assert len(http.get("/applied_coupons").json()["applied_coupons"]) == 1
    # A customer without currency takes the fixed coupon's; then it is locked (item 23).
    http.post("/customers", json={"customer": {"external_id": "fresh"}})
    assert apply(http, "ten", customer="fresh").status_code == 200
    assert http.get("/customers/fresh").json()["customer"]["currency"] == "EUR"
    locked = http.post("/customers", json={"customer": {"external_id": "fresh", "currency": "USD",
                                                        "name": "Not saved"}})  # fmt: skip
    assert locked.json()["error_details"] == {"currency": ["currencies_does_not_match"]}
    assert http.get("/customers/fresh").json()["customer"]["name"] is None


@pytest.mark.parametrize(
    ("body", "details"),
    [
        (fixed(amount_cents=0), {"amount_cents": ["value_is_out_of_range"]}),
        (fixed(amount_currency=None), {"amount_currency": ["value_is_invalid"]}),
        (percent(percentage_rate=None), {"percentage_rate": ["value_is_out_of_range"]}),
        (percent(frequency_duration=0), {"frequency_duration": ["value_is_out_of_range"]}),
        (fixed(coupon_type="gift"), {"coupon_type": ["value_is_invalid"]}),
        (fixed(frequency="daily"), {"frequency": ["value_is_invalid"]}),
        (fixed(expiration="time_limit"), {"expiration_at": ["invalid_date"]}),
        (fixed(expiration="time_limit", expiration_at="2001-01-01T00:00:00Z"),
         {"expiration_at": ["invalid_date"]}),
        (fixed(name=None), {"name": ["value_is_mandatory"]}),
    ],
)  # fmt: skip
def test_coupon_refusals(http: httpx.Client, body: dict[str, Any], details: Any) -> None:
    response = http.post("/coupons", json=body)
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    assert http.get("/coupons").json()["meta"]["total_count"] == 0


def test_not_found_refusals(http: httpx.Client, customer: None) -> None:
    assert (
        http.post("/coupons", json=fixed(applies_to={"plan_codes": ["nope"]})).json()["code"]
        == "plan_not_found"
    )
    assert (
        http.post("/coupons", json=fixed(applies_to={"billable_metric_codes": ["nope"]})).json()[
            "code"
        ]
        == "billable_metric_not_found"
    )
    assert apply(http, "nope").json()["code"] == "coupon_not_found"
    http.post("/coupons", json=fixed())
    assert apply(http, "ten", customer="nobody").json()["code"] == "customer_not_found"
    assert http.delete("/customers/cus/applied_coupons/nope").json()["code"] == (
        "applied_coupon_not_found"
    )
    assert http.post("/coupons", json=fixed()).json()["error_details"] == {
        "code": ["value_already_exist"]
    }
