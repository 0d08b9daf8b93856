"""POST /invoices/preview through the official client, the forecast, and their refusals.

The server takes `now` from the wall clock here, so these use anniversary plans, whose
periods are whole whatever the day: the figures do not depend on today's date.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.customer import Customer
from lago_python_client.models.invoice import InvoicePreview

NOT_FOUND = {"status": 404, "error": "Not Found"}


@pytest.fixture
def catalog(http: httpx.Client) -> None:
    tax = {"name": "VAT", "code": "vat", "rate": 20, "applied_to_organization": True}
    assert http.post("/taxes", json={"tax": tax}).status_code == 200
    for code, advance in (("adv", True), ("arr", False)):
        plan = {"name": code, "code": code, "interval": "monthly", "amount_cents": 5_000,
                "amount_currency": "EUR", "pay_in_advance": advance}  # fmt: skip
        assert http.post("/plans", json={"plan": plan}).status_code == 200
    assert http.post("/customers", json={"customer": {"external_id": "cus"}}).status_code == 200


def _nothing_kept(http: httpx.Client) -> None:
    assert http.get("/invoices", params={"external_customer_id": "cus"}).json()["invoices"] == []
    assert http.get("/fees").json()["fees"] == []


def test_preview_through_the_official_client(lago: Client, http: httpx.Client,
                                             catalog: None) -> None:  # fmt: skip
    preview = InvoicePreview(
        customer=Customer(external_id="cus"), plan_code="adv", billing_time="anniversary"
    )
    invoice = lago.invoices.preview(preview)
    # billing.md E13, anniversary: the whole month at once, 5 000 + 20 %.
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents, invoice.total_amount_cents) == (
        5_000, 1_000, 6_000)  # fmt: skip
    assert invoice.invoice_type == "subscription"
    assert http.get(f"/invoices/{invoice.lago_id}").status_code == 404
    assert [fee.amount_cents for fee in invoice.fees.__root__] == [5_000]
    _nothing_kept(http)
    assert http.get("/subscriptions", params={"external_customer_id": "cus"}).json()[
        "subscriptions"] == []  # fmt: skip


def test_forecast_of_the_next_periods(http: httpx.Client, catalog: None) -> None:
    body = {"external_customer_id": "cus", "plan_code": "arr", "external_id": "sub",
            "billing_time": "anniversary"}  # fmt: skip
    assert http.post("/subscriptions", json={"subscription": body}).status_code == 200
    response = http.get("/subscriptions/sub/invoice_forecast", params={"periods": 3})
    assert response.status_code == 200
    invoices = response.json()["invoices"]
    assert [(i["fees_amount_cents"], i["taxes_amount_cents"], i["total_amount_cents"], i["status"])
            for i in invoices] == [(5_000, 1_000, 6_000, "finalized")] * 3  # fmt: skip
    dates = [invoice["issuing_date"] for invoice in invoices]
    assert dates == sorted(set(dates))
    _nothing_kept(http)


def test_forecast_pages_and_odd_page_numbers(http: httpx.Client, catalog: None) -> None:
    body = {"external_customer_id": "cus", "plan_code": "arr", "external_id": "sub",
            "billing_time": "anniversary"}  # fmt: skip
    assert http.post("/subscriptions", json={"subscription": body}).status_code == 200

    def forecast(**params: str) -> tuple[int, list[int], dict[str, Any]]:
        path = "/subscriptions/sub/invoice_forecast"
        response = http.get(path, params={"periods": "3", **params})
        assert response.status_code == 200, response.text
        invoices, meta = response.json()["invoices"], response.json()["meta"]
        return len(invoices), [invoice["total_amount_cents"] for invoice in invoices], meta

    def meta(page: int, next_page: int | None, prev_page: int | None,
             total_pages: int) -> dict[str, Any]:  # fmt: skip
        return {"current_page": page, "next_page": next_page, "prev_page": prev_page,
                "total_pages": total_pages, "total_count": 3}  # fmt: skip

    assert forecast() == (3, [6_000] * 3, meta(1, None, None, 1))
    assert forecast(page="2", per_page="1") == (1, [6_000], meta(2, 3, 1, 3))
    # Unusable numbers read as Lago reads them: page 1, Kaminari's 25 a page.
    assert forecast(page="abc", per_page="x") == (3, [6_000] * 3, meta(1, None, None, 1))
    assert forecast(page="-1", per_page="-5") == (3, [6_000] * 3, meta(1, None, None, 1))
    # A page past 2**31 - 1 is refused (not a 500); a huge per_page serves 1,000 rows.
    huge = "99999999999999999999"
    response = http.get("/subscriptions/sub/invoice_forecast", params={"page": huge})
    assert (response.status_code, response.json()["error_details"]) == (
        422, {"page": ["value_is_out_of_range"]})  # fmt: skip
    assert forecast(per_page=huge) == (3, [6_000] * 3, meta(1, None, None, 1))
    last = str(2**31 - 1)
    assert forecast(page=last, per_page=huge) == (0, [], meta(2**31 - 1, None, 2**31 - 2, 1))
    for periods in ("²", "٣", huge, "-1", "1.5", ""):
        response = http.get("/subscriptions/sub/invoice_forecast", params={"periods": periods})
        assert response.status_code == 422, periods
        code = "value_is_out_of_range" if periods == huge else "value_is_invalid"
        assert response.json()["error_details"] == {"periods": [code]}
    _nothing_kept(http)


def test_refusals(http: httpx.Client, catalog: None) -> None:
    response = http.post("/invoices/preview", json={"plan_code": "adv"})
    assert (response.status_code, response.json()["error_details"]) == (
        422, {"customer": ["value_is_mandatory"]})  # fmt: skip
    response = http.post("/invoices/preview", json={"customer": {"external_id": "cus"}})
    assert response.json()["error_details"] == {"plan_code": ["value_is_mandatory"]}
    body = {"customer": {"external_id": "cus"}, "plan_code": "nope"}
    response = http.post("/invoices/preview", json=body)
    assert response.json() == {**NOT_FOUND, "code": "plan_not_found"}
    body = {"customer": {"external_id": "cus"}, "subscriptions": {"external_ids": ["nope"]}}
    response = http.post("/invoices/preview", json=body)
    assert response.json() == {**NOT_FOUND, "code": "subscription_not_found"}
    response = http.post("/invoices/preview", content=b"[1]")
    assert response.status_code == 400
    response = http.get("/subscriptions/nope/invoice_forecast")
    assert response.json() == {**NOT_FOUND, "code": "subscription_not_found"}
    response = http.get("/subscriptions/nope/invoice_forecast", params={"periods": "x"})
    assert (response.status_code, response.json()["error_details"]) == (
        422, {"periods": ["value_is_invalid"]})  # fmt: skip
    _nothing_kept(http)
    assert http.get("/customers").json()["meta"]["total_count"] == 1
