"""A clock batch writes its invoices in one flush: what one invoice of the batch reads
of another (coupon uses, sequence numbers) must still come out as if billed one by one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.coupons.models import AppliedCoupon
from meterbill.customers.models import Customer
from meterbill.invoices import billing as billing_module
from meterbill.invoices.models import Invoice
from tests.conftest import Org, make_org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.wallets import Wallets


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


def test_missed_months_billed_in_one_batch_share_a_coupon_and_number_in_order(
    billing: Billing,
) -> None:
    billing.plan("p", [], amount_cents=4_900)
    for customer in ("a", "b"):
        billing.customer(customer, timezone="UTC")
        billing.subscribe(customer, "p", f"sub-{customer}", utc(2024, 1, 1))
    billing.coupon("ten", coupon_type="fixed_amount", amount_cents=10_000,
                   amount_currency="EUR", frequency="once")  # fmt: skip
    billing.apply("a", "ten", utc(2024, 1, 2))
    billing.tick(utc(2024, 2, 1, 1))
    # No clock for two months: March and April are billed by one tick, in one batch.
    billing.tick(utc(2024, 4, 1, 1))
    a, b = billing.invoices("a"), billing.invoices("b")
    assert [(i.billing_date.isoformat(), i.coupons_amount_cents, i.total_amount_cents)
            for i in a] == [("2024-02-01", 4_900, 0), ("2024-03-01", 4_900, 0),
                            ("2024-04-01", 200, 4_700)]  # fmt: skip
    assert [i.total_amount_cents for i in b] == [4_900, 4_900, 4_900]
    # April took the last 200 it had: used up, the coupon ends with that invoice.
    with billing.database.transaction(write=False) as session:
        assert session.scalars(
            select(AppliedCoupon.status)
            .join(Customer, Customer.id == AppliedCoupon.customer_id)
            .where(Customer.organization_id == billing.org.id, Customer.external_id == "a")
        ).all() == ["terminated"]
    assert [i.number.rsplit("-", 1)[1] for i in a] == ["001", "002", "003"]
    assert [i.number.rsplit("-", 1)[1] for i in b] == ["001", "002", "003"]
    assert len({i.number for i in a + b}) == 6
    assert billing.tick(utc(2024, 4, 1, 2)).billing.invoices == []
    with billing.database.transaction(write=False) as session:
        sequences = sorted(
            session.scalars(
                select(Invoice.organization_sequential_id).where(
                    Invoice.organization_id == billing.org.id
                )
            )
        )
    assert sequences == [1, 2, 3, 4, 5, 6]


def test_missed_months_billed_in_one_batch_spend_a_wallet_once(
    database: Database, org: Org
) -> None:
    wallets = Wallets(database, org)
    wallets.plan("p", [], amount_cents=4_900)
    wallets.customer("cus", timezone="UTC")
    wallets.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    wallet = wallets.wallet("cus", utc(2024, 1, 1), granted_credits="60")
    # One tick bills February, March and April in one batch: each invoice must see
    # what the one before took from the wallet.
    wallets.tick(utc(2024, 4, 1, 1))
    assert [(i.billing_date.isoformat(), i.total_amount_cents)
            for i in wallets.invoices("cus")] == [
        ("2024-02-01", 0), ("2024-03-01", 3_800), ("2024-04-01", 4_900)]  # fmt: skip
    assert wallets.balance(wallet) == 0
    assert [t.amount_cents for t in wallets.transactions(wallet)
            if t.transaction_status == "invoiced"] == [4_900, 1_100]  # fmt: skip


def test_a_customers_subscriptions_stay_in_one_batch_and_on_one_invoice(
    fresh: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With batches of 3, subscriptions two by two would straddle a batch boundary
    (whatever the customers' order): each customer still gets one invoice for both.
    (The CI run found it: other tests' subscriptions moved a boundary between two.)"""
    monkeypatch.setattr(billing_module, "BATCH", 3)
    billing = Billing(fresh, make_org(fresh))
    billing.plan("p", [], amount_cents=1_000)
    for customer in ("a", "b", "c"):
        billing.customer(customer, timezone="UTC")
        for n in (1, 2):
            billing.subscribe(customer, "p", f"{customer}{n}", utc(2024, 1, 1))
    billing.tick(utc(2024, 2, 1, 1))
    invoices = billing.invoices()
    assert sorted(invoice.customer for invoice in invoices) == ["a", "b", "c"]
    assert [len(invoice.periods) for invoice in invoices] == [2, 2, 2]
    assert [invoice.fees_amount_cents for invoice in invoices] == [2_000, 2_000, 2_000]
