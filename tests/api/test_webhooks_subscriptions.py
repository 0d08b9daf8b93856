"""subscription.updated and subscription.termination_alert, each with the object the
API's GET returns (Lago's UpdateService, PlanDowngradeService and
Clock::SubscriptionsToBeTerminatedJob)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.core.times import utc_now
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import ok as _ok


def _log(http: httpx.Client, webhook_type: str) -> list[dict[str, Any]]:
    """The deliveries of one type in the order they were written."""
    params = {"per_page": "100", "webhook_type": webhook_type}
    return list(reversed(_ok(http.get("/webhooks", params=params))["webhooks"]))


def _get(http: httpx.Client, external_id: str, status: str = "active") -> Any:
    return _ok(http.get(f"/subscriptions/{external_id}", params={"status": status}))["subscription"]


def _setup(http: httpx.Client, receiver: Receiver, webhook_type: str) -> None:
    endpoint = {"webhook_url": receiver.url, "event_types": [webhook_type]}
    _ok(http.post("/webhook_endpoints", json={"webhook_endpoint": endpoint}))
    customer = {"external_id": "cus", "currency": "EUR", "timezone": "UTC"}
    _ok(http.post("/customers", json={"customer": customer}))
    for code, amount in (("big", 5_000), ("small", 1_000), ("huge", 9_000)):
        plan = {"name": code, "code": code, "interval": "monthly", "amount_cents": amount,
                "amount_currency": "EUR"}  # fmt: skip
        _ok(http.post("/plans", json={"plan": plan}))


def _subscribe(http: httpx.Client, external_id: str, plan: str, **extra: str) -> Any:
    body = {"external_customer_id": "cus", "plan_code": plan, "external_id": external_id, **extra}
    return _ok(http.post("/subscriptions", json={"subscription": body}))["subscription"]


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_updated_on_every_edit_and_on_a_scheduled_downgrade(
    http: httpx.Client, receiver: Receiver
) -> None:
    _setup(http, receiver, "subscription.updated")
    _subscribe(http, "sub", "big")
    assert _log(http, "subscription.updated") == []

    ending = _iso(utc_now() + timedelta(days=200))
    body = {"subscription": {"name": "Renamed", "ending_at": ending}}
    _ok(http.put("/subscriptions/sub", json=body))
    [renamed] = _log(http, "subscription.updated")
    assert renamed["payload"] == {
        "webhook_type": "subscription.updated",
        "object_type": "subscription",
        "organization_id": renamed["payload"]["organization_id"],
        "subscription": _get(http, "sub"),
    }
    assert (renamed["payload"]["subscription"]["name"],
            renamed["payload"]["subscription"]["ending_at"]) == ("Renamed", ending)  # fmt: skip

    # Lago tells of every PUT, even one that changes nothing.
    _ok(http.put("/subscriptions/sub", json=body))
    assert len(_log(http, "subscription.updated")) == 2
    # A refused edit changes nothing and tells no one.
    past = {"subscription": {"ending_at": _iso(utc_now() - timedelta(days=1))}}
    assert http.put("/subscriptions/sub", json=past).status_code == 422
    assert len(_log(http, "subscription.updated")) == 2

    # A downgrade is scheduled: the current subscription shows its next plan.
    _subscribe(http, "sub", "small")
    downgraded = _log(http, "subscription.updated")[-1]
    current = _get(http, "sub")
    assert downgraded["payload"]["subscription"] == current
    assert (current["plan_code"], current["next_plan_code"]) == ("big", "small")
    assert current["downgrade_plan_date"] is not None
    assert len(_log(http, "subscription.updated")) == 3

    # The same plan again is no change at all; an upgrade starts a new subscription
    # (subscription.started and .terminated, not .updated).
    _subscribe(http, "sub", "big")
    _subscribe(http, "sub", "huge")
    assert len(_log(http, "subscription.updated")) == 3


def test_updated_for_a_pending_subscription_but_not_for_its_new_start(
    http: httpx.Client, receiver: Receiver
) -> None:
    _setup(http, receiver, "subscription.updated")
    start = utc_now() + timedelta(days=10)
    _subscribe(http, "later", "big", subscription_at=_iso(start))
    # Changing the plan of a subscription that has not started is not announced (Lago's
    # PlanDowngradeService#update_pending_subscription).
    _subscribe(http, "later", "small")
    assert _log(http, "subscription.updated") == []

    # A new start date keeps it pending: Lago sends nothing then.
    moved = {"subscription": {"subscription_at": _iso(start + timedelta(days=5))}}
    _ok(http.put("/subscriptions/later", params={"status": "pending"}, json=moved))
    assert _log(http, "subscription.updated") == []

    renamed = {"subscription": {"name": "Later"}}
    _ok(http.put("/subscriptions/later", params={"status": "pending"}, json=renamed))
    [updated] = _log(http, "subscription.updated")
    assert updated["payload"]["subscription"] == _get(http, "later", "pending")
    assert updated["payload"]["subscription"]["name"] == "Later"
    assert updated["payload"]["subscription"]["plan_code"] == "small"


def test_termination_alert_45_and_15_days_before_once_a_day(
    database: Database, http: httpx.Client, receiver: Receiver
) -> None:
    _setup(http, receiver, "subscription.termination_alert")
    now = utc_now()
    _subscribe(http, "sub", "big", ending_at=_iso(now + timedelta(days=45)))
    _subscribe(http, "soon", "big", ending_at=_iso(now + timedelta(days=20)))
    _subscribe(http, "open", "big")

    tick(database, now)
    [alert] = _log(http, "subscription.termination_alert")
    assert alert["payload"] == {
        "webhook_type": "subscription.termination_alert",
        "object_type": "subscription",
        "organization_id": alert["payload"]["organization_id"],
        "subscription": _get(http, "sub"),
    }
    # The clock ticks every minute: one alert a day.
    tick(database, now + timedelta(minutes=1))
    tick(database, now + timedelta(minutes=2))
    assert len(_log(http, "subscription.termination_alert")) == 1

    # 15 days before: "sub" once more; "soon" (20 days away today) is not due on any day
    # checked here.
    later = now + timedelta(days=30)
    tick(database, later)
    tick(database, later + timedelta(minutes=1))
    alerts = _log(http, "subscription.termination_alert")
    assert [a["payload"]["subscription"]["external_id"] for a in alerts] == ["sub", "sub"]
    assert alerts[1]["object_id"] == alert["object_id"]
