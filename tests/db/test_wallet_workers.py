"""Clock workers and a paid top-up at once: a wallet's credits are spent exactly once,
invoices numbered once each, and no worker deadlocks on the wallet's lock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from sqlalchemy import func, select

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.invoices.models import Invoice
from meterbill.wallets.models import WalletTransaction
from tests.conftest import make_org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets

EVENTS = 30
WORKERS = 3


def test_concurrent_workers_spend_a_wallet_once(fresh: Database) -> None:
    org = make_org(fresh)
    wallets = Wallets(fresh, org)
    calls = wallets.metric("calls")
    wallets.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "1"}, "pay_in_advance": True}])  # fmt: skip
    wallets.customer("cus", timezone="UTC")
    wallets.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    wallets.tick(utc(2024, 1, 1, 1))
    wallet = wallets.wallet("cus", utc(2024, 1, 1, 2), granted_credits="20.5")
    wallets.events("sub", "calls", *((utc(2024, 1, 2, 0, minute), {}) for minute in range(EVENTS)))
    start = threading.Barrier(WORKERS + 1)
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> Callable[[], None]:
        def body() -> None:
            try:
                start.wait()
                job()
            except BaseException as error:
                errors.append(error)

        return body

    jobs = [run(lambda: tick(fresh, utc(2024, 1, 2, 5))) for _ in range(WORKERS)]
    jobs.append(run(lambda: wallets.top_up(wallet, utc(2024, 1, 2, 5), paid_credits="3")))
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with fresh.transaction(write=False) as session:
        invoices = list(session.scalars(select(Invoice).where(Invoice.organization_id == org.id)))
        spent = session.scalar(
            select(func.sum(WalletTransaction.amount_cents)).where(
                WalletTransaction.wallet_id == uuid.UUID(wallet),
                WalletTransaction.transaction_status == "invoiced",
            )
        )
    charges = [invoice for invoice in invoices if invoice.invoice_type == "subscription"]
    assert len(charges) == EVENTS
    assert len([i for i in invoices if i.invoice_type == "credit"]) == 1
    assert len({invoice.number for invoice in invoices}) == len(invoices)
    # 20.50 EUR of credits against 30 invoices of 1.00 EUR.
    assert spent == sum(invoice.prepaid_credit_amount_cents for invoice in charges) == 2050
    assert sum(invoice.total_amount_cents for invoice in charges) == EVENTS * 100 - 2050
    assert all(invoice.total_amount_cents >= 0 for invoice in charges)
    assert wallets.balance(wallet) == 0
