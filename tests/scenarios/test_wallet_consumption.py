"""Prepaid credits paying invoices at finalization (billing.md §9.3, §5.3 steps 8-10, E14)."""

from __future__ import annotations

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.invoices.models import Invoice
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets, e14_setup, standard


@pytest.fixture
def wallets(database: Database, org: Org) -> Wallets:
    return Wallets(database, org)


def test_e14_pay_in_advance_charges_paid_by_a_restricted_wallet(wallets: Wallets) -> None:
    wallet = e14_setup(wallets)
    wallets.tick(utc(2024, 3, 1, 1))
    assert wallets.read(wallet, utc(2024, 3, 1, 1))["credits_balance"] == "39.0"

    wallets.events("sub", "other", (utc(2024, 3, 2, 10), {}))
    wallets.tick(utc(2024, 3, 2, 11))
    [first] = [i for i in wallets.invoices("cus") if i.fees_amount_cents == 1000]
    assert (first.total_amount_cents, first.payment_status) == (1000, "pending")

    wallets.events("sub", "count_1", (utc(2024, 3, 3, 10), {}))
    wallets.tick(utc(2024, 3, 3, 11))
    [second] = [i for i in wallets.invoices("cus") if i.fees_amount_cents == 1429]
    assert (second.taxes_amount_cents, second.sub_total_including_taxes_amount_cents) == (343, 1772)
    assert (second.total_amount_cents, second.payment_status) == (0, "succeeded")
    assert wallets.read(wallet, utc(2024, 3, 3, 11))["credits_balance"] == "21.28"

    wallets.events("sub", "count_2", (utc(2024, 3, 4, 10), {}))
    wallets.tick(utc(2024, 3, 4, 11))
    [third] = [i for i in wallets.invoices("cus") if i.fees_amount_cents == 1427]
    assert (third.taxes_amount_cents, third.total_amount_cents) == (342, 0)
    body = wallets.read(wallet, utc(2024, 3, 4, 11))
    assert (body["credits_balance"], body["balance_cents"], body["consumed_credits"]) == (
        "3.59",
        359,
        "35.41",
    )
    outbound = [t for t in wallets.transactions(wallet) if t.transaction_type == "outbound"]
    assert [(t.transaction_status, t.amount_cents, t.invoice_id) for t in outbound] == [
        ("invoiced", 1772, second.id),
        ("invoiced", 1769, third.id),
    ]
    with wallets.database.transaction(write=False) as session:
        prepaid = {
            invoice.id: invoice.prepaid_credit_amount_cents
            for invoice in (session.get(Invoice, i.id) for i in (first, second, third))
            if invoice is not None
        }
    assert prepaid == {first.id: 0, second.id: 1772, third.id: 1769}


def _monthly(wallets: Wallets, amount_cents: int = 5000, charges: list | None = None) -> None:
    wallets.plan("m", charges or [], amount_cents=amount_cents)
    wallets.customer("cus", timezone="UTC")
    wallets.subscribe("cus", "m", "sub", utc(2024, 1, 1))
    wallets.tick(utc(2024, 1, 1, 1))


def test_two_wallets_pay_by_priority_then_age(wallets: Wallets, http: httpx.Client) -> None:
    _monthly(wallets)
    late_first = wallets.wallet("cus", utc(2024, 1, 2), code="a", granted_credits="30",
                                priority=2)  # fmt: skip
    urgent = wallets.wallet("cus", utc(2024, 1, 3), code="b", granted_credits="10", priority=1)
    wallets.tick(utc(2024, 2, 1, 1))
    [invoice] = wallets.invoices("cus")
    assert (invoice.fees_amount_cents, invoice.total_amount_cents) == (5000, 1000)
    assert (wallets.balance(urgent), wallets.balance(late_first)) == (0, 0)
    body = http.get(f"/invoices/{invoice.id}").json()["invoice"]
    assert (body["prepaid_credit_amount_cents"], body["total_amount_cents"]) == (4000, 1000)
    assert body["payment_status"] == "pending"
    for wallet, cents in ((urgent, 1000), (late_first, 3000)):
        [spent] = [t for t in wallets.transactions(wallet) if t.transaction_type == "outbound"]
        assert (spent.amount_cents, spent.invoice_id, spent.status) == (cents, invoice.id,
                                                                        "settled")  # fmt: skip


def test_wallet_limited_to_charges_leaves_the_plan_fee(wallets: Wallets) -> None:
    wallets.tax("vat", "20")
    calls = wallets.metric("calls")
    _monthly(wallets, 5000, [standard(calls, "2", tax_codes=["vat"])])
    wallet = wallets.wallet("cus", utc(2024, 1, 2), granted_credits="100",
                            applies_to={"fee_types": ["charge"]})  # fmt: skip
    wallets.events("sub", "calls", *((utc(2024, 1, 10, hour), {}) for hour in range(5)))
    wallets.tick(utc(2024, 2, 1, 1))
    [invoice] = wallets.invoices("cus")
    # Charge fee 1000 + 20% tax = 1200 paid by the wallet; the 5000 plan fee is not.
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents) == (6000, 200)
    assert invoice.total_amount_cents == 5000
    assert wallets.balance(wallet) == 10_000 - 1200


def test_ongoing_balance_counts_current_usage(wallets: Wallets) -> None:
    calls = wallets.metric("calls")
    _monthly(wallets, 0, [standard(calls, "3")])
    wallet = wallets.wallet("cus", utc(2024, 1, 2), granted_credits="20")
    wallets.events("sub", "calls", *((utc(2024, 1, 10, hour), {}) for hour in range(4)))
    body = wallets.read(wallet, utc(2024, 1, 15))
    assert (body["balance_cents"], body["ongoing_usage_balance_cents"],
            body["ongoing_balance_cents"]) == (2000, 1200, 800)  # fmt: skip
    assert (body["credits_ongoing_balance"], body["credits_ongoing_usage_balance"]) == (
        "8.0",
        "12.0",
    )


def test_paid_credits_pay_nothing_until_their_invoice_is_paid(
    wallets: Wallets, http: httpx.Client
) -> None:
    _monthly(wallets)
    wallet = wallets.wallet("cus", utc(2024, 1, 2), paid_credits="20")
    wallets.tick(utc(2024, 2, 1, 1))
    [credit, january] = sorted(wallets.invoices("cus"), key=lambda i: i.fees_amount_cents)
    assert (january.total_amount_cents, wallets.balance(wallet)) == (5000, 0)
    http.put(f"/invoices/{credit.id}", json={"invoice": {"payment_status": "succeeded"}})
    assert wallets.balance(wallet) == 2000
    wallets.tick(utc(2024, 3, 1, 1))
    february = [i for i in wallets.invoices("cus") if i.billing_date == utc(2024, 3, 1).date()]
    assert [i.total_amount_cents for i in february] == [3000]
    assert wallets.balance(wallet) == 0


def test_voiding_an_invoice_gives_its_credits_back(wallets: Wallets, http: httpx.Client) -> None:
    _monthly(wallets)
    wallet = wallets.wallet("cus", utc(2024, 1, 2), granted_credits="30")
    wallets.tick(utc(2024, 2, 1, 1))
    [invoice] = wallets.invoices("cus")
    assert (invoice.total_amount_cents, wallets.balance(wallet)) == (2000, 0)
    assert http.post(f"/invoices/{invoice.id}/void").status_code == 200
    assert wallets.balance(wallet) == 3000
    back = wallets.transactions(wallet)[-1]
    assert (
        back.transaction_type,
        back.transaction_status,
        back.status,
        back.amount_cents,
        back.voided_invoice_id,
    ) == ("inbound", "granted", "settled", 3000, invoice.id)
    body = http.get(f"/wallet_transactions/{back.id}").json()["wallet_transaction"]
    assert body["lago_voided_invoice_id"] == str(invoice.id)


def test_one_off_invoices_take_no_credits(wallets: Wallets, http: httpx.Client) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet("cus", utc(2024, 1, 2), granted_credits="30")
    http.post(
        "/add_ons",
        json={
            "add_on": {
                "name": "Setup",
                "code": "setup",
                "amount_cents": 1000,
                "amount_currency": "EUR",
            }
        },
    )
    made = http.post(
        "/invoices",
        json={"invoice": {"external_customer_id": "cus", "fees": [{"add_on_code": "setup"}]}},
    )
    body = made.json()["invoice"]
    assert (
        body["invoice_type"],
        body["total_amount_cents"],
        body["prepaid_credit_amount_cents"],
    ) == (
        "one_off",
        1000,
        0,
    )
    assert wallets.balance(wallet) == 3000
