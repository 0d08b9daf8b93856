"""The wallets' clock jobs (billing.md §9.1-§9.2, §13): interval and threshold top-ups,
wallet and rule expiry; and the customer-deletion hook that ends a customer's wallets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from meterbill.core.db import Database
from meterbill.customers.service import find_customer
from meterbill.wallets.jobs import is_anniversary
from meterbill.wallets.service import terminate_customer_wallets
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets


@pytest.fixture
def wallets(database: Database, org: Org) -> Wallets:
    return Wallets(database, org)


def _usage(wallets: Wallets, calls: int) -> None:
    """A customer on a plan billing 3 EUR a call in arrears, with `calls` calls in January."""
    metric = wallets.metric("calls")
    wallets.plan("m", [{"billable_metric_id": metric, "charge_model": "standard",
                        "properties": {"amount": "3"}}])  # fmt: skip
    wallets.customer("cus", timezone="UTC")
    wallets.subscribe("cus", "m", "sub", utc(2024, 1, 1))
    wallets.tick(utc(2024, 1, 1, 1))
    wallets.events("sub", "calls", *((utc(2024, 1, 10, hour), {}) for hour in range(calls)))


def _rule(**fields: object) -> dict[str, object]:
    return {"recurring_transaction_rules": [fields]}


def test_is_anniversary() -> None:
    assert is_anniversary("monthly", date(2024, 1, 31), date(2024, 2, 29))
    assert not is_anniversary("monthly", date(2024, 1, 31), date(2024, 2, 28))
    assert is_anniversary("weekly", date(2024, 1, 1), date(2024, 1, 15))
    assert not is_anniversary("weekly", date(2024, 1, 1), date(2024, 1, 16))
    assert is_anniversary("quarterly", date(2024, 1, 15), date(2024, 4, 15))
    assert not is_anniversary("quarterly", date(2024, 1, 15), date(2024, 3, 15))
    assert is_anniversary("semiannual", date(2024, 1, 15), date(2024, 7, 15))
    assert is_anniversary("yearly", date(2024, 2, 29), date(2025, 2, 28))
    assert not is_anniversary("monthly", date(2024, 3, 15), date(2024, 2, 15))


def test_interval_top_up_on_each_anniversary_once(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet(
        "cus",
        utc(2024, 1, 15, 9),
        granted_credits="10",
        **_rule(trigger="interval", interval="monthly", granted_credits="5"),
    )
    wallets.tick(utc(2024, 1, 15, 23))  # the creation day: never
    wallets.tick(utc(2024, 2, 14, 12))
    assert wallets.balance(wallet) == 1000
    report = wallets.tick(utc(2024, 2, 15, 1))
    wallets.tick(utc(2024, 2, 15, 20))
    assert (report.wallet_top_ups, wallets.balance(wallet)) == (1, 1500)
    wallets.tick(utc(2024, 3, 15, 2))
    assert wallets.balance(wallet) == 2000
    top_ups = [t for t in wallets.transactions(wallet) if t.source == "interval"]
    assert [(t.transaction_status, t.status, t.amount_cents) for t in top_ups] == [
        ("granted", "settled", 500),
        ("granted", "settled", 500),
    ]


def test_interval_rule_from_its_start_buys_paid_credits(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet("cus", utc(2024, 1, 1), **_rule(
        trigger="interval", interval="weekly", paid_credits="7",
        started_at="2024-01-03T00:00:00Z"))  # fmt: skip
    wallets.tick(utc(2024, 1, 3, 5))
    wallets.tick(utc(2024, 1, 9, 5))
    wallets.tick(utc(2024, 1, 10, 5))
    bought = [t for t in wallets.transactions(wallet) if t.source == "interval"]
    assert [(t.transaction_status, t.status, t.amount_cents) for t in bought] == [
        ("purchased", "pending", 700),
        ("purchased", "pending", 700),
    ]
    assert all(t.invoice_id is not None for t in bought)
    assert [i.fees_amount_cents for i in wallets.invoices("cus")] == [700, 700]


def test_threshold_fixed_top_up_waits_for_pending_credits(wallets: Wallets) -> None:
    _usage(wallets, 2)
    wallet = wallets.wallet("cus", utc(2024, 1, 2), granted_credits="10",
                            **_rule(trigger="threshold", threshold_credits="5",
                                    paid_credits="20"))  # fmt: skip
    # Ongoing balance: 10 - 2 x 3 = 4 credits, at or below 5: 20 credits bought.
    report = wallets.tick(utc(2024, 1, 11))
    wallets.tick(utc(2024, 1, 12))  # the pending purchase already lifts it above 5
    assert report.wallet_top_ups == 1
    [bought] = [t for t in wallets.transactions(wallet) if t.source == "threshold"]
    assert (bought.transaction_status, bought.status, bought.amount_cents) == (
        "purchased",
        "pending",
        2000,
    )
    assert wallets.read(wallet, utc(2024, 1, 12))["credits_ongoing_balance"] == "4.0"


def test_threshold_fixed_top_up_covers_a_large_gap(wallets: Wallets) -> None:
    _usage(wallets, 2)
    wallet = wallets.wallet("cus", utc(2024, 1, 2), granted_credits="10",
                            **_rule(trigger="threshold", threshold_credits="50",
                                    granted_credits="1", paid_credits="10"))  # fmt: skip
    wallets.tick(utc(2024, 1, 11))
    # Gap 50 - 4 = 46 > 10: 10 x (floor(4.6) + 1) = 50 credits bought, 1 granted.
    rows = [(t.transaction_status, t.amount_cents) for t in wallets.transactions(wallet)
            if t.source == "threshold"]  # fmt: skip
    assert sorted(rows) == [("granted", 100), ("purchased", 5000)]


def test_threshold_target_top_up_grants_the_gap(wallets: Wallets) -> None:
    _usage(wallets, 2)
    wallet = wallets.wallet(
        "cus",
        utc(2024, 1, 2),
        granted_credits="10",
        **_rule(
            trigger="threshold",
            threshold_credits="5",
            method="target",
            target_ongoing_balance="50",
            grants_target_top_up=True,
        ),
    )
    wallets.tick(utc(2024, 1, 11))
    wallets.tick(utc(2024, 1, 11, 5))
    body = wallets.read(wallet, utc(2024, 1, 11, 5))
    assert (body["balance_cents"], body["credits_ongoing_balance"]) == (5600, "50.0")
    [granted] = [t for t in wallets.transactions(wallet) if t.source == "threshold"]
    assert (granted.transaction_status, granted.credit_amount) == ("granted", Decimal(46))


def test_wallet_and_rule_expiry(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    expiring = wallets.wallet(
        "cus",
        utc(2024, 1, 1),
        code="short",
        granted_credits="10",
        expiration_at="2024-02-01T00:00:00Z",
        **_rule(trigger="interval", interval="weekly", granted_credits="1"),
    )
    ruled = wallets.wallet("cus", utc(2024, 1, 1), code="long", **_rule(
        trigger="interval", interval="monthly", granted_credits="1",
        expiration_at="2024-01-20T00:00:00Z"))  # fmt: skip
    wallets.tick(utc(2024, 1, 20, 1))
    assert wallets.read(ruled, utc(2024, 1, 20, 1))["recurring_transaction_rules"] == []
    assert wallets.read(ruled, utc(2024, 1, 20, 1))["status"] == "active"
    report = wallets.tick(utc(2024, 2, 1, 1))
    assert report.expired_wallets == [expiring]
    body = wallets.read(expiring, utc(2024, 2, 1, 1))
    assert (body["status"], body["terminated_at"], body["recurring_transaction_rules"]) == (
        "terminated",
        "2024-02-01T01:00:00Z",
        [],
    )
    # No tick fell on a weekly anniversary (Jan 20 and Feb 1): no top-up yet.
    assert body["balance_cents"] == 1000
    wallets.tick(utc(2024, 2, 5, 1))
    # Feb 5 is an anniversary, but a terminated wallet is no longer topped up.
    assert wallets.balance(expiring) == 1000


def test_terminate_customer_wallets_voids_the_balance(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    full = wallets.wallet(
        "cus",
        utc(2024, 1, 1),
        code="full",
        granted_credits="12.5",
        **_rule(trigger="interval", interval="monthly", granted_credits="1"),
    )
    empty = wallets.wallet("cus", utc(2024, 1, 1), code="empty")
    with wallets.database.transaction() as session:
        customer = find_customer(session, wallets.org.id, "cus")
        terminate_customer_wallets(session, customer, utc(2024, 1, 5))
    body = wallets.read(full, utc(2024, 1, 5))
    assert (body["status"], body["balance_cents"], body["recurring_transaction_rules"]) == (
        "terminated",
        0,
        [],
    )
    voided = wallets.transactions(full)[-1]
    assert (voided.transaction_type, voided.transaction_status, voided.status,
            voided.amount_cents) == ("outbound", "voided", "settled", 1250)  # fmt: skip
    assert wallets.read(empty, utc(2024, 1, 5))["status"] == "terminated"
    assert [t.transaction_status for t in wallets.transactions(empty)] == []


def test_rule_top_ups_respect_the_paid_limits(wallets: Wallets) -> None:
    _usage(wallets, 2)
    wallet = wallets.wallet("cus", utc(2024, 1, 2), granted_credits="10",
                            paid_top_up_min_amount_cents=1500,
                            **_rule(trigger="threshold", threshold_credits="5",
                                    paid_credits="1"))  # fmt: skip
    wallets.tick(utc(2024, 1, 11))
    # 1 credit (1.00 EUR) asked, raised to the wallet's 15.00 EUR minimum.
    [bought] = [t for t in wallets.transactions(wallet) if t.source == "threshold"]
    assert (bought.amount_cents, bought.credit_amount) == (1500, Decimal(15))
