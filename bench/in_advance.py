"""Pay-in-advance fees and fee estimates through the event store, relational or ClickHouse.

    .venv/bin/python bench/in_advance.py [--store sql|chdb] [--subscriptions 100]
                                         [--events 20] [--calls 20]

--subscriptions subscriptions of one plan with a pay-in-advance count charge (standalone
fees) and a sum charge that is not, each with --events events of the charge's code and
as many of the other; SQLite holds the relational records, chdb on disk the events with
--store chdb. Measured: the first clock pass pricing every event (fees/s), then the
search for pending events once all are priced (the cost every tick pays), then one new
late event found and priced, then --calls estimates (POST /events/estimate_fees's
service). Every fee is checked: one per event, 100 cents each.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import func, select

from meterbill import event_store
from meterbill.core.db import Database
from meterbill.customers.schemas import parse_customer
from meterbill.customers.service import upsert_customer
from meterbill.events.schemas import EventInput
from meterbill.events.service import NewEvent, insert_many
from meterbill.invoices.in_advance import InAdvanceReport, bill_pending_events
from meterbill.invoices.models import Fee
from meterbill.metrics.schemas import parse_metric
from meterbill.metrics.service import create_metric
from meterbill.migrations.runner import upgrade
from meterbill.organizations.service import create_organization
from meterbill.plans.schemas import parse_plan
from meterbill.plans.service import create_plan
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from meterbill.usage.estimate import EstimateInput, estimate_fees

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import percentile

START = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def setup(db: Database, subscriptions: int) -> uuid.UUID:
    with db.transaction() as session:
        organization_id = create_organization(session, "Bench", START).id
        calls = create_metric(session, organization_id, parse_metric(
            {"name": "Calls", "code": "calls", "aggregation_type": "count_agg"},
            creating=True), START)  # fmt: skip
        gb = create_metric(session, organization_id, parse_metric(
            {"name": "Gb", "code": "gb", "aggregation_type": "sum_agg", "field_name": "gb"},
            creating=True), START)  # fmt: skip
        create_plan(session, organization_id, parse_plan({
            "name": "P", "code": "p", "interval": "monthly", "amount_cents": 0,
            "amount_currency": "EUR", "charges": [
                {"billable_metric_id": str(calls.id), "charge_model": "standard",
                 "pay_in_advance": True, "invoiceable": False, "properties": {"amount": "1"}},
                {"billable_metric_id": str(gb.id), "charge_model": "standard",
                 "properties": {"amount": "1"}},
            ]}, creating=True), START)  # fmt: skip
    for index in range(subscriptions):
        with db.transaction() as session:
            upsert_customer(session, organization_id,
                            parse_customer({"external_id": f"cus_{index}", "timezone": "UTC"}),
                            START)  # fmt: skip
            create_subscription(session, organization_id, parse_subscription(
                {"external_customer_id": f"cus_{index}", "plan_code": "p",
                 "external_id": f"sub_{index}", "subscription_at": START.isoformat()},
                creating=True), START)  # fmt: skip
    return organization_id


def send(db: Database, organization_id: uuid.UUID, events: list[EventInput]) -> None:
    for first in range(0, len(events), 2000):
        with db.transaction() as session:
            insert_many(session, [NewEvent(organization_id, e, NOW) for e in
                                  events[first : first + 2000]])  # fmt: skip


def fees(db: Database) -> tuple[int, int]:
    with db.transaction(write=False) as session:
        count, total = session.execute(select(func.count(), func.sum(Fee.amount_cents))).one()
    return int(count), int(total or 0)


def run(store: str, subscriptions: int, per_subscription: int, calls: int) -> None:
    with TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        db = Database(url, pool_size=2)
        if store == "chdb":
            from meterbill.event_store.clickhouse import open_store

            event_store.use(db.engine, open_store(f"chdb://{tmp}/clickhouse"))  # type: ignore[arg-type]
        organization_id = setup(db, subscriptions)
        made = []
        for index in range(per_subscription):
            for sub in range(subscriptions):
                at = START + timedelta(days=1, minutes=index * 7 + sub % 7)
                made.append(EventInput(f"c{sub}-{index}", f"sub_{sub}", "calls", at, {}, None))
                made.append(EventInput(f"g{sub}-{index}", f"sub_{sub}", "gb", at, {"gb": 2}, None))
        send(db, organization_id, made)
        priced = subscriptions * per_subscription

        began = time.perf_counter()
        report = InAdvanceReport()
        bill_pending_events(db, NOW, report)
        elapsed = time.perf_counter() - began
        assert not report.failures, report.failures[:3]
        assert fees(db) == (priced, priced * 100), fees(db)
        print(f"{store}: {priced} events priced in {elapsed:.1f} s ({priced / elapsed:.0f} fees/s)")

        samples = []
        for _ in range(calls):
            began = time.perf_counter()
            report = InAdvanceReport()
            bill_pending_events(db, NOW, report)
            samples.append((time.perf_counter() - began) * 1000)
            assert not report.fees
        print(f"{store}: a tick with nothing pending ({priced} priced events): "
              f"p50 {percentile(samples, 0.5):.1f} ms, max {max(samples):.1f} ms")  # fmt: skip

        late = EventInput("late", "sub_0", "calls", START + timedelta(hours=1), {}, None)
        send(db, organization_id, [late])
        began = time.perf_counter()
        report = InAdvanceReport()
        bill_pending_events(db, NOW, report)
        elapsed = (time.perf_counter() - began) * 1000
        assert len(report.fees) == 1 and fees(db) == (priced + 1, (priced + 1) * 100)
        print(f"{store}: a late event found and priced in {elapsed:.1f} ms")

        samples = []
        wanted = EstimateInput("calls", "sub_1", {})
        for _ in range(calls):
            began = time.perf_counter()
            [fee] = estimate_fees(db, organization_id, wanted, NOW)
            samples.append((time.perf_counter() - began) * 1000)
            assert fee["amount_cents"] == 100
        assert fees(db) == (priced + 1, (priced + 1) * 100)
        print(f"{store}: estimate_fees p50 {percentile(samples, 0.5):.1f} ms, "
              f"max {max(samples):.1f} ms over {calls} calls")  # fmt: skip
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=("sql", "chdb"), default="sql")
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    run(args.store, args.subscriptions, args.events, args.calls)


if __name__ == "__main__":
    main()
