"""Paid fees regrouped on `advance_charges` invoices, as Lago's scenario specs
invoices/advance_charges_spec.rb (and, at the end, advance_charges_taxes_spec.rb and
invoices/recurring_fees_spec.rb) have them: a 20 % tax; a recurring unique count of
cards (`item_id`) charged 30.12 EUR a card, prorated, paid in advance outside invoices
with `regroup_paid_fees: "invoice"`, on a plan of 0.49 EUR paid in advance (calendar,
UTC) from Jun 5, 2024, 10:00. Fees are marked paid as the spec does, in the database.

When the subscription is billed, its fees paid by then go on an `advance_charges`
invoice, already paid; on a plain billing day, only fees of a period that has ended.
Its taxes are the sum of the fees' own (22,047 in all where 20 % of the total would
give 22,048).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from meterbill.core.db import Database
from meterbill.invoices.models import Fee, Invoice
from meterbill.payments.models import Payment
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription, terminate_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True

START = utc(2024, 6, 5, 10)


def cards_charge(metric: str, amount: str) -> dict[str, Any]:
    return {"billable_metric_id": metric, "charge_model": "standard", "pay_in_advance": True,
            "invoiceable": False, "prorated": True, "regroup_paid_fees": "invoice",
            "properties": {"amount": amount}}  # fmt: skip


def setup(database: Database, org: Org) -> tuple[Billing, str]:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    cards = billing.metric("cards", "unique_count_agg", field_name="item_id", recurring=True)
    billing.plan("p", [cards_charge(cards, "30.12")], amount_cents=49, pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    change(billing, "p", START)
    billing.tick(START)
    assert len(billing.invoices()) == 1
    return billing, cards


def change(billing: Billing, plan: str, at: datetime) -> None:
    body = {"external_customer_id": "cus", "plan_code": plan, "external_id": "sub"}
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), at)


def card(billing: Billing, at: datetime, *items: str) -> None:
    billing.events("sub", "cards", *[(at, {"item_id": item}) for item in items])
    billing.tick(at)


def open_fees(billing: Billing) -> list[Fee]:
    """Fees on no invoice, oldest first."""
    with billing.database.transaction(write=False) as session:
        found = list(
            session.scalars(
                select(Fee)
                .where(Fee.organization_id == billing.org.id, Fee.invoice_id.is_(None))
                .order_by(Fee.created_at, Fee.id)
            )
        )
        for fee in found:
            session.expunge(fee)
        return found


def pay(billing: Billing, fees: list[Fee], at: datetime) -> None:
    with billing.database.transaction() as session:
        session.execute(
            update(Fee)
            .where(Fee.id.in_([fee.id for fee in fees]))
            .values(payment_status="succeeded", succeeded_at=at)
        )


def advance_charges(billing: Billing) -> list[Invoice]:
    with billing.database.transaction(write=False) as session:
        found = list(
            session.scalars(
                select(Invoice)
                .where(
                    Invoice.organization_id == billing.org.id,
                    Invoice.invoice_type == "advance_charges",
                )
                .order_by(Invoice.created_at)
            )
        )
        for invoice in found:
            session.refresh(invoice)
            session.expunge(invoice)
        return found


def regrouped(billing: Billing, invoice: Invoice) -> list[tuple[int, datetime]]:
    with billing.database.transaction(write=False) as session:
        return [
            (amount, created)
            for amount, created in session.execute(
                select(Fee.amount_cents, Fee.created_at)
                .where(Fee.invoice_id == invoice.id)
                .order_by(Fee.created_at)
            )
        ]


def test_fees_paid_by_the_billing_day_are_regrouped(database: Database, org: Org) -> None:
    billing, _cards = setup(database, org)
    for i in range(1, 6):
        card(billing, utc(2024, 6, 10 + i, 10), f"card_{i}")
        # 30.12 EUR for the 20 to 16 days left of June's 30.
        assert open_fees(billing)[-1].amount_cents == [2008, 1908, 1807, 1707, 1606][i - 1]
    pay(billing, open_fees(billing)[:3], utc(2024, 6, 20, 0, 10))

    july = utc(2024, 7, 1, 0, 10)
    billing.tick(july)
    assert len(billing.invoices()) == 3
    waiting = open_fees(billing)
    # Two June fees not paid, and July's renewal of the five cards.
    assert [(fee.amount_cents, fee.created_at < utc(2024, 7, 1)) for fee in waiting] == [
        (1707, True), (1606, True), (15_060, False),
    ]  # fmt: skip
    [first] = advance_charges(billing)
    assert first.fees_amount_cents == 2008 + 1908 + 1807
    assert [(tax.tax_code, tax.fees_amount_cents) for tax in first.applied_taxes] == [
        ("vat", 2008 + 1908 + 1807)
    ]
    assert (first.status, first.payment_status) == ("finalized", "succeeded")
    assert first.total_paid_amount_cents == first.total_amount_cents == 6_868

    pay(billing, open_fees(billing), utc(2024, 7, 10, 10))
    billing.tick(utc(2024, 8, 1, 0, 10))
    assert len(billing.invoices()) == 5
    second = advance_charges(billing)[-1]
    fees = regrouped(billing, second)
    assert len(fees) == 3
    assert len([created for _amount, created in fees if created < utc(2024, 7, 1)]) == 2
    # 5 × 30.12 EUR for July, and the two June fees.
    assert (second.fees_amount_cents, second.taxes_amount_cents, second.total_amount_cents) == (
        15_060 + 1707 + 1606, 3_674, 22_047,
    )  # fmt: skip
    assert second.sub_total_excluding_taxes_amount_cents == 18_373
    assert second.sub_total_including_taxes_amount_cents == 22_047
    assert [tax.fees_amount_cents for tax in second.applied_taxes] == [18_373]
    assert (second.coupons_amount_cents, second.credit_notes_amount_cents,
            second.prepaid_credit_amount_cents) == (0, 0, 0)  # fmt: skip
    with billing.database.transaction(write=False) as session:
        paid = session.scalars(select(Payment.amount_cents).where(Payment.invoice_id == second.id))
        assert list(paid) == [22_047]


def test_a_fee_of_the_new_period_waits_for_the_next_billing_day(
    database: Database, org: Org
) -> None:
    billing, _cards = setup(database, org)
    card(billing, utc(2024, 7, 1, 0, 1), "card_1")
    [fee] = open_fees(billing)
    assert fee.amount_cents == 3_012
    pay(billing, [fee], utc(2024, 7, 1, 0, 1))
    billing.tick(utc(2024, 7, 1, 0, 10))
    assert len(billing.invoices()) == 2
    assert advance_charges(billing) == []
    billing.tick(utc(2024, 8, 1, 0, 10))
    assert len(billing.invoices()) == 4
    [invoice] = advance_charges(billing)
    assert [amount for amount, _created in regrouped(billing, invoice)] == [3_012]
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents,
            invoice.total_amount_cents) == (3_012, 602, 3_614)  # fmt: skip


@pytest.mark.parametrize("upgrade", [True, False], ids=["upgrade", "downgrade"])
def test_a_plan_change_regroups_what_was_paid(database: Database, org: Org, upgrade: bool) -> None:
    billing, cards = setup(database, org)
    price, amount = ("60", 259) if upgrade else ("15", 19)
    billing.plan("other", [cards_charge(cards, price)], amount_cents=amount, pay_in_advance=True)
    at = utc(2024, 6, 10, 10)
    billing.events("sub", "cards", *[(at, {"item_id": f"card_{i}"}) for i in (1, 2, 3)])
    billing.tick(at)
    pay(billing, open_fees(billing), at)
    change(billing, "other", utc(2024, 6, 15, 10))
    billing.tick(utc(2024, 6, 15, 10))
    if upgrade:
        # The upgrade bills the old plan's end and regroups its three paid fees.
        assert len(billing.invoices()) == 3
        [first] = advance_charges(billing)
        assert len(regrouped(billing, first)) == 3
    else:
        # A downgrade waits for the end of the period.
        assert len(billing.invoices()) == 1
        assert advance_charges(billing) == []
    card(billing, utc(2024, 6, 20, 10), "card_4")
    pay(billing, open_fees(billing), utc(2024, 6, 20, 10))
    billing.tick(utc(2024, 7, 1, 0, 10))
    assert len(billing.invoices()) == (5 if upgrade else 3)
    last = advance_charges(billing)[-1]
    assert len(regrouped(billing, last)) == (1 if upgrade else 4)
    # What stays outside invoices: July's renewal of the four cards.
    [renewal] = open_fees(billing)
    assert (renewal.units, renewal.created_at) == (4, utc(2024, 7, 1, 0, 10))
    assert renewal.from_datetime == utc(2024, 7, 1) and renewal.to_datetime == timedelta(
        days=31, seconds=-1
    ) + utc(2024, 7, 1)


def test_the_invoice_s_taxes_are_the_sums_of_the_fees_taxes(database: Database, org: Org) -> None:
    """Lago's invoices/advance_charges_taxes_spec.rb: two taxes (9.3 % and 12 %), cards at
    30 EUR; three cards on Jun 11-13 and two more on Jun 22 (the spec sends its
    "transfers" as cards), all paid on Jun 24."""
    billing = Billing(database, org)
    billing.tax("tax-1", "9.3", applied_to_organization=True)
    billing.tax("tax-2", "12", applied_to_organization=True)
    cards = billing.metric("cards", "unique_count_agg", field_name="item_id", recurring=True)
    billing.plan("p", [cards_charge(cards, "30")], amount_cents=49, pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    change(billing, "p", START)
    billing.tick(START)
    for i in range(1, 4):
        card(billing, utc(2024, 6, 10 + i, 1), f"card_{i}")
        fee = open_fees(billing)[-1]
        assert (fee.amount_cents, fee.taxes_rate) == ((21 - i) * 100, Decimal("21.3"))
    card(billing, utc(2024, 6, 22, 1), "transfer_1", "transfer_2")
    fees = open_fees(billing)
    assert [fee.amount_cents for fee in fees] == [2000, 1900, 1800, 900, 900]
    pay(billing, fees, utc(2024, 6, 24))
    billing.tick(utc(2024, 7, 1, 0, 10))
    assert len(billing.invoices()) == 3
    [invoice] = advance_charges(billing)
    # Per fee: 186 + 177 + 167 + 84 + 84 at 9.3 %, 240 + 228 + 216 + 108 + 108 at 12 %.
    assert [(tax.tax_code, tax.amount_cents, tax.fees_amount_cents)
            for tax in invoice.applied_taxes] == [("tax-1", 698, 7_500),
                                                  ("tax-2", 900, 7_500)]  # fmt: skip
    assert (invoice.taxes_amount_cents, invoice.total_amount_cents) == (1_598, 9_098)


def test_a_fee_of_the_plan_before_an_upgrade_is_regrouped_at_termination(
    database: Database, org: Org
) -> None:
    """Lago's invoices/recurring_fees_spec.rb: on Dec 30, 2024, 03:55, a subscription
    backdated two weeks (a recurring sum at 1 EUR, prorated, paid in advance outside
    invoices, regrouped); an event of a week ago; an upgrade; the fee paid; the new
    subscription terminated: the fee of the old plan is on the advance_charges invoice."""
    billing = Billing(database, org)
    items = billing.metric("items", "sum_agg", field_name="item_id", recurring=True)
    charge = {**cards_charge(items, "1")}
    billing.plan("original", [charge], amount_cents=100)
    billing.plan("upgraded", [charge], amount_cents=1_100)
    billing.customer("cus", timezone="UTC")
    now = utc(2024, 12, 30, 3, 55)
    billing.subscribe("cus", "original", "sub", now - timedelta(weeks=2))
    billing.events("sub", "items", (now - timedelta(weeks=1), {"item_id": 1}))
    billing.tick(now)
    [fee] = open_fees(billing)
    assert (fee.units, fee.from_datetime, fee.to_datetime) == (
        1, utc(2024, 12, 16), utc(2024, 12, 31, 23, 59, 59),
    )  # fmt: skip
    change(billing, "upgraded", now)
    pay(billing, [fee], now)
    with billing.database.transaction() as session:
        terminate_subscription(session, billing.org.id, "sub", "active", now)
    [invoice] = advance_charges(billing)
    assert [amount for amount, _created in regrouped(billing, invoice)] == [fee.amount_cents]
