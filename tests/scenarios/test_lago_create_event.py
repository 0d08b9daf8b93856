"""Ingesting events, as Lago's scenario spec create_event_spec.rb has it: an event is
stored (200, echoed back) whatever the state of the subscription it names (unknown,
another organization's, pending, terminated, or two under one external id); billing
decides later what it counts. One event read by two charges counts in each.

meterbill refuses an event without `external_subscription_id` (422 value_is_mandatory),
where Lago stores it unbillable (README, "Deliberate differences").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.metrics.models import BillableMetric
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org, make_org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import terminate

START = utc(2024, 3, 1)


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    billing.metric("m")
    billing.plan("p", [], amount_cents=0)
    billing.customer("cus", timezone="UTC")
    return billing


def post(http: httpx.Client, transaction_id: str, at: datetime | None = None,
         **fields: Any) -> httpx.Response:  # fmt: skip
    event = {"transaction_id": transaction_id, "code": "m", **fields}
    if at is not None:
        event["timestamp"] = int(at.timestamp())
    return http.post("/events", json={"event": event})


def stored(http: httpx.Client, transaction_id: str) -> dict[str, Any]:
    response = http.get(f"/events/{transaction_id}")
    assert response.status_code == 200
    return response.json()["event"]


def pending(billing: Billing, external_id: str, starts: datetime, now: datetime) -> None:
    body = {"external_customer_id": "cus", "plan_code": "p", "external_id": external_id,
            "subscription_at": starts.isoformat()}  # fmt: skip
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), now)


def test_without_a_subscription_the_event_is_refused(billing: Billing, http: httpx.Client) -> None:
    response = post(http, "t1", utc(2024, 3, 2))
    assert response.status_code == 422
    assert response.json()["error_details"] == {"external_subscription_id": ["value_is_mandatory"]}
    assert http.get("/events/t1").status_code == 404


def test_an_unknown_or_foreign_subscription_is_stored(
    billing: Billing, http: httpx.Client, database: Database
) -> None:
    other = Billing(database, make_org(database, "Other"))
    other.plan("p", [], amount_cents=0)
    other.customer("them", timezone="UTC")
    other.subscribe("them", "p", "their-sub", START)
    for transaction_id, subscription in (("t1", "unknown"), ("t2", "their-sub")):
        response = post(http, transaction_id, utc(2024, 3, 2),
                        external_subscription_id=subscription)  # fmt: skip
        assert response.status_code == 200
        echoed = response.json()["event"]
        assert (echoed["code"], echoed["external_subscription_id"]) == ("m", subscription)
        assert stored(http, transaction_id)["external_subscription_id"] == subscription


def test_any_state_of_the_subscription_is_stored(billing: Billing, http: httpx.Client) -> None:
    billing.subscribe("cus", "p", "active", START)
    pending(billing, "later", utc(2024, 3, 20), START)
    billing.subscribe("cus", "p", "ended", START)
    terminate(billing, "ended", utc(2024, 3, 10))
    # An active subscription and a pending one under the same external id.
    billing.subscribe("cus", "p", "both", START)
    pending(billing, "both", utc(2024, 4, 20), START)
    cases = [
        ("t1", "active", utc(2024, 3, 12)),
        ("t2", "later", utc(2024, 3, 12)),  # before it starts
        ("t3", "ended", utc(2024, 3, 12)),  # after it ended
        ("t4", "ended", utc(2024, 3, 10)),  # the second it ended
        ("t5", "ended", utc(2024, 3, 9)),  # while it was active
        ("t6", "both", utc(2024, 3, 12)),
    ]
    for transaction_id, subscription, at in cases:
        response = post(http, transaction_id, at, external_subscription_id=subscription)
        assert response.status_code == 200
        assert stored(http, transaction_id)["external_subscription_id"] == subscription


def test_one_event_counts_for_two_charges_of_its_metric(
    billing: Billing, http: httpx.Client
) -> None:
    with billing.database.transaction(write=False) as session:
        metric_id = str(session.scalars(select(BillableMetric.id).where(
            BillableMetric.organization_id == billing.org.id)).one())  # fmt: skip
    charge = {"billable_metric_id": metric_id, "charge_model": "standard"}
    billing.plan("two", [{**charge, "properties": {"amount": "1"}},
                         {**charge, "properties": {"amount": "2"}}])  # fmt: skip
    billing.subscribe("cus", "two", "sub", START)
    assert post(http, "t1", utc(2024, 3, 2), external_subscription_id="sub").status_code == 200
    assert (
        len(http.get("/events", params={"external_subscription_id": "sub"}).json()["events"]) == 1
    )
    usage = billing.usage("cus", "sub", utc(2024, 3, 3))
    assert sorted((c["events_count"], c["amount_cents"]) for c in usage["charges_usage"]) == [
        (1, 100), (1, 200)]  # fmt: skip
