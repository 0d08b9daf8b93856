"""Wallets through the official client: fields, credits rounding, the currency lock,
customer-scoped calls, termination, refusals and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.wallet import (
    AppliesTo,
    RecurringTransactionRule,
    RecurringTransactionRuleList,
    Wallet,
)

from meterbill.core.db import Database
from tests.conftest import make_org

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def customer(http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "cus"}})


def wallet_body(**fields: Any) -> dict[str, Any]:
    return {"wallet": {"external_customer_id": "cus", "rate_amount": "1", "currency": "EUR",
                       "name": "Prepaid", **fields}}  # fmt: skip


def refusal(response: httpx.Response, details: dict[str, list[str]]) -> None:
    assert response.status_code == 422
    assert response.json() == {**UNPROCESSABLE, "error_details": details}


def test_create_wallet_with_granted_credits_and_rule(lago: Client, customer: None) -> None:
    expires = later(30)
    wallet = lago.wallets.create(
        Wallet(external_customer_id="cus", rate_amount="2", currency="EUR", name="Main Wallet",
               priority=10, granted_credits="10.123456", expiration_at=expires,
               applies_to=AppliesTo(fee_types=["charge"]), metadata={"team": "ops"},
               recurring_transaction_rules=RecurringTransactionRuleList(__root__=[
                   RecurringTransactionRule(trigger="interval", interval="monthly",
                                            granted_credits="5.0")
               ]))
    )  # fmt: skip
    # 10.123456 credits floored to 10.12345, worth 20.2469 -> 20.25 EUR -> 10.125 credits.
    assert (wallet.balance_cents, wallet.credits_balance, wallet.rate_amount) == (
        2025,
        "10.125",
        "2.0",
    )
    assert (wallet.code, wallet.name, wallet.priority, wallet.status, wallet.currency) == (
        "main_wallet",
        "Main Wallet",
        10,
        "active",
        "EUR",
    )
    assert (wallet.ongoing_balance_cents, wallet.ongoing_usage_balance_cents) == (2025, 0)
    assert (wallet.credits_ongoing_balance, wallet.consumed_credits) == ("10.125", "0.0")
    assert wallet.expiration_at == expires
    assert wallet.applies_to.fee_types == ["charge"]
    assert wallet.applies_to.billable_metric_codes == []
    assert wallet.metadata == {"team": "ops"}
    [rule] = wallet.recurring_transaction_rules.__root__
    assert (rule.trigger, rule.interval, rule.method, rule.granted_credits, rule.paid_credits,
            rule.status) == ("interval", "monthly", "fixed", "5.0", "0.0", "active")  # fmt: skip

    found = lago.wallets.find(wallet.lago_id)
    assert (found.lago_id, found.balance_cents, found.external_customer_id) == (
        wallet.lago_id,
        2025,
        "cus",
    )
    listed = lago.wallets.find_all({"external_customer_id": "cus"})
    assert [item.lago_id for item in listed["wallets"]] == [wallet.lago_id]
    assert listed["meta"]["total_count"] == 1
    # The customer took the wallet's currency.
    assert lago.customers.find("cus").currency == "EUR"


def test_update_replaces_rules_and_limits(lago: Client, http: httpx.Client, customer: None) -> None:
    body = wallet_body(recurring_transaction_rules=[
        {"trigger": "threshold", "threshold_credits": "5", "paid_credits": "10"}
    ])  # fmt: skip
    created = http.post("/wallets", json=body).json()["wallet"]
    [rule] = created["recurring_transaction_rules"]
    assert (rule["threshold_credits"], rule["paid_credits"]) == ("5.0", "10.0")
    http.post("/billable_metrics", json={"billable_metric": {
        "name": "Calls", "code": "calls", "aggregation_type": "count_agg"}})  # fmt: skip
    updated = lago.wallets.update(
        Wallet(name="Renamed", priority=3,
               applies_to=AppliesTo(billable_metric_codes=["calls"]),
               recurring_transaction_rules=RecurringTransactionRuleList(__root__=[
                   RecurringTransactionRule(lago_id=rule["lago_id"], trigger="threshold",
                                            threshold_credits="7", method="target",
                                            target_ongoing_balance="50")
               ])),
        created["lago_id"],
    )  # fmt: skip
    assert (updated.name, updated.priority, updated.code) == ("Renamed", 3, "prepaid")
    assert updated.applies_to.billable_metric_codes == ["calls"]
    [edited] = updated.recurring_transaction_rules.__root__
    assert (edited.lago_id, edited.threshold_credits, edited.method) == (
        rule["lago_id"],
        "7.0",
        "target",
    )
    assert edited.target_ongoing_balance == "50.0"
    cleared = http.put(f"/wallets/{created['lago_id']}",
                       json={"wallet": {"recurring_transaction_rules": []}}).json()  # fmt: skip
    assert cleared["wallet"]["recurring_transaction_rules"] == []


def test_customer_scoped_wallet_calls(lago: Client, customer: None) -> None:
    created = lago.customers.wallets.create(
        "cus", Wallet(rate_amount="1", currency="EUR", code="credits", paid_credits="12.5")
    )
    assert (created.code, created.balance_cents) == ("credits", 0)  # paid: not yet settled
    assert lago.customers.wallets.find("cus", "credits").lago_id == created.lago_id
    assert [w.code for w in lago.customers.wallets.find_all("cus")["wallets"]] == ["credits"]
    renamed = lago.customers.wallets.update("cus", "credits", Wallet(name="Credits"))
    assert renamed.name == "Credits"
    ended = lago.customers.wallets.destroy("cus", "credits")
    assert (ended.status, ended.terminated_at is not None) == ("terminated", True)
    # The code is free again among the customer's active wallets.
    again = lago.customers.wallets.create("cus", Wallet(rate_amount="1", code="credits"))
    assert again.lago_id != created.lago_id and again.currency == "EUR"


def test_terminate_keeps_the_balance(lago: Client, http: httpx.Client, customer: None) -> None:
    wallet = http.post("/wallets", json=wallet_body(granted_credits="30")).json()["wallet"]
    ended = lago.wallets.destroy(wallet["lago_id"])
    assert (ended.status, ended.balance_cents, ended.credits_balance) == (
        "terminated",
        3000,
        "30.0",
    )
    assert [r["status"] for r in http.get(f"/wallets/{wallet['lago_id']}").json()["wallet"][
        "recurring_transaction_rules"]] == []  # fmt: skip
    # A terminated wallet can no longer be changed (Lago's wallet_is_terminated).
    path = f"/wallets/{wallet['lago_id']}"
    refusal(http.put(path, json={"wallet": {"name": "Again"}}),
            {"wallet_id": ["wallet_is_terminated"]})  # fmt: skip
    assert http.get(path).json()["wallet"]["name"] == "Prepaid"


def test_code_unique_among_active_wallets(http: httpx.Client, customer: None) -> None:
    assert http.post("/wallets", json=wallet_body(code="main")).status_code == 200
    refusal(http.post("/wallets", json=wallet_body(code="main")), {"code": ["value_already_exist"]})
    other = http.post("/wallets", json=wallet_body(code="other", priority=1))
    assert other.status_code == 200


def test_refusals(http: httpx.Client, customer: None) -> None:
    refusal(http.post("/wallets", json=wallet_body(rate_amount="0")),
            {"rate_amount": ["value_is_out_of_range"]})  # fmt: skip
    refusal(http.post("/wallets", json=wallet_body(rate_amount="abc")),
            {"rate_amount": ["value_is_invalid"]})  # fmt: skip
    refusal(http.post("/wallets", json=wallet_body(rate_amount="0.3", granted_credits="0.01")),
            {"granted_credits": ["amount_rounds_to_zero"]})  # fmt: skip
    refusal(http.post("/wallets", json=wallet_body(paid_credits="-1")),
            {"paid_credits": ["invalid_paid_credits", "invalid_amount"]})  # fmt: skip
    refusal(http.post("/wallets", json=wallet_body(priority=51)),
            {"priority": ["value_is_out_of_range"]})  # fmt: skip
    refusal(http.post("/wallets", json=wallet_body(expiration_at="2020-01-01T00:00:00Z")),
            {"expiration_at": ["invalid_date"]})  # fmt: skip
    refusal(http.post("/wallets", json=wallet_body(currency="XXX")),
            {"currency": ["value_is_invalid"]})  # fmt: skip
    refusal(http.post("/wallets", json=wallet_body(applies_to={"fee_types": ["tip"]})),
            {"applies_to": ["invalid_limitations"]})  # fmt: skip
    refusal(
        http.post("/wallets", json=wallet_body(applies_to={"billable_metric_codes": ["nope"]})),
        {"applies_to": ["invalid_limitations"]},
    )
    no_interval = wallet_body(recurring_transaction_rules=[{"trigger": "interval"}])
    refusal(
        http.post("/wallets", json=no_interval),
        {"recurring_transaction_rules": ["invalid_recurring_rule"]},
    )
    missing = http.post("/wallets", json=wallet_body(external_customer_id="ghost"))
    assert missing.status_code == 404 and missing.json()["code"] == "customer_not_found"
    assert http.post("/wallets", json={"wallet": "x"}).status_code == 400
    # Nothing was half written: the customer has no wallet and no currency.
    assert http.get("/wallets", params={"external_customer_id": "cus"}).json()["wallets"] == []
    assert http.get("/customers/cus").json()["customer"]["currency"] is None


def test_currency_lock(http: httpx.Client, customer: None) -> None:
    assert http.post("/wallets", json=wallet_body(currency="USD")).status_code == 200
    refusal(http.post("/wallets", json=wallet_body(currency="EUR", code="eur")),
            {"currency": ["currencies_does_not_match"]})  # fmt: skip
    # The wallet locks the customer's currency for subscriptions too.
    http.post("/plans", json={"plan": {"name": "P", "code": "p", "interval": "monthly",
                                       "amount_cents": 100, "amount_currency": "EUR"}})  # fmt: skip
    subscribed = http.post("/subscriptions", json={"subscription": {
        "external_customer_id": "cus", "plan_code": "p", "external_id": "s"}})  # fmt: skip
    refusal(subscribed, {"currency": ["currencies_does_not_match"]})
    recreated = http.post("/customers", json={"customer": {"external_id": "cus",
                                                           "currency": "EUR"}})  # fmt: skip
    refusal(recreated, {"currency": ["currencies_does_not_match"]})


def test_unknown_and_other_organizations_wallets(
    database: Database, server: str, http: httpx.Client, customer: None
) -> None:
    wallet = http.post("/wallets", json=wallet_body()).json()["wallet"]
    other = make_org(database, "Other Org")
    headers = {"Authorization": f"Bearer {other.api_key}"}
    with httpx.Client(base_url=server + "/api/v1", headers=headers) as stranger:
        for response in (
            stranger.get(f"/wallets/{wallet['lago_id']}"),
            stranger.put(f"/wallets/{wallet['lago_id']}", json={"wallet": {"name": "x"}}),
            stranger.delete(f"/wallets/{wallet['lago_id']}"),
            stranger.get(f"/wallets/{wallet['lago_id']}/wallet_transactions"),
        ):
            assert response.status_code == 404
            assert response.json() == {"status": 404, "error": "Not Found",
                                       "code": "wallet_not_found"}  # fmt: skip
    for path in ("/wallets/not-a-uuid", "/wallets/6f1c0d38-0000-4000-8000-000000000000",
                 "/customers/cus/wallets/nope"):  # fmt: skip
        assert http.get(path).json()["code"] == "wallet_not_found"
    assert http.get("/wallets").json()["code"] == "customer_not_found"
    assert http.get("/customers/ghost/wallets").json()["code"] == "customer_not_found"


def test_client_raises_on_refusal(lago: Client, customer: None) -> None:
    with pytest.raises(LagoApiError) as raised:
        lago.wallets.create(Wallet(external_customer_id="cus", rate_amount="-2", currency="EUR"))
    assert raised.value.status_code == 422


def test_a_rate_no_column_can_hold_is_refused(http: httpx.Client, customer: None) -> None:
    # Found by tests/api/test_prepaid_refusal_properties.py: it was stored, then a 500.
    for rate in ("1e400", "1e23"):
        refusal(http.post("/wallets", json=wallet_body(rate_amount=rate)),
                {"rate_amount": ["value_is_out_of_range"]})  # fmt: skip
    assert http.get("/wallets", params={"external_customer_id": "cus"}).json()["wallets"] == []
    assert (
        http.post("/wallets", json=wallet_body(rate_amount="99999999999999999999999")).status_code
        == 200
    )
