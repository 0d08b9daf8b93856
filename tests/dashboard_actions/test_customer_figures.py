"""The customer view's figures over HTTP, on both databases: the Billing overview shows
what the analytics endpoints answer for the customer, the Current usage report what
GET .../current_usage answers, charge by charge."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from meterbill.dashboard.formats import money, number
from tests.dashboard_actions.conftest import Web, text_of
from tests.dashboard_actions.test_action_forms import add_on, api, customer


def seed_usage(http: httpx.Client) -> str:
    """A customer with a plan of two charges (one with filters) and events this period."""
    lago_id = customer(http, "acme", currency="EUR")
    calls = api(http, "POST", "/billable_metrics", {"billable_metric": {
        "name": "API calls", "code": "calls", "aggregation_type": "count_agg"}})  # fmt: skip
    storage = api(http, "POST", "/billable_metrics", {"billable_metric": {
        "name": "Storage", "code": "storage", "aggregation_type": "sum_agg", "field_name": "gb",
        "filters": [{"key": "region", "values": ["eu", "us"]}]}})  # fmt: skip
    api(http, "POST", "/plans", {"plan": {
        "name": "Usage", "code": "usage", "interval": "monthly", "amount_cents": 0,
        "amount_currency": "EUR", "charges": [
            {"billable_metric_id": calls["billable_metric"]["lago_id"],
             "charge_model": "standard", "properties": {"amount": "0.25"}},
            {"billable_metric_id": storage["billable_metric"]["lago_id"],
             "charge_model": "standard", "properties": {"amount": "1"},
             "filters": [{"values": {"region": ["us"]}, "properties": {"amount": "3"},
                          "invoice_display_name": "US storage"}]},
        ]}})  # fmt: skip
    subscription = {
        "external_customer_id": "acme",
        "plan_code": "usage",
        "external_id": "sub-usage",
    }
    api(http, "POST", "/subscriptions", {"subscription": subscription})
    # Just after the subscription started (its period starts at that instant).
    now = int(datetime.now(UTC).timestamp()) + 2
    events = [{"transaction_id": f"c{i}", "external_subscription_id": "sub-usage",
               "code": "calls", "timestamp": now} for i in range(7)]  # fmt: skip
    events += [
        {"transaction_id": "s1", "external_subscription_id": "sub-usage", "code": "storage",
         "timestamp": now, "properties": {"gb": "2.5", "region": "us"}},
        {"transaction_id": "s2", "external_subscription_id": "sub-usage", "code": "storage",
         "timestamp": now, "properties": {"gb": 4}},
    ]  # fmt: skip
    api(http, "POST", "/events/batch", {"events": events})
    return lago_id


def test_usage_report_equals_current_usage(web: Web, http: httpx.Client) -> None:
    lago_id = seed_usage(http)
    page = web.get(f"/customers/{lago_id}/analytics")
    assert page.status_code == 200
    usage = api(http, "GET", "/customers/acme/current_usage?external_subscription_id=sub-usage")[
        "customer_usage"
    ]
    # 7 calls × €0.25 + 2.5 GB × €3 (US) + 4 GB × €1 = €1.75 + €7.50 + €4.00.
    assert usage["amount_cents"] == 1_325
    block = page.text.split('data-subscription="sub-usage"', 1)[1]
    total = re.search(r"data-usage-total>([^<]+)<", block)
    assert total and total.group(1) == money(usage["amount_cents"], "EUR") == "€13.25"
    for charge in usage["charges_usage"]:
        row = block.split(f'data-charge="{charge["billable_metric"]["code"]}"', 1)[1]
        units = re.search(r"data-units>([^<]+)<", row)
        amount = re.search(r"data-amount>([^<]+)<", row)
        assert units and units.group(1) == number(charge["units"])
        assert amount and amount.group(1) == money(charge["amount_cents"], "EUR")
    text = text_of(block)
    # The breakdown of the charge with filters, and the daily charts.
    assert "See breakdown" in text and "US storage · region: us 2.5 €7.50" in text
    assert "Default price 4 €4.00" in text
    assert text.count("per day") >= 2 and block.count("<svg") >= 2


def test_billing_overview_equals_the_analytics_endpoints(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http, "acme", currency="EUR")
    add_on(http, "setup", 12_345)
    api(
        http,
        "POST",
        "/invoices",
        {
            "invoice": {
                "external_customer_id": "acme",
                "fees": [{"add_on_code": "setup", "units": 2}],
            }
        },
    )
    api(
        http,
        "POST",
        "/invoices",
        {"invoice": {"external_customer_id": "acme", "fees": [{"add_on_code": "setup"}]}},
    )
    gross = api(http, "GET", "/analytics/gross_revenue?external_customer_id=acme")
    overdue = api(http, "GET", "/analytics/overdue_balance?external_customer_id=acme")
    amount = sum(row["amount_cents"] for row in gross["gross_revenues"])
    count = sum(row["invoices_count"] for row in gross["gross_revenues"])
    assert (amount, count) == (37_035, 2)
    assert overdue["overdue_balances"] == []
    page = web.get(f"/customers/{lago_id}")
    assert page.status_code == 200
    card = text_of(page.text.split('id="gross-revenue"', 1)[1].split("</div>", 1)[0])
    assert card.startswith(f"> Gross revenue {money(amount, 'EUR')} for 2 invoices")
    late = text_of(page.text.split('id="total-overdue"', 1)[1].split("</div>", 1)[0])
    assert late.startswith("> Total overdue €0.00 for 0 invoices")
    # The Analytics tab's chart of the same revenue, month by month.
    analytics = web.get(f"/customers/{lago_id}/analytics").text
    assert "Gross revenue per month in EUR" in analytics
    assert f"{money(amount, 'EUR')} for 2 invoices" in analytics


def test_analytics_without_subscription(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http, "quiet")
    page = web.get(f"/customers/{lago_id}/analytics")
    assert page.status_code == 200
    assert "No active subscription" in text_of(page.text)
