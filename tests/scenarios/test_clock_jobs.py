"""Clock jobs around billing: overdue invoices, expiring coupons, yearly plans billing
their charges monthly (billing.md §4.5, §7, §13)."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.invoices.service import update_invoice
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


def test_unpaid_invoices_become_overdue_after_their_due_date(
    billing: Billing, http: httpx.Client
) -> None:
    billing.plan("p", [], amount_cents=1000)
    for customer in ("late", "paid"):
        billing.customer(customer, timezone="UTC", net_payment_term=5)
        billing.subscribe(customer, "p", f"sub-{customer}", utc(2024, 1, 1))
    billing.tick(utc(2024, 2, 1, 1))
    late, paid = billing.invoices("late")[0], billing.invoices("paid")[0]
    assert (late.issuing_date.isoformat(), late.payment_due_date.isoformat()) == (
        "2024-02-01", "2024-02-06")  # fmt: skip
    with billing.database.transaction() as session:
        update_invoice(session, billing.org.id, str(paid.id), "succeeded", None, utc(2024, 2, 2))
    ours = {late.number, paid.number}

    def flagged(at: datetime) -> list[str]:
        # The shared test database holds other tests' invoices: look at ours only.
        return [number for number in billing.tick(at).overdue if number in ours]

    assert flagged(utc(2024, 2, 6, 23)) == []
    assert flagged(utc(2024, 2, 7, 1)) == [late.number]
    assert flagged(utc(2024, 2, 8, 1)) == []
    body = http.get("/invoices", params={"payment_overdue": "true"}).json()
    assert [invoice["number"] for invoice in body["invoices"]] == [late.number]
    assert body["invoices"][0]["payment_overdue"] is True


def test_expired_coupon_is_terminated_but_keeps_applying_where_applied(
    billing: Billing, http: httpx.Client
) -> None:
    billing.plan("p", [], amount_cents=1000)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    billing.coupon("spring", coupon_type="fixed_amount", amount_cents=100, amount_currency="EUR",
                   frequency="forever", expiration="time_limit",
                   expiration_at="2024-02-15T00:00:00Z")  # fmt: skip
    billing.apply("cus", "spring", utc(2024, 1, 2))
    assert "spring" not in billing.tick(utc(2024, 2, 14, 23)).expired_coupons
    assert billing.coupon_status("spring") == "active"
    billing.tick(utc(2024, 2, 15, 1))
    assert billing.coupon_status("spring") == "terminated"
    assert http.get("/coupons/spring").json()["coupon"]["terminated_at"] is not None
    billing.tick(utc(2024, 3, 1, 1))
    assert [invoice.coupons_amount_cents for invoice in billing.invoices("cus")] == [100, 100]
    billing.customer("new", timezone="UTC")
    response = http.post("/applied_coupons", json={
        "applied_coupon": {"external_customer_id": "new", "coupon_code": "spring"}})  # fmt: skip
    assert response.status_code == 404


def test_yearly_plan_billing_charges_monthly(billing: Billing) -> None:
    calls = billing.metric("calls")
    billing.plan("y", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "1"}}],
                 interval="yearly", amount_cents=120_000, pay_in_advance=True,
                 bill_charges_monthly=True)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "y", "sub", utc(2024, 1, 1))
    billing.events("sub", "calls", *((utc(2024, 1, day), {}) for day in (3, 4, 5)))
    billing.events("sub", "calls", (utc(2024, 2, 10), {}))
    billing.events("sub", "calls", (utc(2024, 12, 24), {}))
    for month in range(2, 13):
        billing.tick(utc(2024, month, 1, 1))
    billing.tick(utc(2025, 1, 1, 1))
    invoices = billing.invoices("cus")
    rows = [(invoice.billing_date.isoformat(),
             sorted((fee.item_code, fee.amount_cents) for fee in invoice.fees))
            for invoice in invoices]  # fmt: skip
    assert rows[0] == ("2024-01-01", [("y", 120_000)])
    assert rows[1] == ("2024-02-01", [("calls", 300)])
    assert rows[2] == ("2024-03-01", [("calls", 100)])
    # Months without usage bill no charge line.
    assert all(fees == [] for _day, fees in rows[3:12])
    assert rows[12] == ("2025-01-01", [("calls", 100), ("y", 120_000)])
    assert len(rows) == 13
