"""The Invoices list among many invoices, for bench/dashboard.py: invoices written in bulk
(one multi-row INSERT per 5,000, not through the API: a billing run would take hours) and
the list's filtered pages of 20 timed.

The invoices are spread over the bench's customers and three years, with Lago's mix of
statuses (drafts, finalized paid / pending / failed, some overdue, voided), types and two
currencies, so that each filter keeps a realistic share of them.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text

from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.invoices.models import Invoice

CHUNK = 5_000
# Filtered pages of 20, as a user asks for them: (label, query).
PAGES = [
    ("all invoices", ""),
    ("quick filter outstanding", "?status=outstanding"),
    ("overdue, in USD", "?status=overdue&currency=USD"),
    ("one customer (external id)", "?customer=bench-4242"),
    ("search a customer's name", "?search=Customer+4242"),
    ("search part of a number", "?search=B04242-"),
    ("one-off, failed, one quarter", "?invoice_type=one_off&payment_status=failed"
     "&issuing_date_from=2025-01-01&issuing_date_to=2025-03-31"),
    ("succeeded, amount 100-200", "?status=succeeded&amount_from=100&amount_to=200"),
    ("drafts, page 20", "?status=draft&page=20"),
]  # fmt: skip


def _status(rng: random.Random) -> tuple[str, str, bool]:
    """(status, payment_status, overdue) in Lago-like proportions."""
    roll = rng.random()
    if roll < 0.08:
        return "draft", "pending", False
    if roll < 0.12:
        return "voided", "pending", False
    payment = rng.choices(("succeeded", "pending", "failed"), (70, 22, 8))[0]
    return "finalized", payment, payment != "succeeded" and rng.random() < 0.4


def seed_invoices(db: Database, organization_id: Any, count: int, seed: int = 18) -> None:
    """`count` invoices for the organization's customers, oldest first."""
    rng = random.Random(seed)
    with db.transaction(write=False) as session:
        customers = session.execute(
            select(Customer.id, Customer.external_id, Customer.currency).where(
                Customer.organization_id == organization_id
            )
        ).all()
        # Numbers go on from the invoices already issued (the big customer's).
        issued = dict(
            session.execute(
                select(Invoice.customer_id, func.max(Invoice.sequential_id))
                .where(Invoice.organization_id == organization_id)
                .group_by(Invoice.customer_id)
            ).all()
        )
        organization_sequence = session.scalar(
            select(func.max(Invoice.organization_sequential_id)).where(
                Invoice.organization_id == organization_id
            )
        )
    sequences = {customer_id: issued.get(customer_id) or 0 for customer_id, _e, _c in customers}
    organization_sequence = organization_sequence or 0
    first_day = date(2023, 1, 1)
    started = datetime(2023, 1, 1, tzinfo=UTC)
    table = Invoice.__table__
    for first in range(0, count, CHUNK):
        rows = []
        for index in range(first, min(first + CHUNK, count)):
            customer_id, external_id, _currency = customers[rng.randrange(len(customers))]
            status, payment_status, overdue = _status(rng)
            issued = first_day + timedelta(days=index * 1095 // count)
            sequential = None
            short = f"B{external_id.removeprefix('bench-'):0>5}"
            number = f"BEN-{short}-DRAFT"
            if status != "draft":
                sequences[customer_id] += 1
                organization_sequence += 1
                sequential = sequences[customer_id]
                number = f"BEN-{short}-{sequential:03d}"
            amount = rng.randrange(100, 500_000)
            taxes = amount // 5
            created = started + timedelta(seconds=index * 94_608_000 // count)
            rows.append({
                "id": uuid.uuid4(), "organization_id": organization_id,
                "customer_id": customer_id, "sequential_id": sequential,
                "organization_sequential_id": organization_sequence if sequential else None,
                "number": number,
                "invoice_type": rng.choices(("subscription", "one_off", "credit"), (85, 10, 5))[0],
                "status": status, "payment_status": payment_status, "payment_overdue": overdue,
                "currency": "USD" if rng.random() < 0.1 else "EUR",
                "issuing_date": issued, "payment_due_date": issued + timedelta(days=30),
                "net_payment_term": 30, "billing_date": issued,
                "fees_amount_cents": amount, "sub_total_excluding_taxes_amount_cents": amount,
                "taxes_amount_cents": taxes, "taxes_rate": Decimal(20),
                "sub_total_including_taxes_amount_cents": amount + taxes,
                "total_amount_cents": amount + taxes,
                "total_paid_amount_cents": amount + taxes if payment_status == "succeeded" else 0,
                "voided_at": created if status == "voided" else None,
                "finalized_at": created if status != "draft" else None,
                "created_at": created, "updated_at": created,
            })  # fmt: skip
        with db.transaction() as session:
            session.execute(insert(table), rows)
    if not db.sqlite:
        # What autovacuum does after a bulk insert (PostgreSQL 13 on vacuums tables that
        # only grow): the visibility map lets counts read the indexes alone.
        with db.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text("VACUUM (ANALYZE) invoices"))


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc)."""
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            waiting.extend(int(child) for child in task.read_text().split())
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def time_invoice_list(
    web: httpx.Client,
    requests: int,
    timed: Callable[[httpx.Client, str, int], tuple[list[float], httpx.Response]],
    report: Callable[[str, list[float], float], None],
    working: Callable[[], list[int]],
) -> None:
    """Each filtered page: its latencies (p50, p95), and the CPU time the server and the
    database spent per request (`working`: their process ids). On a machine shared with
    other work the latencies include waiting for a core; the CPU time does not."""
    for label, query in PAGES:
        pids = working()
        before = cpu_seconds(pids)
        samples, response = timed(web, f"/invoices{query}", requests)
        spent = (cpu_seconds(pids) - before) / (requests + 1) * 1000
        shown = response.text.count("<tr data-invoice=")
        total = response.text.split('class="count">', 1)[1].split("<", 1)[0]
        report(f"invoices: {label} ({shown} of {total})", samples, 80)
        print(f"    CPU per request (server and database): {spent:.1f} ms")
