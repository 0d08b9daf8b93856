"""Recurring seats as Lago's scenario spec fees/recurring_fees_spec.rb has them: a
recurring unique count of `item_id` charged 30 EUR a seat, prorated, on a plan paid in
advance, subscribed Jun 5, 2024 (calendar, UTC); five seats come on Jun 11-15 at 10:00
(20 to 16 days of June's 30 left). The charge is paid in advance (invoiceable or not) or
in arrears, with or without `grouped_by: ["item_id"]`.

A fee is `pay_in_advance` when an event created it or when it stays outside invoices;
the renewal of a recurring charge on a billing day's invoice is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.invoices.models import Fee
from meterbill.subscriptions.models import Subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import terminate


@dataclass(frozen=True)
class ChargeFee:
    units: Decimal
    amount_cents: int
    invoiced: bool
    pay_in_advance: bool
    from_datetime: datetime | None
    to_datetime: datetime | None


def charge_fees(billing: Billing, since: datetime) -> list[ChargeFee]:
    """The seats fees created at or after `since`, invoiced or not."""
    with billing.database.transaction(write=False) as session:
        rows = session.scalars(
            select(Fee)
            .where(
                Fee.organization_id == billing.org.id,
                Fee.fee_type == "charge",
                Fee.created_at >= since,
            )
            .order_by(Fee.created_at, Fee.amount_cents)
        ).all()
        return [
            ChargeFee(fee.units, fee.amount_cents, fee.invoice_id is not None,
                      fee.pay_in_advance, fee.from_datetime, fee.to_datetime)
            for fee in rows
        ]  # fmt: skip


def subscription_status(billing: Billing) -> str:
    with billing.database.transaction(write=False) as session:
        return session.scalars(
            select(Subscription.status).where(
                Subscription.organization_id == billing.org.id, Subscription.external_id == "sub"
            )
        ).one()


def setup(
    database: Database, org: Org, *, in_advance: bool, invoiceable: bool, grouped: bool,
    grace: int = 0,
) -> Billing:  # fmt: skip
    billing = Billing(database, org)
    seats = billing.metric("seats", "unique_count_agg", field_name="item_id", recurring=True)
    properties: dict[str, Any] = {"amount": "30"}
    if grouped:
        properties["grouped_by"] = ["item_id"]
    billing.plan("p", [{"billable_metric_id": seats, "charge_model": "standard",
                        "pay_in_advance": in_advance, "invoiceable": invoiceable,
                        "prorated": True, "properties": properties}],
                 amount_cents=49, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC", invoice_grace_period=grace)
    start = utc(2024, 6, 5, 12, 12)
    billing.subscribe("cus", "p", "sub", start)
    billing.tick(start)
    return billing


def seat(billing: Billing, at: datetime, *items: str) -> None:
    billing.events("sub", "seats", *[(at, {"item_id": item}) for item in items])
    # Lago bills an event's fee from a job right away; the next tick does it here.
    billing.tick(at + timedelta(minutes=1))


def five_seats_in_june(billing: Billing, *, in_advance: bool, invoiceable: bool) -> None:
    for i in range(1, 6):
        at = utc(2024, 6, 10 + i, 10)
        seat(billing, at, f"user_{i}")
        if in_advance:
            # 30 EUR × (21 - i) / 30 days.
            [fee] = charge_fees(billing, at)
            assert (fee.amount_cents, fee.invoiced) == ((21 - i) * 100, invoiceable)
    expected = (1 + 5) if in_advance and invoiceable else 1
    assert len(billing.invoices()) == expected


AUGUST = (utc(2024, 8, 1), utc(2024, 8, 31, 23, 59, 59))


@pytest.mark.parametrize("grouped", [False, True], ids=["one_fee", "grouped_by"])
def test_in_advance_not_invoiceable(database: Database, org: Org, grouped: bool) -> None:
    billing = setup(database, org, in_advance=True, invoiceable=False, grouped=grouped)
    five_seats_in_june(billing, in_advance=True, invoiceable=False)
    july = utc(2024, 7, 1, 0, 10)
    billing.tick(july)
    assert len(billing.invoices()) == 2
    renewal = [(5, 15_000)] if not grouped else [(1, 3_000)] * 5
    fees = charge_fees(billing, july)
    assert [(f.units, f.amount_cents, f.invoiced, f.pay_in_advance) for f in fees] == [
        (u, a, False, True) for u, a in renewal
    ]

    seat(billing, utc(2024, 7, 12, 1, 10), "user_july_1", "user_july_2")
    august = utc(2024, 8, 1, 1, 10)
    assert charge_fees(billing, august) == []
    billing.tick(august)
    assert len(billing.invoices()) == 3
    renewal = [(7, 21_000)] if not grouped else [(1, 3_000)] * 7
    fees = charge_fees(billing, august)
    assert [(f.units, f.amount_cents, f.invoiced, f.pay_in_advance) for f in fees] == [
        (u, a, False, True) for u, a in renewal
    ]
    assert {(f.from_datetime, f.to_datetime) for f in fees} == {AUGUST}

    # Terminated Aug 15: the seats were paid for August; nothing more is charged.
    terminate(billing, "sub", utc(2024, 8, 15, 1, 10))
    billing.tick(utc(2024, 8, 15, 1, 10))
    assert subscription_status(billing) == "terminated"
    assert len(billing.invoices()) == 4
    assert len(charge_fees(billing, august)) == len(renewal)


def test_in_advance_not_invoiceable_with_a_grace_period(database: Database, org: Org) -> None:
    billing = setup(database, org, in_advance=True, invoiceable=False, grouped=True, grace=3)
    assert [invoice.status for invoice in billing.invoices()] == ["draft"]
    june = utc(2024, 6, 10, 10)
    billing.events("sub", "seats", (june, {"item_id": "user_1"}), (june, {"item_id": "user_2"}))
    billing.tick(june + timedelta(minutes=1))
    # 21 of June's 30 days: the fees do not wait for any grace period.
    assert [(f.amount_cents, f.invoiced) for f in charge_fees(billing, june)] == [
        (2_100, False), (2_100, False),
    ]  # fmt: skip
    july = utc(2024, 7, 1, 0, 10)
    billing.tick(july)
    fees = charge_fees(billing, july)
    assert [(f.units, f.amount_cents, f.invoiced, f.pay_in_advance) for f in fees] == [
        (1, 3_000, False, True), (1, 3_000, False, True),
    ]  # fmt: skip
    assert {(f.from_datetime, f.to_datetime) for f in fees} == {
        (utc(2024, 7, 1), utc(2024, 7, 31, 23, 59, 59))
    }
    assert billing.invoices()[-1].status == "draft"
    billing.tick(utc(2024, 7, 4, 1, 10))
    assert [invoice.status for invoice in billing.invoices()] == ["finalized", "finalized"]
    assert len(charge_fees(billing, july)) == 2
    terminate(billing, "sub", utc(2024, 7, 5, 1, 30))
    billing.tick(utc(2024, 7, 5, 1, 30))
    assert subscription_status(billing) == "terminated"
    assert [invoice.status for invoice in billing.invoices()] == ["finalized", "finalized", "draft"]
    assert len(charge_fees(billing, july)) == 2


@pytest.mark.parametrize("grouped", [False, True], ids=["one_fee", "grouped_by"])
def test_in_advance_invoiceable(database: Database, org: Org, grouped: bool) -> None:
    billing = setup(database, org, in_advance=True, invoiceable=True, grouped=grouped)
    five_seats_in_june(billing, in_advance=True, invoiceable=True)
    # Each seat's fee was on an invoice of its own, paid in advance.
    june = charge_fees(billing, utc(2024, 6, 6))
    assert [(f.units, f.invoiced, f.pay_in_advance) for f in june] == [(1, True, True)] * 5
    billing.tick(utc(2024, 7, 1, 0, 10))
    invoices = billing.invoices()
    assert len(invoices) == 7
    renewal = [fee for fee in invoices[-1].fees if fee.fee_type == "charge"]
    expected = [(5, 15_000)] if not grouped else [(1, 3_000)] * 5
    # A billing day's renewal is not a pay-in-advance fee, though its charge is.
    assert [(fee.units, fee.amount_cents) for fee in renewal] == expected
    with billing.database.transaction(write=False) as session:
        flags = session.scalars(
            select(Fee.pay_in_advance).where(
                Fee.invoice_id == invoices[-1].id, Fee.fee_type == "charge"
            )
        ).all()
    assert not any(flags)

    terminate(billing, "sub", utc(2024, 7, 15, 1, 10))
    billing.tick(utc(2024, 7, 15, 1, 10))
    assert subscription_status(billing) == "terminated"
    termination = billing.invoices()[-1]
    assert [fee for fee in termination.fees if fee.fee_type == "charge"] == []


def test_in_arrears_one_fee(database: Database, org: Org) -> None:
    billing = setup(database, org, in_advance=False, invoiceable=True, grouped=False)
    five_seats_in_june(billing, in_advance=False, invoiceable=True)
    billing.tick(utc(2024, 7, 1, 0, 10))
    invoices = billing.invoices()
    assert len(invoices) == 2
    [fee] = [fee for fee in invoices[-1].fees if fee.fee_type == "charge"]
    # 30 EUR × (20 + 19 + 18 + 17 + 16) / 30 days.
    assert (fee.units, fee.amount_cents) == (5, 9_000)
    terminate(billing, "sub", utc(2024, 7, 15, 1, 10))
    billing.tick(utc(2024, 7, 15, 1, 10))
    [fee] = [fee for fee in billing.invoices()[-1].fees if fee.fee_type == "charge"]
    # Five seats for July 1-15: 5 × 30 × 15/31 = 72.58.
    assert (fee.units, fee.amount_cents) == (5, 7_258)


def test_in_arrears_grouped_by(database: Database, org: Org) -> None:
    billing = setup(database, org, in_advance=False, invoiceable=True, grouped=True)
    five_seats_in_june(billing, in_advance=False, invoiceable=True)
    billing.tick(utc(2024, 7, 1, 0, 10))
    invoices = billing.invoices()
    assert len(invoices) == 2
    fees = [fee for fee in invoices[-1].fees if fee.fee_type == "charge"]
    assert sorted((fee.units, fee.amount_cents) for fee in fees) == [
        (1, amount * 100) for amount in (16, 17, 18, 19, 20)
    ]
    terminate(billing, "sub", utc(2024, 7, 15, 1, 10))
    billing.tick(utc(2024, 7, 15, 1, 10))
    assert subscription_status(billing) == "terminated"
    invoices = billing.invoices()
    assert len(invoices) == 3
    fees = [fee for fee in invoices[-1].fees if fee.fee_type == "charge"]
    # 30 × 15/31 = 14.516 a seat.
    assert [(fee.units, fee.amount_cents) for fee in fees] == [(1, 1_452)] * 5
