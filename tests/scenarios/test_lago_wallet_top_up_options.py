"""Lago's scenario specs wallets/topup_with_priority_spec.rb, wallets/topup_with_name_spec.rb,
wallets/topup_with_open_invoices_spec.rb, wallets/topup_rule_with_limits_spec.rb and
wallets/target_rule_granting_top_up_spec.rb: what a top-up is asked with (priority, name,
payment first) and what a rule's options do to it.

Lago pays top-ups through Stripe in these specs; meterbill calls no payment provider, so
the payment is recorded as a client would (PUT /invoices/{id} with `payment_status`).
Lago renders the names on its PDF; meterbill has no PDF, so the names are checked on the
transaction and the credit fee, as the API shows them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.core.errors import ValidationFailed
from meterbill.invoices.models import Fee, Invoice
from meterbill.invoices.service import update_invoice
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets, standard


@pytest.fixture
def wallets(database: Database, org: Org) -> Wallets:
    return Wallets(database, org)


def pay(wallets: Wallets, invoice_id: object, status: str = "succeeded") -> None:
    with wallets.database.transaction() as session:
        update_invoice(session, wallets.org.id, str(invoice_id), status, None, utc(2025, 1, 2))


def credit_invoices(wallets: Wallets) -> list[Invoice]:
    with wallets.database.transaction(write=False) as session:
        rows = list(
            session.scalars(
                select(Invoice)
                .where(Invoice.organization_id == wallets.org.id, Invoice.invoice_type == "credit")
                .order_by(Invoice.created_at, Invoice.organization_sequential_id)
            )
        )
        session.expunge_all()
        return rows


def credit_fee(wallets: Wallets, invoice_id: object) -> tuple[str, str, str | None]:
    with wallets.database.transaction(write=False) as session:
        fee = session.scalars(select(Fee).where(Fee.invoice_id == invoice_id)).one()
        return fee.item_code, fee.item_name, fee.invoice_display_name


# --- topup_with_priority_spec.rb ---------------------------------------------------------


def test_transaction_priority_on_the_wallet_creation(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet("cus", utc(2025, 1, 1), paid_credits="100", granted_credits="50",
                            transaction_priority=5)  # fmt: skip
    assert [t.priority for t in wallets.transactions(wallet)] == [5, 5]


def test_transactions_default_to_priority_50_whatever_the_wallet(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    # The wallet's own priority orders wallets; its transactions keep Lago's default.
    wallet = wallets.wallet("cus", utc(2025, 1, 1), paid_credits="100", granted_credits="50",
                            priority=3)  # fmt: skip
    assert [t.priority for t in wallets.transactions(wallet)] == [50, 50]


def test_priority_of_a_top_up(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet("cus", utc(2025, 1, 1))
    wallets.top_up(wallet, utc(2025, 1, 1), paid_credits="100", granted_credits="50", priority=10)
    assert [t.priority for t in wallets.transactions(wallet)] == [10, 10]
    with pytest.raises(ValidationFailed) as refused:
        wallets.top_up(wallet, utc(2025, 1, 1), granted_credits="1", priority=51)
    assert refused.value.details == {"priority": ["value_is_out_of_range"]}


# --- topup_with_name_spec.rb -------------------------------------------------------------


def test_transaction_names_on_the_credit_fees(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet("cus", utc(2025, 1, 2), paid_credits="100",
                            transaction_name="Initial top-up")  # fmt: skip
    [initial] = wallets.transactions(wallet)
    assert initial.name == "Initial top-up"
    wallets.top_up(wallet, utc(2025, 1, 3), paid_credits="200", name="Top-up",
                   metadata=[{"key": "transaction_id", "value": "123"}])  # fmt: skip
    top_up = wallets.transactions(wallet)[-1]
    assert (top_up.status, top_up.transaction_status) == ("pending", "purchased")
    assert top_up.invoice_requires_successful_payment is False
    assert (top_up.credit_amount, top_up.amount_cents, top_up.name) == (Decimal(200), 200_00,
                                                                         "Top-up")  # fmt: skip
    assert top_up.metadata_items == [{"key": "transaction_id", "value": "123"}]
    first, second = credit_invoices(wallets)
    assert (first.number[-7:], second.number[-7:]) == ("001-001", "001-002")
    assert credit_fee(wallets, first.id) == ("credit", "Initial top-up", "Initial top-up")
    assert credit_fee(wallets, second.id) == ("credit", "Top-up", "Top-up")


def test_a_top_up_without_a_name(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet("cus", utc(2025, 1, 2), paid_credits="100", name="My wallet")
    [transaction] = wallets.transactions(wallet)
    assert transaction.name is None
    [invoice] = credit_invoices(wallets)
    # Lago's PDF reads "Prepaid credits - My wallet"; its fee is named after its type.
    assert credit_fee(wallets, invoice.id) == ("credit", "credit", "credit")


# --- topup_with_open_invoices_spec.rb ----------------------------------------------------


def test_a_top_up_that_needs_its_payment_first(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet("cus", utc(2025, 1, 1), name="Wallet1", granted_credits="10",
                            invoice_requires_successful_payment=False)  # fmt: skip
    assert wallets.read(wallet, utc(2025, 1, 1))["credits_balance"] == "10.0"
    [made] = wallets.top_up(wallet, utc(2025, 1, 1), paid_credits="15",
                            invoice_requires_successful_payment=True)  # fmt: skip
    bought = wallets.transactions(wallet)[-1]
    assert str(bought.id) == made
    assert (bought.status, bought.transaction_status) == ("pending", "purchased")
    assert bought.invoice_requires_successful_payment is True
    [invoice] = credit_invoices(wallets)
    assert (invoice.status, invoice.payment_status, invoice.total_amount_cents) == (
        "open", "pending", 1_500)  # fmt: skip
    assert invoice.number.endswith("-DRAFT")
    pay(wallets, invoice.id)
    [invoice] = credit_invoices(wallets)
    assert (invoice.status, invoice.payment_status) == ("finalized", "succeeded")
    assert invoice.number.endswith("-001-001")
    bought = wallets.transactions(wallet)[-1]
    assert (bought.status, bought.settled_at) == ("settled", utc(2025, 1, 2))
    assert wallets.read(wallet, utc(2025, 1, 2))["credits_balance"] == "25.0"


def test_a_failed_payment_keeps_the_invoice_open(wallets: Wallets) -> None:
    wallets.customer("cus", timezone="UTC")
    wallet = wallets.wallet("cus", utc(2025, 1, 1), name="Wallet1", granted_credits="10")
    wallets.top_up(wallet, utc(2025, 1, 1), paid_credits="15",
                   invoice_requires_successful_payment=True)  # fmt: skip
    [invoice] = credit_invoices(wallets)
    pay(wallets, invoice.id, "failed")
    [invoice] = credit_invoices(wallets)
    assert (invoice.status, invoice.payment_status) == ("open", "failed")
    assert invoice.number.endswith("-DRAFT")
    bought = wallets.transactions(wallet)[-1]
    assert (bought.status, bought.settled_at) == ("failed", None)
    assert wallets.read(wallet, utc(2025, 1, 2))["credits_balance"] == "10.0"


# --- topup_rule_with_limits_spec.rb ------------------------------------------------------


def test_a_rule_that_ignores_the_paid_limits(wallets: Wallets) -> None:
    wallets.plan("p", [], amount_cents=600, pay_in_advance=True)
    wallets.customer("cus", timezone="UTC")
    rule = {"trigger": "threshold", "paid_credits": "10", "method": "fixed",
            "threshold_credits": "5", "ignore_paid_top_up_limits": True}  # fmt: skip
    wallet = wallets.wallet("cus", utc(2025, 9, 1), name="Wallet1", granted_credits="10",
                            paid_top_up_min_amount_cents=100_00,
                            recurring_transaction_rules=[rule])  # fmt: skip
    wallets.subscribe("cus", "p", "cus", utc(2025, 9, 1, 22))
    wallets.tick(utc(2025, 9, 1, 22))
    with wallets.database.transaction(write=False) as session:
        [prepaid] = session.scalars(
            select(Invoice.prepaid_credit_amount_cents).where(
                Invoice.organization_id == wallets.org.id, Invoice.invoice_type == "subscription"
            )
        ).all()
    assert prepaid == 600
    # 4 credits left, at or below 5: the same tick buys 10 credits, not the wallet's minimum
    # of 100.
    [bought] = [t for t in wallets.transactions(wallet) if t.source == "threshold"]
    assert (bought.transaction_status, bought.credit_amount) == ("purchased", Decimal(10))
    [top_up] = credit_invoices(wallets)
    pay(wallets, top_up.id)
    assert wallets.read(wallet, utc(2025, 9, 2))["credits_balance"] == "14.0"


# --- target_rule_granting_top_up_spec.rb -------------------------------------------------


@pytest.mark.parametrize(
    ("grants", "status", "credits", "balance", "invoices"),
    [(True, "granted", 6, "16.0", 0), (False, "purchased", 50, "10.0", 1)],
)
def test_a_target_rule_granting_or_selling_the_gap(
    wallets: Wallets, grants: bool, status: str, credits: int, balance: str, invoices: int
) -> None:
    total = wallets.metric("total", "sum_agg", field_name="total")
    wallets.plan("p", [standard(total, "1")])
    wallets.customer("cus", timezone="UTC")
    rule = {"trigger": "threshold", "method": "target", "threshold_credits": "5",
            "target_ongoing_balance": "10", "grants_target_top_up": grants}  # fmt: skip
    wallet = wallets.wallet("cus", utc(2024, 6, 1), granted_credits="10",
                            paid_top_up_min_amount_cents=50_00,
                            recurring_transaction_rules=[rule])  # fmt: skip
    [shown] = wallets.read(wallet, utc(2024, 6, 1))["recurring_transaction_rules"]
    assert shown["grants_target_top_up"] is grants
    wallets.subscribe("cus", "p", "cus", utc(2024, 6, 1))
    # 6 credits of usage: an ongoing balance of 4, below 5; the gap to 10 is 6.
    wallets.events("cus", "total", (utc(2024, 6, 6), {"total": 6}))
    wallets.tick(utc(2024, 6, 6, 1))
    [top_up] = [t for t in wallets.transactions(wallet) if t.source == "threshold"]
    assert (top_up.transaction_type, top_up.transaction_status) == ("inbound", status)
    # Granted, the gap bypasses the paid minimum; sold, it is raised to 50 credits.
    assert top_up.credit_amount == Decimal(credits)
    assert wallets.read(wallet, utc(2024, 6, 6, 1))["credits_balance"] == balance
    assert len(wallets.invoices("cus")) == invoices
