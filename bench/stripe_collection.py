"""Collecting through Stripe: how fast the clock charges finalized invoices, and what
its payment-provider steps cost a tick with nothing to send.

    .venv/bin/python bench/stripe_collection.py [--invoices 1000] [--idle 10000]
                                                [--latency 0.3] [--concurrency 8]

Against the tests' fake Stripe (a local HTTP server). `--invoices` finalized one-off
invoices of customers known at Stripe are collected by the clock's steps: prints
invoices per second, each Stripe answer taking `--latency` seconds (Stripe's own,
roughly; three calls per invoice) with `--concurrency` calls in flight
(METERBILL_STRIPE_CONCURRENCY). Then `--idle` more finalized invoices of customers
without a provider: prints how long the provider steps of a tick take when there is
nothing to send.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from meterbill.add_ons.schemas import parse_add_on
from meterbill.add_ons.service import create_add_on
from meterbill.clock import TickReport
from meterbill.core.db import Database
from meterbill.customers.schemas import parse_customer
from meterbill.customers.service import upsert_customer
from meterbill.invoices.one_off import create_one_off_invoice, parse_one_off
from meterbill.migrations.runner import upgrade
from meterbill.organizations.service import create_organization
from meterbill.payment_providers import jobs
from meterbill.payment_providers.options import ProviderOptions
from meterbill.payment_providers.schemas import parse_connection
from meterbill.payment_providers.secrets import generate_key
from meterbill.payment_providers.service import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fake_stripe import running_fake_stripe

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _invoices(db: Database, organization: uuid.UUID, count: int, stripe_ids: list[str]) -> None:
    for index in range(count):
        billing = {"payment_provider": "stripe", "provider_customer_id": stripe_ids[index]}
        if not stripe_ids[index]:
            billing = {}
        with db.transaction() as session:
            external_id = f"cus-{uuid.uuid4().hex[:12]}"
            body = {"external_id": external_id, "billing_configuration": billing}
            upsert_customer(session, organization, parse_customer(body), NOW)
            fees = [{"add_on_code": "setup", "units": 1}]
            data = parse_one_off({"external_customer_id": external_id, "currency": "EUR",
                                  "fees": fees})  # fmt: skip
            create_one_off_invoice(session, organization, data, NOW)


def _steps(db: Database, options: ProviderOptions) -> TickReport:
    report = TickReport()
    for step in (jobs.register_provider_webhooks, jobs.sync_provider_customers,
                 jobs.collect_payments, jobs.refund_through_providers):  # fmt: skip
        step(db, NOW, options, report.payments)
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    key = generate_key()
    with TemporaryDirectory() as folder, running_fake_stripe() as fake:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        db = Database(url, pool_size=4)
        options = ProviderOptions(
            encryption_key=key,
            stripe_api_base=fake.url,
            network_retries=0,
            concurrency=args.concurrency,
        )
        secret_key = "sk_test_bench0000"
        with db.transaction() as session:
            organization = create_organization(session, "Bench", NOW).id
            body = {"name": "Setup", "code": "setup", "amount_cents": 10_000,
                    "amount_currency": "EUR"}  # fmt: skip
            create_add_on(session, organization, parse_add_on(body, creating=True), NOW)
            data = parse_connection(
                {"code": "stripe", "name": "Stripe", "secret_key": secret_key}, creating=True
            )
            connect(session, organization, data, options.box(), NOW)
        stripe_ids = [fake.add_customer(secret_key) for _ in range(args.invoices)]
        _invoices(db, organization, args.invoices, stripe_ids)
        fake.latency = args.latency
        collected = 0
        started = time.perf_counter()
        while collected < args.invoices:
            report = _steps(db, options)
            done = len(report.payments.collection.succeeded)
            if done == 0:
                break
            collected += done
        elapsed = time.perf_counter() - started
        charges = len(fake.account(secret_key).charges)
        fake.latency = 0
        print(f"collected {collected} invoices ({charges} charges), Stripe answering in "
              f"{args.latency * 1000:.0f} ms, {args.concurrency} in flight: {elapsed:.2f} s, "
              f"{collected / elapsed:.0f} invoices/s")  # fmt: skip
        _invoices(db, organization, args.idle, [""] * args.idle)
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            _steps(db, options)
            timings.append(time.perf_counter() - started)
        timings.sort()
        print(f"provider steps of a tick with nothing to send, {args.idle} other invoices: "
              f"median {timings[2] * 1000:.1f} ms, max {timings[-1] * 1000:.1f} ms")  # fmt: skip
        db.dispose()


if __name__ == "__main__":
    main()
