"""The other webhook types, each with the object its GET returns (issue 16, point 5)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.invoices.scope import Scope
from tests.conftest import Org
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import delivery_log as _log
from tests.webhook_receiver import ok as _ok


def _setup(http: httpx.Client, receiver: Receiver, *, in_advance: bool = False) -> str:
    endpoint = {"webhook_endpoint": {"webhook_url": receiver.url}}
    _ok(http.post("/webhook_endpoints", json=endpoint))
    customer = {"external_id": "cus", "name": "Cus", "currency": "EUR", "timezone": "UTC"}
    _ok(http.post("/customers", json={"customer": customer}))
    metric = {"name": "Calls", "code": "calls", "aggregation_type": "sum_agg",
              "field_name": "units"}  # fmt: skip
    metric_id = _ok(http.post("/billable_metrics", json={"billable_metric": metric}))[
        "billable_metric"
    ]["lago_id"]
    charge = {"billable_metric_id": metric_id, "charge_model": "standard",
              "pay_in_advance": in_advance, "invoiceable": not in_advance,
              "properties": {"amount": "2"}}  # fmt: skip
    plan = {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 1_000,
            "amount_currency": "EUR", "pay_in_advance": False, "charges": [charge]}  # fmt: skip
    _ok(http.post("/plans", json={"plan": plan}))
    subscription = {"external_customer_id": "cus", "plan_code": "p", "external_id": "sub"}
    _ok(http.post("/subscriptions", json={"subscription": subscription}))
    return str(metric_id)


def test_one_off_invoice_payment_credit_note_and_void(
    http: httpx.Client, receiver: Receiver
) -> None:
    _setup(http, receiver)
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR"}
    _ok(http.post("/add_ons", json={"add_on": add_on}))
    body = {"external_customer_id": "cus", "currency": "EUR",
            "fees": [{"add_on_code": "setup", "units": 1}]}  # fmt: skip
    invoice = _ok(http.post("/invoices", json={"invoice": body}))["invoice"]
    path = f"/invoices/{invoice['lago_id']}"
    [created] = _log(http, webhook_type="invoice.one_off_created")
    assert created["payload"]["invoice"] == _ok(http.get(path))["invoice"]

    note_body = {"invoice_id": invoice["lago_id"], "reason": "other",
                 "credit_amount_cents": 1_000, "refund_amount_cents": 0,
                 "items": [{"fee_id": invoice["fees"][0]["lago_id"],
                            "amount_cents": 1_000}]}  # fmt: skip
    note = _ok(http.post("/credit_notes", json={"credit_note": note_body}))["credit_note"]
    [noted] = _log(http, webhook_type="credit_note.created")
    assert (
        noted["payload"]["credit_note"]
        == _ok(http.get(f"/credit_notes/{note['lago_id']}"))["credit_note"]
    )
    _ok(http.put(f"/credit_notes/{note['lago_id']}/void"))

    _ok(http.put(path, json={"invoice": {"payment_status": "failed"}}))
    [updated] = _log(http, webhook_type="invoice.payment_status_updated")
    assert updated["payload"]["invoice"] == _ok(http.get(path))["invoice"]
    assert updated["payload"]["invoice"]["payment_status"] == "failed"
    # The same status again changes nothing and tells no one.
    _ok(http.put(path, json={"invoice": {"payment_status": "failed"}}))
    assert len(_log(http, webhook_type="invoice.payment_status_updated")) == 1

    _ok(http.post(f"{path}/void"))
    [voided] = _log(http, webhook_type="invoice.voided")
    assert voided["payload"]["invoice"] == _ok(http.get(path))["invoice"]
    assert voided["payload"]["invoice"]["status"] == "voided"
    assert [w["webhook_type"] for w in _log(http)] == [
        "customer.created", "subscription.started", "invoice.one_off_created",
        "credit_note.created", "invoice.payment_status_updated", "invoice.voided",
    ]  # fmt: skip


def test_events_that_will_never_be_billed(http: httpx.Client, receiver: Receiver) -> None:
    _setup(http, receiver)
    base = {"external_subscription_id": "sub", "code": "calls", "properties": {"units": 1}}
    events = [
        {**base, "transaction_id": "ok"},
        {**base, "transaction_id": "metric", "code": "nope"},
        {**base, "transaction_id": "subscription", "external_subscription_id": "nobody"},
        {**base, "transaction_id": "text", "properties": {"units": "many"}},
        {**base, "transaction_id": "absent", "properties": {}},
    ]
    _ok(http.post("/events/batch", json={"events": events}))
    errors = _log(http, webhook_type="event.error")
    assert [
        (w["payload"]["event_error"]["event"]["transaction_id"],
         w["payload"]["event_error"]["message"]) for w in errors
    ] == [
        ("metric", '{"code":["billable_metric_not_found"]}'),
        ("subscription", '{"external_subscription_id":["subscription_not_found"]}'),
        ("text", '{"units":["value_is_not_a_number"]}'),
    ]  # fmt: skip
    stored = _ok(http.get("/events/metric"))["event"]
    assert errors[0]["payload"] == {
        "webhook_type": "event.error",
        "object_type": "event_error",
        "organization_id": errors[0]["payload"]["organization_id"],
        "event_error": {"status": 422, "error": "Unprocessable entity",
                        "message": '{"code":["billable_metric_not_found"]}', "event": stored},
    }  # fmt: skip


def test_pay_in_advance_fee_and_terminated_subscription(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    _setup(http, receiver, in_advance=True)
    event = {"transaction_id": "t1", "external_subscription_id": "sub", "code": "calls",
             "properties": {"units": 3}}  # fmt: skip
    _ok(http.post("/events", json={"event": event}))
    # The customer's clock only: the shared database holds every other test's billing.
    customer = _ok(http.get("/customers/cus"))["customer"]
    scope = Scope(customer_id=uuid.UUID(customer["lago_id"]), organization_id=org.id)
    tick(database, utc_now() + timedelta(seconds=1), scope)
    [fee] = _log(http, webhook_type="fee.created")
    assert fee["payload"]["fee"] == _ok(http.get(f"/fees/{fee['object_id']}"))["fee"]
    assert (fee["payload"]["fee"]["amount_cents"], fee["payload"]["fee"]["units"]) == (600, "3.0")
    _ok(http.delete("/subscriptions/sub"))
    [ended] = _log(http, webhook_type="subscription.terminated")
    assert (
        ended["payload"]["subscription"]
        == _ok(http.get("/subscriptions/sub", params={"status": "terminated"}))["subscription"]
    )


def test_trial_ended(database: Database, org: Org, http: httpx.Client, receiver: Receiver) -> None:
    endpoint = {"webhook_endpoint": {"webhook_url": receiver.url,
                                     "event_types": ["subscription.trial_ended"]}}  # fmt: skip
    _ok(http.post("/webhook_endpoints", json=endpoint))
    _ok(http.post("/customers", json={"customer": {"external_id": "cus", "timezone": "UTC"}}))
    plan = {"name": "T", "code": "t", "interval": "monthly", "amount_cents": 1_000,
            "amount_currency": "EUR", "trial_period": 1}  # fmt: skip
    _ok(http.post("/plans", json={"plan": plan}))
    subscription = {"external_customer_id": "cus", "plan_code": "t", "external_id": "sub"}
    _ok(http.post("/subscriptions", json={"subscription": subscription}))
    assert _log(http) == []
    customer = _ok(http.get("/customers/cus"))["customer"]
    scope = Scope(customer_id=uuid.UUID(customer["lago_id"]), organization_id=org.id)
    tick(database, utc_now() + timedelta(days=1, hours=1), scope)
    [ended] = _log(http)
    current = _ok(http.get("/subscriptions/sub"))["subscription"]
    assert ended["webhook_type"] == "subscription.trial_ended"
    assert ended["object_id"] == current["lago_id"]
    assert ended["payload"]["subscription"]["trial_ended_at"] == current["trial_ended_at"]
    assert current["trial_ended_at"] is not None
