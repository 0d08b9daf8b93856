"""The clock moves subscriptions through their statuses, idempotently, in any timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription, find_subscription
from tests.conftest import Org
from tests.db.test_current_usage import Setup, utc


def status(database: Database, org: Org, external_id: str, wanted: str) -> Subscription:
    with database.transaction(write=False) as session:
        return find_subscription(session, org.id, external_id, wanted)


def test_pending_subscription_starts_on_its_local_date(database: Database, org: Org) -> None:
    setup = Setup(database, org)
    setup.plan("p", [])
    setup.customer("tokyo", timezone="Asia/Tokyo")
    start = utc(2024, 3, 9, 16)  # 2024-03-10 01:00 in Tokyo
    body = {"external_customer_id": "tokyo", "plan_code": "p", "external_id": "sub",
            "subscription_at": start.isoformat()}  # fmt: skip
    with database.transaction() as session:
        created = create_subscription(
            session, org.id, parse_subscription(body, creating=True), utc(2024, 3, 1)
        )
        assert created.status == "pending"
    # 15:30 UTC on the 9th is already the 10th in Tokyo: the start date has come.
    assert tick(database, utc(2024, 3, 9, 15, 30)).activated == ["sub"]
    active = status(database, org, "sub", "active")
    assert active.started_at == start
    assert tick(database, utc(2024, 3, 9, 16, 30)).activated == []


def test_ending_at_terminates_once(database: Database, org: Org) -> None:
    setup = Setup(database, org)
    setup.plan("p", [])
    ending = utc(2024, 5, 20, 12)
    setup.subscribe("cus", "p", "sub", utc(2024, 1, 1), ending_at=ending.isoformat())
    assert tick(database, ending - timedelta(hours=13)).terminated == []
    # On the ending's local date the clock ends it, then and there (Lago's
    # TerminateEndedSubscriptionsJob).
    assert tick(database, ending - timedelta(hours=1)).terminated == ["sub"]
    assert tick(database, ending + timedelta(hours=2)).terminated == []
    assert status(database, org, "sub", "terminated").terminated_at == ending - timedelta(hours=1)


def test_downgrade_takes_over_at_the_end_of_the_period(database: Database, org: Org) -> None:
    setup = Setup(database, org)
    setup.plan("big", [], amount_cents=5000)
    setup.plan("small", [], amount_cents=1000)
    setup.subscribe("cus", "big", "sub", utc(2024, 1, 1))
    with database.transaction() as session:
        body = {"external_customer_id": "cus", "plan_code": "small", "external_id": "sub"}
        create_subscription(session, org.id, parse_subscription(body, creating=True),
                            utc(2024, 2, 10))  # fmt: skip
    assert tick(database, utc(2024, 2, 29, 23)).downgraded == []
    assert tick(database, utc(2024, 3, 1, 0, 30)).downgraded == ["sub"]
    assert tick(database, utc(2024, 3, 1, 1, 30)).downgraded == []
    old = status(database, org, "sub", "terminated")
    new = status(database, org, "sub", "active")
    assert old.terminated_at == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert new.started_at == utc(2024, 3, 1)
    assert new.previous_subscription_id == old.id
