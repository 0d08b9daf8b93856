"""A customer's whole life through the API and the clock produces exactly the expected
webhooks, each carrying the object as the API's GET returns it (issue 16, points 5, 7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.customers.deletion import delete_customer
from meterbill.invoices.scope import Scope
from meterbill.webhooks.delivery import deliver_due
from tests.conftest import Org
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import delivery_log as _log
from tests.webhook_receiver import ok as _ok


def _month_start(moment: datetime, months_back: int) -> datetime:
    year, month = moment.year, moment.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, tzinfo=UTC)


NOW_RELATIVE = ("current_billing_period_started_at", "current_billing_period_ending_at")


def _as_of_any_time(value: Any) -> Any:
    """Without the fields a subscription computes from the instant it is rendered at:
    the clock's webhooks are rendered at the clock's `now`, the GETs at the wall's."""
    if isinstance(value, dict):
        return {k: _as_of_any_time(v) for k, v in value.items() if k not in NOW_RELATIVE}
    if isinstance(value, list):
        return [_as_of_any_time(item) for item in value]
    return value


def test_a_customer_life_produces_the_expected_webhooks(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    wall = utc_now()
    # Subscribed since the start of this month; the clock then runs next month.
    started = _month_start(wall, 0)
    billing_day = _month_start(wall + timedelta(days=32), 0)
    endpoint = {"webhook_endpoint": {"webhook_url": receiver.url}}
    _ok(http.post("/webhook_endpoints", json=endpoint))
    expected: list[tuple[str, Any]] = []

    customer = {"external_id": "life", "name": "Life Ltd", "currency": "EUR",
                "timezone": "UTC", "net_payment_term": 0,
                "billing_configuration": {"invoice_grace_period": 1}}  # fmt: skip
    _ok(http.post("/customers", json={"customer": customer}))
    expected.append(("customer.created", _ok(http.get("/customers/life"))["customer"]))

    metric = {"name": "Calls", "code": "calls", "aggregation_type": "sum_agg",
              "field_name": "units"}  # fmt: skip
    metric_id = _ok(http.post("/billable_metrics", json={"billable_metric": metric}))[
        "billable_metric"
    ]["lago_id"]
    plan = {"name": "Basic", "code": "basic", "interval": "monthly", "amount_cents": 1_000,
            "amount_currency": "EUR", "pay_in_advance": False,
            "charges": [{"billable_metric_id": metric_id, "charge_model": "standard",
                         "properties": {"amount": "1"}}]}  # fmt: skip
    _ok(http.post("/plans", json={"plan": plan}))
    subscription = {"external_customer_id": "life", "plan_code": "basic", "external_id": "sub",
                    "billing_time": "calendar", "subscription_at": started.isoformat()}  # fmt: skip
    _ok(http.post("/subscriptions", json={"subscription": subscription}))
    expected.append(("subscription.started", _ok(http.get("/subscriptions/sub"))["subscription"]))
    renamed = {"subscription": {"name": "Basic for Life"}}
    _ok(http.put("/subscriptions/sub", json=renamed))
    expected.append(("subscription.updated", _ok(http.get("/subscriptions/sub"))["subscription"]))

    when = int((wall - timedelta(minutes=1)).timestamp())
    good = {"transaction_id": "t1", "external_subscription_id": "sub", "code": "calls",
            "timestamp": when, "properties": {"units": 5}}  # fmt: skip
    _ok(http.post("/events", json={"event": good}))
    unknown = {**good, "transaction_id": "t2", "code": "nope"}
    stored = _ok(http.post("/events", json={"event": unknown}))["event"]
    expected.append((
        "event.error",
        {"status": 422, "error": "Unprocessable entity",
         "message": '{"code":["billable_metric_not_found"]}', "event": stored},
    ))  # fmt: skip

    scope = Scope(uuid.UUID(_ok(http.get("/customers/life"))["customer"]["lago_id"]), org.id)
    tick(database, billing_day + timedelta(hours=1), scope)
    [invoice] = _ok(http.get("/invoices", params={"external_customer_id": "life"}))["invoices"]
    path = f"/invoices/{invoice['lago_id']}"
    drafted = _ok(http.get(path))["invoice"]
    assert drafted["status"] == "draft"
    expected.append(("invoice.drafted", drafted))

    tick(database, billing_day + timedelta(days=1, hours=1), scope)
    finalized = _ok(http.get(path))["invoice"]
    assert (finalized["status"], finalized["payment_overdue"]) == ("finalized", False)
    expected.append(("invoice.created", finalized))

    tick(database, billing_day + timedelta(days=2, hours=1), scope)
    overdue = _ok(http.get(path))["invoice"]
    assert overdue["payment_overdue"] is True
    expected.append(("invoice.payment_overdue", overdue))

    wallet = {"external_customer_id": "life", "rate_amount": "1", "currency": "EUR",
              "granted_credits": "10"}  # fmt: skip
    made = _ok(http.post("/wallets", json={"wallet": wallet}))["wallet"]
    transactions = _ok(http.get(f"/wallets/{made['lago_id']}/wallet_transactions"))
    [granted] = transactions["wallet_transactions"]
    # Lago tops a new wallet up after creating it; the grant increases the balance
    # (wallet.updated) before its transaction is announced. Both wallet objects are
    # rendered as the request commits: as GET shows it.
    wallet_now = _ok(http.get(f"/wallets/{made['lago_id']}"))["wallet"]
    expected.append(("wallet.created", wallet_now))
    expected.append(("wallet.updated", wallet_now))
    expected.append(("wallet_transaction.created", granted))

    # Deleted by the service the API calls, at the clock's time (the API's is now).
    with database.transaction() as session:
        delete_customer(session, org.id, "life", billing_day + timedelta(days=3))
    terminated = _ok(http.get("/subscriptions/sub", params={"status": "terminated"}))
    expected.append(("subscription.terminated", terminated["subscription"]))

    log = _log(http)
    assert [w["webhook_type"] for w in log[: len(expected)]] == [t for t, _ in expected]
    for webhook, (webhook_type, body) in zip(log, expected, strict=False):
        object_type = webhook["object_type"]
        assert _as_of_any_time(webhook["payload"]) == _as_of_any_time(
            {
                "webhook_type": webhook_type,
                "object_type": object_type,
                "organization_id": str(org.id),
                object_type: body,
            }
        ), webhook_type
    # What the deletion set off after the subscription's termination.
    # The deletion's side effects, after the termination (Lago's: customers.md §11): the
    # termination invoice, made a draft then finalized at once, paid partly by the wallet,
    # whose remaining credits are voided. Each object rendered as the transaction that
    # made it committed, as GET shows it.
    tail = log[len(expected) :]
    # Each move of the wallet's balance (consumed, voided) sends wallet.updated before
    # its transaction is announced, as Lago's Balance::DecreaseService does.
    assert [w["webhook_type"] for w in tail] == [
        "invoice.drafted", "wallet.updated", "wallet_transaction.created",
        "invoice.created", "wallet.updated", "wallet_transaction.created",
        "wallet.terminated",
    ]  # fmt: skip
    last_invoice = _ok(http.get(f"/invoices/{tail[0]['object_id']}"))["invoice"]
    assert _as_of_any_time(tail[3]["payload"]["invoice"]) == _as_of_any_time(last_invoice)
    assert last_invoice["prepaid_credit_amount_cents"] == 129
    consumed, voided = (w["payload"]["wallet_transaction"] for w in (tail[2], tail[5]))
    assert (consumed["transaction_status"], consumed["amount"]) == ("invoiced", "1.29")
    assert (voided["transaction_status"], voided["amount"]) == ("voided", "8.71")
    assert consumed["lago_invoice_id"] == last_invoice["lago_id"]
    wallet_after = _ok(http.get(f"/wallets/{made['lago_id']}"))["wallet"]
    # Rendered as the deletion committed: all three show the wallet as it ended.
    assert [w["payload"]["wallet"] for w in (tail[1], tail[4], tail[6])] == [wallet_after] * 3
    assert (wallet_after["status"], wallet_after["balance_cents"]) == ("terminated", 0)

    # Each delivery is due from the `now` of its change: the clock's are in the future.
    last = billing_day + timedelta(days=4)
    assert deliver_due(database, last, organization_id=org.id).sent == len(log)
    assert sorted(receiver.types()) == sorted(w["webhook_type"] for w in log)
