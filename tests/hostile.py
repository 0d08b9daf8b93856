"""Hostile input for every route of the app: seeds, generated requests, and a fingerprint.

The app is walked through its own OpenAPI document (built from the router), so a new
route is fuzzed as soon as it exists; a write route without a seed body fails the walk
test, which keeps the seeds complete. Each generated request starts from a valid body
(or a valid id) and swaps some value deep inside it for something hostile, so the
hostile value gets past the first checks and reaches the code behind them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st
from sqlalchemy import select
from starlette.testclient import TestClient

from meterbill.core.db import Base, Database
from meterbill.models import on_database

MEGABYTE = "x" * 1_000_000
# Values a client can send that have broken some column, parser or date before.
HOSTILE_SCALARS: list[Any] = [
    "\x00",
    "a\x00b",
    MEGABYTE,
    "y" * 300,
    2**31,
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    10**30,
    99999999,
    -1,
    0,
    1e308,
    -1e308,
    1e-300,
    0.5,
    "1e400",
    "-1e400",
    "081E9364013",
    "1E+25",
    "NaN",
    "Infinity",
    "9" * 40,
    "99999999999999999999",
    "-0",
    "",
    " ",
    "2026-02-30",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "275760-09-13T00:00:00Z",
    "not a date",
    True,
    None,
    [],
    ["x"],
    [None],
    {},
    {"a": "b"},
    {"\x00": 1},
    {"units": 1e25},
]
hostile_values: st.SearchStrategy[Any] = st.sampled_from(HOSTILE_SCALARS) | st.recursive(
    st.sampled_from(HOSTILE_SCALARS[:20]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
hostile_texts: st.SearchStrategy[str] = st.sampled_from(
    # Paths and query strings: a megabyte does not fit a URL, so 5 000 characters stand in.
    [value for value in HOSTILE_SCALARS if isinstance(value, str) and value != MEGABYTE]
    + ["z" * 5_000, str(2**64), str(10**30), "-5", "1.5", "abc", "%00", "../..", "\u202e"]
)

FILTER_KEYS = [
    "page",
    "per_page",
    "external_customer_id",
    "external_subscription_id",
    "status",
    "statuses[]",
    "payment_status",
    "plan_code",
    "code",
    "currency",
    "issuing_date_from",
    "issuing_date_to",
    "timestamp_from",
    "timestamp_to",
    "from_date",
    "to_date",
    "search_term",
    "invoice_id",
    "wallet_id",
    "months",
    "periods",
    "billable_metric_code",
    "account_type[]",
    "customer_type",
    "countries[]",
    "has_tax_identification_number",
    "metadata[key]",
    "invoice_type",
    "transaction_type",
    "fee_type",
    "created_at_from",
    "amount_from",
    "amount_to",
    "self_billed",
    "payment_overdue",
    "partially_paid",
    "webhook_endpoint_id",
    "webhook_types[]",
    "object_id",
]


@dataclass(frozen=True, order=True)
class Route:
    method: str
    path: str

    @property
    def params(self) -> list[str]:
        return re.findall(r"{([^}:]+)(?::path)?}", self.path)


def app_routes(openapi: dict[str, Any]) -> list[Route]:
    return sorted(
        Route(method.upper(), path)
        for path, operations in openapi["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    )


def seed(client: TestClient) -> dict[str, str]:
    """One of everything, through the API; returns the ids the paths need."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=body)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    endpoint = post(
        "/api/v1/webhook_endpoints",
        {"webhook_endpoint": {"webhook_url": "http://127.0.0.1:9/hooks"}},
    )["webhook_endpoint"]
    post("/api/v1/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    post(
        "/api/v1/payment_providers",
        {
            "payment_provider": {
                "code": "stripe_main",
                "name": "Stripe",
                "secret_key": "sk_test_hostile1234",
            }
        },
    )
    metric = post(
        "/api/v1/billable_metrics",
        {
            "billable_metric": {
                "name": "Calls",
                "code": "calls",
                "aggregation_type": "sum_agg",
                "field_name": "units",
                "filters": [{"key": "region", "values": ["eu", "us"]}],
            }
        },
    )["billable_metric"]
    post(
        "/api/v1/plans",
        {
            "plan": {
                "name": "Basic",
                "code": "basic",
                "interval": "monthly",
                "amount_cents": 10_000,
                "amount_currency": "EUR",
                "pay_in_advance": True,
                "charges": [
                    {
                        "billable_metric_id": metric["lago_id"],
                        "code": "calls_charge",
                        "charge_model": "standard",
                        "properties": {"amount": "0.01"},
                        "filters": [
                            {"values": {"region": ["eu"]}, "properties": {"amount": "0.02"}}
                        ],
                    }
                ],
            }
        },
    )
    post(
        "/api/v1/add_ons",
        {
            "add_on": {
                "name": "Setup",
                "code": "setup",
                "amount_cents": 5_000,
                "amount_currency": "EUR",
            }
        },
    )
    post(
        "/api/v1/coupons",
        {
            "coupon": {
                "name": "Promo",
                "code": "promo",
                "coupon_type": "fixed_amount",
                "amount_cents": 1_000,
                "amount_currency": "EUR",
                "frequency": "recurring",
                "frequency_duration": 3,
                "expiration": "no_expiration",
            }
        },
    )
    post(
        "/api/v1/customers",
        # West of UTC: the earliest instants would fall before year 1 locally.
        {
            "customer": {
                "external_id": "cus",
                "name": "Cus",
                "currency": "EUR",
                "timezone": "America/Los_Angeles",
            }
        },
    )
    post(
        "/api/v1/subscriptions",
        {
            "subscription": {
                "external_customer_id": "cus",
                "plan_code": "basic",
                "external_id": "sub",
            }
        },
    )
    applied = post(
        "/api/v1/applied_coupons",
        {"applied_coupon": {"external_customer_id": "cus", "coupon_code": "promo"}},
    )["applied_coupon"]
    post(
        "/api/v1/events",
        {
            "event": {
                "transaction_id": "tx1",
                "external_subscription_id": "sub",
                "code": "calls",
                "properties": {"units": 3, "region": "eu"},
            }
        },
    )
    invoice = post(
        "/api/v1/invoices",
        {
            "invoice": {
                "external_customer_id": "cus",
                "currency": "EUR",
                "fees": [{"add_on_code": "setup", "units": 2}],
            }
        },
    )["invoice"]
    credit_note = post(
        "/api/v1/credit_notes",
        {
            "credit_note": {
                "invoice_id": invoice["lago_id"],
                "reason": "other",
                "credit_amount_cents": 100,
                "refund_amount_cents": 0,
                "items": [{"fee_id": invoice["fees"][0]["lago_id"], "amount_cents": 100}],
            }
        },
    )["credit_note"]
    payment = post(
        "/api/v1/payments",
        {"payment": {"invoice_id": invoice["lago_id"], "amount_cents": 50, "reference": "r"}},
    )["payment"]
    wallet = post(
        "/api/v1/wallets",
        {
            "wallet": {
                "external_customer_id": "cus",
                "rate_amount": "1",
                "currency": "EUR",
                "code": "main",
                "granted_credits": "10",
                "metadata": {"k": "v"},
            }
        },
    )["wallet"]
    transactions = client.get(f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions")
    client.post("/api/v1/plans/basic/metadata", json={"metadata": {"k": "v"}})
    client.post(
        f"/api/v1/credit_notes/{credit_note['lago_id']}/metadata", json={"metadata": {"k": "v"}}
    )
    filters = client.get("/api/v1/plans/basic/charges/calls_charge/filters").json()
    webhooks = client.get("/api/v1/webhooks").json()["webhooks"]
    return {
        "webhook_endpoint": endpoint["lago_id"],
        "webhook": webhooks[0]["lago_id"],
        "payment_provider": "stripe_main",
        "customer": "cus",
        "subscription": "sub",
        "tax": "vat",
        "metric": "calls",
        "plan": "basic",
        "add_on": "setup",
        "coupon": "promo",
        "charge": "calls_charge",
        "filter": filters["filters"][0]["lago_id"],
        "applied_coupon": applied["lago_id"],
        "event": "tx1",
        "invoice": invoice["lago_id"],
        "fee": invoice["fees"][0]["lago_id"],
        "credit_note": credit_note["lago_id"],
        "payment": payment["lago_id"],
        "wallet": wallet["lago_id"],
        "wallet_code": "main",
        "wallet_transaction": transactions.json()["wallet_transactions"][0]["lago_id"],
        "metric_id": metric["lago_id"],
        "metadata_key": "k",
    }


def path_value(route: Route, param: str, ids: dict[str, str]) -> str:
    """The seeded record a path parameter names, read from where it stands in the path."""
    before = route.path.split("{" + param)[0].rstrip("/").rsplit("/", 1)[-1]
    by_collection = {
        ("external_id", "customers"): "customer",
        ("external_id", "subscriptions"): "subscription",
        ("code", "taxes"): "tax",
        ("code", "billable_metrics"): "metric",
        ("code", "plans"): "plan",
        ("code", "add_ons"): "add_on",
        ("code", "coupons"): "coupon",
        ("code", "wallets"): "wallet_code",
        ("lago_id", "wallets"): "wallet",
        ("lago_id", "wallet_transactions"): "wallet_transaction",
        ("lago_id", "webhook_endpoints"): "webhook_endpoint",
        ("lago_id", "webhooks"): "webhook",
        ("code", "payment_providers"): "payment_provider",
    }
    by_name = {
        "charge_code": "charge",
        "filter_id": "filter",
        "applied_coupon_id": "applied_coupon",
        "transaction_id": "event",
        "invoice_id": "invoice",
        "fee_id": "fee",
        "credit_note_id": "credit_note",
        "payment_id": "payment",
        "key": "metadata_key",
    }
    name = by_collection.get((param, before)) or by_name[param]
    return ids[name]


def seed_bodies(ids: dict[str, str]) -> dict[tuple[str, str], Any]:
    """A valid body for every route that reads one (the start of each mutation)."""
    customer = {
        "external_id": "cus2",
        "name": "Other",
        "currency": "EUR",
        "timezone": "Europe/Paris",
        "net_payment_term": 30,
        "billing_configuration": {"invoice_grace_period": 3, "document_locale": "fr"},
        "metadata": [{"key": "k", "value": "v", "display_in_invoice": True}],
        "shipping_address": {"city": "Paris", "country": "FR"},
    }
    metric = {
        "name": "Seats",
        "code": "seats",
        "aggregation_type": "weighted_sum_agg",
        "field_name": "seats",
        "weighted_interval": "seconds",
        "rounding_function": "round",
        "rounding_precision": 2,
        "filters": [{"key": "tier", "values": ["a"]}],
    }
    charge = {
        "billable_metric_id": ids["metric_id"],
        "code": "calls_graduated",
        "charge_model": "graduated",
        "invoice_display_name": "Calls",
        "min_amount_cents": 100,
        "properties": {
            "graduated_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
                {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "2"},
            ]
        },
        "filters": [{"values": {"region": ["us"]}, "properties": {"amount": "3"}}],
        "tax_codes": ["vat"],
    }
    plan = {
        "name": "Pro",
        "code": "pro",
        "interval": "yearly",
        "amount_cents": 100_000,
        "amount_currency": "EUR",
        "trial_period": 14,
        "pay_in_advance": False,
        "description": "d",
        "tax_codes": ["vat"],
        "minimum_commitment": {"amount_cents": 5_000, "invoice_display_name": "Min"},
        "charges": [charge],
    }
    coupon = {
        "name": "Half",
        "code": "half",
        "coupon_type": "percentage",
        "percentage_rate": "50",
        "frequency": "once",
        "expiration": "time_limit",
        "expiration_at": "2030-01-01T00:00:00Z",
        "reusable": True,
        "applies_to": {"plan_codes": ["basic"]},
    }
    subscription = {
        "external_customer_id": "cus",
        "plan_code": "basic",
        "external_id": "sub2",
        "name": "Second",
        "billing_time": "anniversary",
        "subscription_at": "2026-01-01T00:00:00Z",
        "ending_at": "2027-01-01T00:00:00Z",
        "plan_overrides": {"amount_cents": 2_000, "trial_period": 3},
    }
    event = {
        "transaction_id": "tx2",
        "external_subscription_id": "sub",
        "code": "calls",
        "timestamp": 1767225600,
        "properties": {"units": "2.5", "region": "us"},
    }
    wallet = {
        "external_customer_id": "cus",
        "name": "Second",
        "code": "second",
        "rate_amount": "1.5",
        "currency": "EUR",
        "paid_credits": "5",
        "granted_credits": "5",
        "expiration_at": "2030-01-01T00:00:00Z",
        "priority": 10,
        "recurring_transaction_rules": [
            {"trigger": "interval", "interval": "monthly", "paid_credits": "1", "method": "fixed"}
        ],
        "applies_to": {"fee_types": ["charge"]},
        "metadata": {"a": "b"},
    }
    preview = {
        "customer": {"external_id": "cus", "currency": "EUR"},
        "plan_code": "basic",
        "billing_time": "calendar",
        "subscription_at": "2026-02-01T00:00:00Z",
        "coupons": [{"code": "promo"}],
    }
    credit_note = {
        "invoice_id": ids["invoice"],
        "reason": "other",
        "description": "d",
        "credit_amount_cents": 10,
        "refund_amount_cents": 0,
        "items": [{"fee_id": ids["fee"], "amount_cents": 10}],
        "metadata": {"a": "b"},
    }
    wallet_update = {"name": "Main", "priority": 5, "expiration_at": "2031-01-01T00:00:00Z"}
    metadata = {"metadata": {"k": "v2", "other": "x"}}
    v1 = "/api/v1"
    return {
        ("POST", f"{v1}/customers"): {"customer": customer},
        ("PUT", f"{v1}/organizations"): {
            "organization": {
                "timezone": "Europe/Paris",
                "net_payment_term": 15,
                "document_number_prefix": "ACM",
                "billing_configuration": {"invoice_grace_period": 2, "document_locale": "en"},
                "email": "a@b.c",
            }
        },
        ("POST", f"{v1}/taxes"): {"tax": {"name": "Low", "code": "low", "rate": "5.5"}},
        ("POST", f"{v1}/payment_providers"): {
            "payment_provider": {
                "code": "stripe_two",
                "name": "Two",
                "secret_key": "sk_test_22222222",
            }
        },
        ("PUT", f"{v1}/payment_providers/{{code}}"): {
            "payment_provider": {"name": "Stripe EU", "success_redirect_url": "https://x.io/ok"}
        },
        ("POST", f"{v1}/invoices/{{invoice_id}}/retry_payment"): {},
        ("POST", f"{v1}/invoices/{{invoice_id}}/payment_url"): {},
        ("PUT", f"{v1}/taxes/{{code}}"): {"tax": {"name": "VAT", "rate": "19.6"}},
        ("POST", f"{v1}/billable_metrics"): {"billable_metric": metric},
        ("PUT", f"{v1}/billable_metrics/{{code}}"): {
            "billable_metric": {"name": "Calls!", "description": "d"}
        },
        ("POST", f"{v1}/billable_metrics/evaluate_expression"): {
            "expression": "round(event.properties.units * 2, 2)",
            "event": {"code": "calls", "timestamp": 1767225600, "properties": {"units": "1.5"}},
        },
        ("POST", f"{v1}/plans"): {"plan": plan},
        ("PUT", f"{v1}/plans/{{code}}"): {"plan": {"name": "Basic 2", "amount_cents": 12_000}},
        ("POST", f"{v1}/plans/{{code}}/metadata"): metadata,
        ("PATCH", f"{v1}/plans/{{code}}/metadata"): metadata,
        ("POST", f"{v1}/plans/{{code}}/charges"): {"charge": charge},
        ("PUT", f"{v1}/plans/{{code}}/charges/{{charge_code}}"): {
            "charge": {"charge_model": "standard", "properties": {"amount": "0.03"}}
        },
        ("POST", f"{v1}/plans/{{code}}/charges/{{charge_code}}/filters"): {
            "filter": {"values": {"region": ["us"]}, "properties": {"amount": "5"}}
        },
        ("PUT", f"{v1}/plans/{{code}}/charges/{{charge_code}}/filters/{{filter_id}}"): {
            "filter": {"properties": {"amount": "6"}, "invoice_display_name": "EU"}
        },
        ("POST", f"{v1}/add_ons"): {
            "add_on": {
                "name": "Pack",
                "code": "pack",
                "amount_cents": 300,
                "amount_currency": "EUR",
                "tax_codes": ["vat"],
            }
        },
        ("PUT", f"{v1}/add_ons/{{code}}"): {"add_on": {"amount_cents": 6_000}},
        ("POST", f"{v1}/coupons"): {"coupon": coupon},
        ("PUT", f"{v1}/coupons/{{code}}"): {"coupon": {"name": "Promo 2", "amount_cents": 900}},
        ("POST", f"{v1}/applied_coupons"): {
            "applied_coupon": {
                "external_customer_id": "cus",
                "coupon_code": "promo",
                "amount_cents": 500,
                "frequency": "recurring",
                "frequency_duration": 2,
            }
        },
        ("POST", f"{v1}/subscriptions"): {"subscription": subscription},
        ("PUT", f"{v1}/subscriptions/{{external_id}}"): {
            "subscription": {"name": "Renamed", "ending_at": "2028-01-01T00:00:00Z"}
        },
        ("POST", f"{v1}/events"): {"event": event},
        ("POST", f"{v1}/events/batch"): {"events": [event, {**event, "transaction_id": "tx3"}]},
        ("POST", f"{v1}/events/estimate_fees"): {"event": {**event, "code": "calls"}},
        ("POST", f"{v1}/invoices"): {
            "invoice": {
                "external_customer_id": "cus",
                "currency": "EUR",
                "fees": [
                    {
                        "add_on_code": "setup",
                        "units": "1.5",
                        "unit_amount_cents": 1_200,
                        "description": "d",
                        "tax_codes": ["vat"],
                    }
                ],
            }
        },
        ("PUT", f"{v1}/invoices/{{invoice_id}}"): {
            "invoice": {"payment_status": "pending", "metadata": [{"key": "a", "value": "b"}]}
        },
        ("PUT", f"{v1}/invoices/{{invoice_id}}/finalize"): {},
        ("POST", f"{v1}/invoices/{{invoice_id}}/refresh"): {},
        ("PUT", f"{v1}/invoices/{{invoice_id}}/refresh"): {},
        ("POST", f"{v1}/invoices/{{invoice_id}}/void"): {},
        ("POST", f"{v1}/invoices/{{invoice_id}}/retry"): {},
        ("POST", f"{v1}/invoices/{{invoice_id}}/download"): {},
        ("POST", f"{v1}/invoices/{{invoice_id}}/download_pdf"): {},
        ("POST", f"{v1}/invoices/{{invoice_id}}/download_xml"): {},
        ("POST", f"{v1}/credit_notes/{{credit_note_id}}/download"): {},
        ("POST", f"{v1}/credit_notes/{{credit_note_id}}/download_pdf"): {},
        ("POST", f"{v1}/credit_notes/{{credit_note_id}}/download_xml"): {},
        ("POST", f"{v1}/webhook_endpoints"): {
            "webhook_endpoint": {
                "webhook_url": "https://example.com/two",
                "signature_algo": "hmac",
                "name": "Two",
                "event_types": ["invoice.created"],
            }
        },
        ("PUT", f"{v1}/webhook_endpoints/{{lago_id}}"): {
            "webhook_endpoint": {"name": "One", "event_types": ["*"]}
        },
        ("POST", f"{v1}/webhooks/{{lago_id}}/retry"): {},
        ("POST", f"{v1}/invoices/preview"): preview,
        ("POST", f"{v1}/credit_notes"): {"credit_note": credit_note},
        ("POST", f"{v1}/credit_notes/estimate"): {"credit_note": credit_note},
        ("PUT", f"{v1}/credit_notes/{{credit_note_id}}"): {
            "credit_note": {"refund_status": "succeeded", "metadata": {"a": "b"}}
        },
        ("PUT", f"{v1}/credit_notes/{{credit_note_id}}/void"): {},
        ("POST", f"{v1}/credit_notes/{{credit_note_id}}/metadata"): metadata,
        ("PATCH", f"{v1}/credit_notes/{{credit_note_id}}/metadata"): metadata,
        ("PUT", f"{v1}/fees/{{fee_id}}"): {"fee": {"payment_status": "succeeded"}},
        ("POST", f"{v1}/wallets"): {"wallet": wallet},
        ("PUT", f"{v1}/wallets/{{lago_id}}"): {"wallet": wallet_update},
        ("POST", f"{v1}/customers/{{external_id}}/wallets"): {
            "wallet": {key: value for key, value in wallet.items() if key != "external_customer_id"}
        },
        ("PUT", f"{v1}/customers/{{external_id}}/wallets/{{code}}"): {"wallet": wallet_update},
        ("POST", f"{v1}/wallets/{{lago_id}}/metadata"): metadata,
        ("PATCH", f"{v1}/wallets/{{lago_id}}/metadata"): metadata,
        ("POST", f"{v1}/customers/{{external_id}}/wallets/{{code}}/metadata"): metadata,
        ("PATCH", f"{v1}/customers/{{external_id}}/wallets/{{code}}/metadata"): metadata,
        ("POST", f"{v1}/wallet_transactions"): {
            "wallet_transaction": {
                "wallet_id": ids["wallet"],
                "paid_credits": "2.5",
                "granted_credits": "1",
                "metadata": [{"key": "a", "value": "b"}],
                "name": "Top-up",
            }
        },
        ("POST", f"{v1}/payments"): {
            "payment": {
                "invoice_id": ids["invoice"],
                "amount_cents": 10,
                "reference": "ref",
                "paid_at": "2026-01-20",
            }
        },
    }


def _places(value: Any, trail: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (dict keys and list positions), the root included."""
    found = [trail]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_places(item, (*trail, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_places(item, (*trail, index)))
    return found


def _replaced(value: Any, trail: tuple[Any, ...], new: Any) -> Any:
    if not trail:
        return new
    head, rest = trail[0], trail[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


def _with_key(value: Any, trail: tuple[Any, ...], key: str, new: Any) -> Any:
    """`value` with `key: new` added to the object at `trail` (if it is one)."""
    target = value
    for step in trail:
        target = target[step]
    if not isinstance(target, dict):
        return value
    return _replaced(value, trail, {**target, key: new})


@st.composite
def mutated(draw: st.DrawFn, body: Any) -> Any:
    """`body` with one to three places swapped for hostile values (or a hostile key added)."""
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places = _places(body)
        trail = draw(st.sampled_from(places))
        if draw(st.booleans()) or not trail:
            body = _replaced(body, trail, draw(hostile_values))
        else:
            key = draw(st.sampled_from(["\x00", "k\x00", "metadata", "properties", "y" * 300]))
            body = _with_key(body, trail[:-1], key, draw(hostile_values))
    return body


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    params: list[tuple[str, str]]
    body: Any


@st.composite
def requests_for(
    draw: st.DrawFn, route: Route, ids: dict[str, str], bodies: dict[tuple[str, str], Any]
) -> Request:
    url = route.path
    for param in route.params:
        # DELETE keeps the seeded records alive for the examples after it.
        valid = route.method != "DELETE" and draw(st.integers(0, 3)) > 0
        value = path_value(route, param, ids) if valid else draw(hostile_texts)
        url = re.sub("{" + param + "(:path)?}", lambda _m, v=value: _quote(v), url)
    params = draw(
        st.lists(st.tuples(st.sampled_from(FILTER_KEYS), hostile_texts | st.just("1")), max_size=4)
    )
    body = bodies.get((route.method, route.path))
    if body is not None:
        body = draw(mutated(body) | hostile_values)
    return Request(route.method, url, params, body)


def _quote(value: str) -> str:
    return quote(value, safe="")


# Written by authentication itself (a key's last use, at most once a minute), whatever
# the request then does: not a write of the request's.
BOOKKEEPING = {("api_keys", "last_used_at")}


def fingerprint(database: Database) -> str:
    """A digest of every row of every table: equal before and after means nothing was written."""
    digest = hashlib.sha256()
    on_this_database = on_database(database.engine.dialect.name)
    with database.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            if not on_this_database(table, table.name, "table", False, None):
                continue  # a table of the other database only
            columns = [c for c in table.columns if (table.name, c.name) not in BOOKKEEPING]
            rows = sorted(repr(tuple(row)) for row in session.execute(select(*columns)))
            digest.update(table.name.encode())
            for row in rows:
                digest.update(row.encode())
    return digest.hexdigest()


ENVELOPES: dict[int, set[str]] = {
    400: {"status", "error"},
    401: {"status", "error"},
    403: {"status", "error", "code"},
    404: {"status", "error", "code"},
    405: {"status", "error", "code"},
    413: {"status", "error", "code"},
    422: {"status", "error", "code", "error_details"},
}

Send = Callable[[Request], Any]
