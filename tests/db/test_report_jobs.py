"""The clock jobs that only report: subscription.termination_alert and events.errors.
Their days and hours, their cost when nobody listens, and several clocks at once."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from meterbill.clock import ClockOptions, TickReport, tick
from meterbill.core.db import Database
from meterbill.events.models import EventValidationRun
from meterbill.events.service import create_batch
from meterbill.subscriptions.models import Subscription
from meterbill.webhooks.models import Webhook
from meterbill.webhooks.service import create_endpoint
from tests.conftest import Org, make_org, share_event_store
from tests.db.test_current_usage import Setup, utc

# Also on the ClickHouse store: the events.errors report reads events through the store.
EVERY_EVENT_STORE = True


def _listen(database: Database, org: Org, *types: str) -> None:
    with database.transaction() as session:
        url = f"http://127.0.0.1:9/{uuid.uuid4().hex}"
        create_endpoint(session, org.id, {"webhook_url": url, "event_types": list(types)},
                        utc(2020, 1, 1))  # fmt: skip


def _sent(database: Database, webhook_type: str) -> list[dict[str, Any]]:
    with database.transaction(write=False) as session:
        return [
            webhook.payload
            for webhook in session.scalars(
                select(Webhook)
                .where(Webhook.webhook_type == webhook_type)
                .order_by(Webhook.ordinal)
            )
        ]


def _ending(database: Database, org: Org, external_id: str, ending_at: datetime,
            timezone: str = "UTC") -> None:  # fmt: skip
    setup = Setup(database, org)
    setup.customer(f"cus-{external_id}", timezone=timezone)
    setup.subscribe(f"cus-{external_id}", "p", external_id, utc(2026, 1, 1),
                    ending_at=ending_at.isoformat())  # fmt: skip


def test_termination_alert_compares_utc_dates_whatever_the_customer_s_timezone(
    fresh: Database,
) -> None:
    org = make_org(fresh)
    _listen(fresh, org, "subscription.termination_alert")
    Setup(fresh, org).plan("p", [])
    # The 16th at 23:30 UTC is already the 17th in Tokyo: Lago compares UTC dates.
    _ending(fresh, org, "tokyo", utc(2026, 4, 16, 23, 30), "Asia/Tokyo")
    assert tick(fresh, utc(2026, 3, 31, 23, 50)).termination_alerts == []
    assert tick(fresh, utc(2026, 4, 1, 0, 10)).termination_alerts == ["tokyo"]
    assert tick(fresh, utc(2026, 4, 1, 23, 59)).termination_alerts == []
    # Other days, as configured (Lago's LAGO_SUBSCRIPTION_TERMINATION_ALERT_SENT_AT_DAYS).
    one_day = ClockOptions(termination_alert_days=(1,))
    assert tick(fresh, utc(2026, 4, 2), options=one_day).termination_alerts == []
    assert tick(fresh, utc(2026, 4, 15, 6), options=one_day).termination_alerts == ["tokyo"]
    assert tick(fresh, utc(2026, 4, 15, 7), options=one_day).termination_alerts == []
    assert len(_sent(fresh, "subscription.termination_alert")) == 2


def test_only_active_subscriptions_are_alerted(fresh: Database) -> None:
    org = make_org(fresh)
    _listen(fresh, org, "subscription.termination_alert")
    Setup(fresh, org).plan("p", [])
    _ending(fresh, org, "ended", utc(2026, 4, 16, 12))
    with fresh.transaction() as session:
        subscription = session.scalar(select(Subscription))
        assert subscription is not None
        subscription.status = "terminated"
    assert tick(fresh, utc(2026, 4, 1, 12)).termination_alerts == []


def test_nobody_listening_costs_nothing_and_marks_nothing(fresh: Database) -> None:
    org = make_org(fresh)
    # An endpoint for other types only.
    _listen(fresh, org, "invoice.created")
    setup = Setup(fresh, org)
    setup.plan("p", [])
    setup.metric("calls", "sum_agg", field_name="units")
    _ending(fresh, org, "sub", utc(2026, 4, 16, 12))
    received = utc(2026, 4, 1, 10, 30)
    with fresh.transaction() as session:
        bad = {"transaction_id": "t", "external_subscription_id": "sub", "code": "nope"}
        create_batch(session, org.id, [bad], received)
    report = tick(fresh, utc(2026, 4, 1, 11, 5))
    assert (report.termination_alerts, report.events_errors, report.failures) == ([], [], [])
    with fresh.transaction(write=False) as session:
        assert session.scalar(select(Subscription.termination_alert_sent_on)) is None
        assert session.scalar(select(func.count()).select_from(EventValidationRun)) == 0
    # Someone starts listening later the same day: the day's alert and the hour's report
    # (not yet sent) go out.
    _listen(fresh, org, "subscription.termination_alert", "events.errors")
    report = tick(fresh, utc(2026, 4, 1, 11, 6))
    assert report.termination_alerts == ["sub"]
    assert report.events_errors == [str(org.id)]


def test_an_hour_is_the_events_received_from_its_start_to_its_end(fresh: Database) -> None:
    org = make_org(fresh)
    _listen(fresh, org, "events.errors")
    hour = utc(2026, 4, 1, 10)
    for name, received in (
        ("before", hour - timedelta(microseconds=1)),
        ("first", hour),
        ("last", hour + timedelta(minutes=59, seconds=59, microseconds=999_999)),
        ("next", hour + timedelta(hours=1)),
    ):
        with fresh.transaction() as session:
            event = {"transaction_id": name, "external_subscription_id": "s", "code": "nope",
                     # The event's own timestamp does not matter: its receipt does.
                     "timestamp": (hour - timedelta(days=3)).timestamp()}  # fmt: skip
            create_batch(session, org.id, [event], received)
    tick(fresh, hour + timedelta(hours=1, minutes=5))
    tick(fresh, hour + timedelta(hours=2, minutes=5))
    reports = [
        payload["events_errors"]["invalid_code"] for payload in _sent(fresh, "events.errors")
    ]
    assert reports == [["first", "last"], ["next"]]


def test_several_clocks_at_once_send_each_alert_and_report_once(fresh: Database) -> None:
    org = make_org(fresh)
    _listen(fresh, org, "subscription.termination_alert", "events.errors")
    Setup(fresh, org).plan("p", [])
    for number in range(20):
        _ending(fresh, org, f"sub-{number}", utc(2026, 4, 16, 12))
    with fresh.transaction() as session:
        events = [{"transaction_id": f"t{n}", "external_subscription_id": "s", "code": "nope"}
                  for n in range(20)]  # fmt: skip
        create_batch(session, org.id, events, utc(2026, 4, 1, 10, 30))
    clocks = 3
    start = threading.Barrier(clocks)
    reports: list[TickReport] = []
    errors: list[BaseException] = []
    databases = [fresh] + [Database(fresh.url, pool_size=2) for _ in range(clocks - 1)]
    for db in databases[1:]:
        share_event_store(fresh, db)

    def clock(db: Database, minute: int) -> None:
        try:
            start.wait()
            reports.append(tick(db, utc(2026, 4, 1, 11, 5 + minute)))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=clock, args=(db, n)) for n, db in enumerate(databases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db in databases[1:]:
        db.dispose()
    assert errors == []
    assert [failure for report in reports for failure in report.failures] == []
    alerted = sorted(external_id for report in reports for external_id in report.termination_alerts)
    assert alerted == sorted(f"sub-{number}" for number in range(20))
    assert len(_sent(fresh, "subscription.termination_alert")) == 20
    [report] = _sent(fresh, "events.errors")
    assert report["events_errors"]["invalid_code"] == [f"t{n}" for n in range(20)]
