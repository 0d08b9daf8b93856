"""A billing run's invoice webhooks are written with the run but rendered after it: at
the delivery's claim, or before anything changes the invoice — so each still carries
the invoice as the run left it, and the run does not pay for rendering (issue 16's
billing-run target)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.invoices.scope import Scope
from meterbill.webhooks.delivery import deliver_due
from meterbill.webhooks.models import Webhook
from tests.api.test_webhooks_lifecycle import _as_of_any_time, _month_start
from tests.conftest import Org
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import delivery_log as _log
from tests.webhook_receiver import ok as _ok

# Subscribed since the start of this month; billed at the start of the next.
START = _month_start(utc_now(), 0)
BILLING = _month_start(utc_now() + timedelta(days=32), 0) + timedelta(hours=1)


def _billed(http: httpx.Client, receiver: Receiver, database: Database, org: Org,
            customers: int, **customer: Any) -> list[dict[str, Any]]:  # fmt: skip
    types = ["invoice.created", "invoice.payment_status_updated", "invoice.payment_overdue"]
    endpoint = {"webhook_url": receiver.url, "signature_algo": "hmac", "event_types": types}
    _ok(http.post("/webhook_endpoints", json={"webhook_endpoint": endpoint}))
    plan = {"name": "Basic", "code": "basic", "interval": "monthly", "amount_cents": 1_000,
            "amount_currency": "EUR", "pay_in_advance": False}  # fmt: skip
    _ok(http.post("/plans", json={"plan": plan}))
    for n in range(customers):
        _ok(http.post("/customers", json={"customer": {"external_id": f"c{n}", **customer}}))
        subscription = {"external_customer_id": f"c{n}", "plan_code": "basic",
                        "external_id": f"s{n}", "billing_time": "calendar",
                        "subscription_at": START.isoformat()}  # fmt: skip
        _ok(http.post("/subscriptions", json={"subscription": subscription}))
    # Each customer's own run: the test database holds other tests' organizations, whose
    # odd records would send a shared batch down the careful one-by-one path.
    for n in range(customers):
        customer_id = uuid.UUID(_ok(http.get(f"/customers/c{n}"))["customer"]["lago_id"])
        tick(database, BILLING, Scope(customer_id, org.id))
    return _ok(http.get("/invoices", params={"per_page": "100"}))["invoices"]


def _unrendered(database: Database, org: Org) -> list[str]:
    with database.transaction(write=False) as session:
        return list(
            session.scalars(
                select(Webhook.webhook_type).where(
                    Webhook.organization_id == org.id, Webhook.payload.is_(None)
                )
            )
        )


def test_rendered_at_the_claim_as_get_shows_the_invoice(
    http: httpx.Client, receiver: Receiver, database: Database, org: Org
) -> None:
    invoices = _billed(http, receiver, database, org, customers=3)
    assert sorted(_unrendered(database, org)) == ["invoice.created"] * 3
    assert deliver_due(database, BILLING, organization_id=org.id).succeeded == 3
    assert _unrendered(database, org) == []
    sent = {item["invoice"]["lago_id"]: item for item in receiver.payloads()}
    for invoice in invoices:
        full = _ok(http.get(f"/invoices/{invoice['lago_id']}"))["invoice"]
        assert _as_of_any_time(sent[invoice["lago_id"]]) == _as_of_any_time({
            "webhook_type": "invoice.created",
            "object_type": "invoice",
            "organization_id": str(org.id),
            "invoice": full,
        })  # fmt: skip


def test_a_change_before_the_claim_does_not_reach_the_earlier_webhook(
    http: httpx.Client, receiver: Receiver, database: Database, org: Org
) -> None:
    [invoice] = _billed(http, receiver, database, org, customers=1)
    before = _ok(http.get(f"/invoices/{invoice['lago_id']}"))["invoice"]
    assert before["payment_status"] == "pending"
    paid = {"invoice": {"payment_status": "succeeded"}}
    after = _ok(http.put(f"/invoices/{invoice['lago_id']}", json=paid))["invoice"]
    assert _unrendered(database, org) == []  # rendered before the change
    log = _log(http)
    assert [w["webhook_type"] for w in log] == [
        "invoice.created", "invoice.payment_status_updated"]  # fmt: skip
    assert _as_of_any_time(log[0]["payload"]["invoice"]) == _as_of_any_time(before)
    assert log[1]["payload"]["invoice"]["payment_status"] == "succeeded"
    assert log[1]["payload"]["invoice"] == after


def test_the_overdue_flag_and_the_delivery_log(
    http: httpx.Client, receiver: Receiver, database: Database, org: Org
) -> None:
    [invoice] = _billed(http, receiver, database, org, customers=1, net_payment_term=1)
    before = _ok(http.get(f"/invoices/{invoice['lago_id']}"))["invoice"]
    customer_id = uuid.UUID(_ok(http.get("/customers/c0"))["customer"]["lago_id"])
    tick(database, BILLING + timedelta(days=2), Scope(customer_id, org.id))
    log = _log(http)
    assert [w["webhook_type"] for w in log] == ["invoice.created", "invoice.payment_overdue"]
    assert _as_of_any_time(log[0]["payload"]["invoice"]) == _as_of_any_time(before)
    assert before["payment_overdue"] is False
    assert log[1]["payload"]["invoice"]["payment_overdue"] is True
