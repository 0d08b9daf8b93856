"""The dashboard's fixtures (tests/dashboard/conftest.py), and the invoices every test
of this folder starts from, made by the services and the clock as in production."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.invoices.scope import Scope
from tests.conftest import Org
from tests.dashboard.conftest import (  # noqa: F401  (fixtures)
    browser_client,
    chromium,
    client,
    clock,
    dashboard_app,
    user,
)
from tests.dashboard.test_customer_pages import rest
from tests.db.test_current_usage import Setup


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def run_clock(database: Database, org: Org, external_id: str, now: datetime) -> None:
    """The clock's jobs for one customer (the test database is shared)."""
    with database.transaction(write=False) as session:
        customer_id = session.scalars(
            select(Customer.id).where(
                Customer.organization_id == org.id, Customer.external_id == external_id
            )
        ).one()
    report = tick(database, now, Scope(customer_id, org.id))
    assert not report.failures, report.failures


def invoice_ids(html: str) -> list[str]:
    """The invoices a list shows, top to bottom."""
    return re.findall(r'<tr data-invoice="([^"]+)"', html)


@dataclass
class Invoices:
    """Six invoices of two customers, one per case the quick filters tell apart."""

    overdue: str  # acme's January subscription invoice: finalized, pending, overdue
    draft: str  # acme's February subscription invoice, in its grace period
    pending: str  # globex, one-off €50.00, finalized, payment pending
    succeeded: str  # globex, one-off €100.00, paid
    failed: str  # acme, one-off €150.00, payment failed
    voided: str  # globex, one-off €200.00, voided
    numbers: dict[str, str]

    def all(self) -> list[str]:
        return [self.overdue, self.draft, self.pending, self.succeeded, self.failed, self.voided]


def one_off(client: TestClient, org: Org, customer: str, units: int) -> dict[str, Any]:  # noqa: F811
    body = {"external_customer_id": customer, "currency": "EUR",
            "fees": [{"add_on_code": "setup", "units": units}]}  # fmt: skip
    return rest(client, org, "POST", "/invoices", {"invoice": body})["invoice"]  # type: ignore[no-any-return]


@pytest.fixture
def invoices(client: TestClient, database: Database, org: Org) -> Invoices:  # noqa: F811
    setup = Setup(database, org)
    seats = setup.metric("seats")
    setup.plan("basic", [{"billable_metric_id": seats, "charge_model": "standard",
                          "properties": {"amount": "2"}}], amount_cents=1_000)  # fmt: skip
    setup.customer("acme", name="Acme Corp", email="billing@acme.test", currency="EUR",
                   invoice_grace_period=3, timezone="UTC")  # fmt: skip
    setup.customer("globex", name="Globex", email="ap@globex.test", currency="EUR")
    setup.subscribe("acme", "basic", "acme-sub", utc(2032, 1, 1))
    setup.events("acme-sub", "seats", (utc(2032, 1, 10), {}))
    run_clock(database, org, "acme", utc(2032, 2, 1, 1))
    # A month later January's draft is finalized (grace period over) and overdue (due on
    # its issuing date, Feb 4); February's is the new draft.
    run_clock(database, org, "acme", utc(2032, 3, 1, 1))
    listed = rest(client, org, "GET", "/invoices?external_customer_id=acme")["invoices"]
    by_status = {invoice["status"]: invoice["lago_id"] for invoice in listed}
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 5_000, "amount_currency": "EUR"}
    rest(client, org, "POST", "/add_ons", {"add_on": add_on})
    pending = one_off(client, org, "globex", 1)
    succeeded = one_off(client, org, "globex", 2)
    failed = one_off(client, org, "acme", 3)
    voided = one_off(client, org, "globex", 4)
    for invoice, status in ((succeeded, "succeeded"), (failed, "failed")):
        body = {"invoice": {"payment_status": status}}
        rest(client, org, "PUT", f"/invoices/{invoice['lago_id']}", body)
    rest(client, org, "POST", f"/invoices/{voided['lago_id']}/void")
    every = rest(client, org, "GET", "/invoices")["invoices"]
    return Invoices(
        overdue=by_status["finalized"],
        draft=by_status["draft"],
        pending=pending["lago_id"],
        succeeded=succeeded["lago_id"],
        failed=failed["lago_id"],
        voided=voided["lago_id"],
        numbers={invoice["lago_id"]: invoice["number"] for invoice in every},
    )
