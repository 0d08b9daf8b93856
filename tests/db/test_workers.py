"""Several clock workers at once against one database bill every period exactly once."""

from __future__ import annotations

import threading

from sqlalchemy import select, update

from meterbill.clock import TickReport, tick
from meterbill.core.db import Database
from meterbill.invoices.models import Fee, Invoice
from meterbill.plans.models import Plan
from tests.conftest import make_org
from tests.db.test_current_usage import Setup, utc

SUBSCRIPTIONS = 60
WORKERS = 3


def test_concurrent_ticks_bill_each_subscription_once(fresh: Database) -> None:
    org = make_org(fresh)
    setup = Setup(fresh, org)
    calls = setup.metric("calls")
    setup.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": "1"}}], amount_cents=1000)  # fmt: skip
    for n in range(SUBSCRIPTIONS):
        setup.customer(f"c{n}", timezone="UTC")
        setup.subscribe(f"c{n}", "p", f"s{n}", utc(2024, 1, 1))
        if n % 4:
            setup.events(f"s{n}", "calls", *((utc(2024, 1, 2 + i), {}) for i in range(n % 4)))
    start = threading.Barrier(WORKERS)
    reports: list[TickReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            reports.append(tick(fresh, utc(2024, 2, 1, 1)))
        except BaseException as error:  # surfaced below, with the thread's traceback lost
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    billed = [invoice for report in reports for invoice in report.billing.invoices]
    assert len(billed) == len(set(billed)) == SUBSCRIPTIONS
    with fresh.transaction(write=False) as session:
        invoices = list(session.scalars(select(Invoice).where(Invoice.organization_id == org.id)))
        fees = list(session.scalars(select(Fee).where(Fee.organization_id == org.id)))
    assert len(invoices) == SUBSCRIPTIONS
    assert sorted(invoice.organization_sequential_id or 0 for invoice in invoices) == list(
        range(1, SUBSCRIPTIONS + 1)
    )
    assert len({invoice.number for invoice in invoices}) == SUBSCRIPTIONS
    # 10.00 a month each, plus 1.00 a call: 0, 1, 2 or 3 calls.
    assert sum(invoice.total_amount_cents for invoice in invoices) == (
        SUBSCRIPTIONS * 1000 + sum(n % 4 for n in range(SUBSCRIPTIONS)) * 100
    )
    assert len([fee for fee in fees if fee.fee_type == "subscription"]) == SUBSCRIPTIONS
    # A later tick finds nothing left to bill.
    assert tick(fresh, utc(2024, 2, 1, 5)).billing.invoices == []


def test_concurrent_ticks_record_an_unbillable_subscription_once(fresh: Database) -> None:
    org = make_org(fresh)
    setup = Setup(fresh, org)
    setup.plan("p", [], amount_cents=1000)
    setup.plan("q", [], amount_cents=1000)
    for n in range(SUBSCRIPTIONS):
        setup.customer(f"c{n}", timezone="UTC")
        setup.subscribe(f"c{n}", "q" if n == 7 else "p", f"s{n}", utc(2024, 1, 1))
    with fresh.transaction() as session:
        # A trial past year 9999, stored before the API bounded it.
        session.execute(update(Plan).where(Plan.code == "q").values(trial_period=99_999_999))
    start = threading.Barrier(WORKERS)
    reports: list[TickReport] = []

    def worker() -> None:
        start.wait()
        reports.append(tick(fresh, utc(2024, 2, 1, 1)))

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == WORKERS
    # A subscription another job held (bill_ended_trials locks trial subscriptions) is
    # skipped by the billing of that tick: one more tick bills whatever was skipped.
    reports.append(tick(fresh, utc(2024, 2, 1, 1)))
    # Recorded once, whichever worker did; retried by any worker that came after.
    billing_failures = [
        failure for report in reports for failure in report.failures
        if failure.job == "bill_due_subscriptions"
    ]  # fmt: skip
    assert [failure.error for failure in billing_failures] == [
        "OverflowError: date value out of range"
    ]
    with fresh.transaction(write=False) as session:
        statuses = sorted(
            session.scalars(select(Invoice.status).where(Invoice.organization_id == org.id))
        )
        sequences = sorted(
            session.scalars(
                select(Invoice.organization_sequential_id).where(Invoice.status == "finalized")
            )
        )
    assert statuses == ["failed"] + ["finalized"] * (SUBSCRIPTIONS - 1)
    # Numbered without a gap: the failed invoice took no number.
    assert sequences == list(range(1, SUBSCRIPTIONS))
