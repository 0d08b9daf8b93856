"""One billing run: N active subscriptions with usage, one `tick` at a period boundary.

    .venv/bin/python bench/billing_run.py [--sqlite] [--subscriptions 10000] [--events 10]
                                          [--events-url chdb:]
                                          [--coupons] [--webhooks]

Each subscription is on a monthly plan (fixed fee, a sum charge and a count charge,
a 20 % tax) and has `--events` events in January 2024; with `--coupons`, every customer also has a
once-only fixed coupon of 10.00 EUR (larger than no invoice: each ends used up or
not); with `--webhooks`, the organization has one webhook endpoint subscribed to every
type, so that the tick also writes its webhooks to the outbox (their payloads are
rendered after the run: that time is printed apart). The timed part is one
`tick(now=2024-02-01T01:00Z)`, which bills and finalizes every subscription. Prints
seconds, invoices per second and the process's peak memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import func, select

from meterbill import event_store
from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.coupons.models import AppliedCoupon, Coupon
from meterbill.customers.models import Customer
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events
from meterbill.invoices.models import Fee, Invoice
from meterbill.metrics.schemas import parse_metric
from meterbill.metrics.service import create_metric
from meterbill.migrations.runner import upgrade
from meterbill.organizations.service import create_organization
from meterbill.plans.schemas import parse_plan
from meterbill.plans.service import create_plan
from meterbill.settings import Settings
from meterbill.subscriptions.models import Subscription
from meterbill.taxes.schemas import parse_tax
from meterbill.taxes.service import create_tax
from meterbill.webhooks.models import Webhook
from meterbill.webhooks.outbox import materialize
from meterbill.webhooks.service import create_endpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import fresh_postgres

START = datetime(2024, 1, 1, tzinfo=UTC)
BILLING = datetime(2024, 2, 1, 1, tzinfo=UTC)


def populate(
    db: Database, subscriptions: int, events_each: int, coupons: bool, webhooks: bool
) -> None:
    with db.transaction() as session:
        organization = create_organization(session, "Bench", START)
        org_id = organization.id
        if webhooks:
            # No event_types: subscribed to everything.
            endpoint = {"webhook_url": "http://127.0.0.1:9/hooks", "signature_algo": "hmac"}
            create_endpoint(session, org_id, endpoint, START)
        body = {"name": "VAT", "code": "vat", "rate": "20", "applied_to_organization": True}
        create_tax(session, org_id, parse_tax(body, creating=True), START)
        storage = create_metric(session, org_id, parse_metric({
            "name": "Storage", "code": "storage", "aggregation_type": "sum_agg",
            "field_name": "gb"}, creating=True), START)  # fmt: skip
        calls = create_metric(session, org_id, parse_metric({
            "name": "Calls", "code": "calls", "aggregation_type": "count_agg"},
            creating=True), START)  # fmt: skip
        plan = create_plan(session, org_id, parse_plan({
            "name": "Pro", "code": "pro", "interval": "monthly", "amount_cents": 4_900,
            "amount_currency": "EUR", "charges": [
                {"billable_metric_id": str(storage.id), "charge_model": "standard",
                 "properties": {"amount": "0.5"}},
                {"billable_metric_id": str(calls.id), "charge_model": "graduated",
                 "properties": {"graduated_ranges": [
                     {"from_value": 0, "to_value": 5, "per_unit_amount": "0",
                      "flat_amount": "0"},
                     {"from_value": 6, "to_value": None, "per_unit_amount": "0.1",
                      "flat_amount": "1"}]}},
            ]}, creating=True), START)  # fmt: skip
        plan_id = plan.id
        coupon_id = None
        if coupons:
            coupon = Coupon(organization_id=org_id, name="Ten", code="ten",
                            coupon_type="fixed_amount", amount_cents=1_000,
                            amount_currency="EUR", frequency="once", expiration="no_expiration",
                            created_at=START, updated_at=START)  # fmt: skip
            session.add(coupon)
            session.flush()
            coupon_id = coupon.id
    # Customers and subscriptions go in straight: the API's per-row cost is not what
    # this benchmark measures.
    chunk = 2_000
    for first in range(0, subscriptions, chunk):
        with db.transaction() as session:
            applied = []
            for index in range(first, min(first + chunk, subscriptions)):
                customer_id = uuid.uuid4()
                session.add(Customer(
                    id=customer_id, organization_id=org_id, external_id=f"cus_{index}",
                    sequential_id=index + 1, slug=f"BEN-{index + 1:04d}", currency="EUR",
                    created_at=START, updated_at=START))  # fmt: skip
                session.add(Subscription(
                    organization_id=org_id, customer_id=customer_id, plan_id=plan_id,
                    external_id=f"sub_{index}", status="active", billing_time="calendar",
                    subscription_at=START, started_at=START, created_at=START,
                    updated_at=START))  # fmt: skip
                applied.append(customer_id)
            # Applied coupons have no relationship to order them after their customers.
            session.flush()
            for customer_id in applied if coupon_id is not None else []:
                session.add(AppliedCoupon(
                    organization_id=org_id, coupon_id=coupon_id, customer_id=customer_id,
                    amount_cents=1_000, amount_currency="EUR", frequency="once",
                    created_at=START, updated_at=START))  # fmt: skip
    for first in range(0, subscriptions, 1_000):
        rows = [
            EventInput(f"e{index}-{n}", f"sub_{index}", "storage" if n % 2 else "calls",
                       START + timedelta(days=n % 31, hours=index % 24), {"gb": n + 1}, None)
            for index in range(first, min(first + 1_000, subscriptions))
            for n in range(events_each)
        ]  # fmt: skip
        with db.transaction() as session:
            insert_events(session, org_id, rows, START)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10, help="events per subscription")
    parser.add_argument("--coupons", action="store_true", help="a once coupon per customer")
    parser.add_argument("--webhooks", action="store_true", help="an endpoint for every type")
    parser.add_argument(
        "--events-url", help="an event store (clickhouse://..., chdb: in process) for the events"
    )
    parser.add_argument(
        "--postgres-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        if args.sqlite:
            url = f"sqlite:///{tmp}/bench.db"
        else:
            url = fresh_postgres(args.postgres_admin, "meterbill_bench_billing")
        upgrade(url)
        db = Database(url, pool_size=4)
        event_store.configure(Settings(database_url=url, events_url=args.events_url), db)
        started = time.perf_counter()
        populate(db, args.subscriptions, args.events, args.coupons, args.webhooks)
        setup_seconds = time.perf_counter() - started
        events = args.subscriptions * args.events
        print(
            f"setup: {args.subscriptions} subscriptions, {events} events in {setup_seconds:.1f} s"
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        report = tick(db, BILLING)
        elapsed = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with db.transaction(write=False) as session:
            invoices = session.scalar(select(func.count()).select_from(Invoice))
            fees = session.scalar(select(func.count()).select_from(Fee))
            total = session.scalar(select(func.sum(Invoice.total_amount_cents)))
            webhooks = session.scalar(select(func.count()).select_from(Webhook))
        rendering = 0.0
        if args.webhooks:
            # What the delivery loop does at its claims: render the run's deferred
            # payloads, 200 at a time (outside the tick, in the worker).
            started = time.perf_counter()
            while True:
                with db.transaction() as session:
                    unrendered = select(Webhook.id).where(Webhook.payload.is_(None))
                    ids = list(session.scalars(unrendered.limit(200)))
                    if not ids:
                        break
                    materialize(session, webhook_ids=ids)
            rendering = time.perf_counter() - started
        again = time.perf_counter()
        second = tick(db, BILLING + timedelta(hours=1))
        idle = time.perf_counter() - again
        db.dispose()
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"{backend}: tick billed {len(report.billing.invoices)} invoices "
          f"({invoices} in the database, {fees} fees, total {total} cents) "
          f"in {elapsed:.1f} s = {invoices / elapsed:.0f} invoices/s (target <= 60 s)")  # fmt: skip
    print(f"webhooks written to the outbox: {webhooks}")
    if args.webhooks:
        print(f"their payloads rendered after the tick (as the delivery loop's claims do): "
              f"{rendering:.1f} s")  # fmt: skip
    print(f"peak RSS {rss_after / 1024:.0f} MB (before the tick {rss_before / 1024:.0f} MB)")
    print(f"next tick, nothing due: {len(second.billing.invoices)} invoices in {idle:.1f} s")


if __name__ == "__main__":
    main()
