"""Recurring seats across plan changes, as Lago's scenario specs
fees/recurring_fee_upgrade_spec.rb and fees/recurring_fee_downgrade_spec.rb have them: a
recurring unique count of `item_id`, charged per seat, prorated, grouped by `item_id`, paid
in advance outside invoices (not invoiceable), 30 EUR a seat on the first plan and 60 EUR
on the other. Seats come on Jun 5 and Jun 15 (10:05:59); the plan changes on Jun 15 at
10:06; two more seats come on Jun 19.

The seats belong to the external subscription: the new plan renews all four on its
first billing day. An upgrade starts the new plan at once (no renewal then: the seats
were paid for the period); a downgrade waits for the end of the period, and the new
plan's start renews the seats that period reached.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.invoices.models import Fee
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def standalone_fees(billing: Billing, since: datetime, before: datetime | None = None) -> list[int]:
    """The amounts of the fees outside invoices created in [since, before)."""
    with billing.database.transaction(write=False) as session:
        query = select(Fee.amount_cents).where(
            Fee.organization_id == billing.org.id,
            Fee.invoice_id.is_(None),
            Fee.created_at >= since,
        )
        if before is not None:
            query = query.where(Fee.created_at < before)
        return sorted(session.scalars(query).all())


def statuses(billing: Billing) -> list[tuple[str, str]]:
    with billing.database.transaction(write=False) as session:
        rows = session.execute(
            select(Subscription.status, Subscription.plan_id)
            .where(Subscription.organization_id == billing.org.id)
            .order_by(Subscription.created_at)
        ).all()
        return [(status, "plan" if index == 0 else "plan_2") for index, (status, _) in
                enumerate(rows)]  # fmt: skip


def setup(database: Database, org: Org, amounts: tuple[int, int]) -> Billing:
    billing = Billing(database, org)
    seats = billing.metric("seats", "unique_count_agg", field_name="item_id", recurring=True)
    for code, price, amount in (("plan", "30", amounts[0]), ("plan_2", "60", amounts[1])):
        billing.plan(code, [{"billable_metric_id": seats, "charge_model": "standard",
                             "pay_in_advance": True, "invoiceable": False, "prorated": True,
                             "properties": {"amount": price, "grouped_by": ["item_id"]}}],
                     amount_cents=amount, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    return billing


def subscribe(billing: Billing, plan: str, at: datetime, billing_time: str) -> None:
    body = {"external_customer_id": "cus", "plan_code": plan, "external_id": "sub",
            "billing_time": billing_time}  # fmt: skip
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), at)


def seats(billing: Billing, at: datetime, *items: str) -> None:
    billing.events("sub", "seats", *[(at, {"item_id": item}) for item in items])
    billing.tick(at)


def june(billing: Billing, start: datetime, billing_time: str) -> datetime:
    """Start, the first two seats, and the plan change; returns the change's instant."""
    subscribe(billing, "plan", start, billing_time)
    billing.tick(start)
    seats(billing, utc(2024, 6, 5), "user_1")
    seats(billing, utc(2024, 6, 15, 10, 5, 59), "user_2")
    change = utc(2024, 6, 15, 10, 6)
    subscribe(billing, "plan_2", change, billing_time)
    return change


@pytest.mark.parametrize(
    ("billing_time", "start"),
    [("calendar", utc(2024, 6, 1)), ("anniversary", utc(2024, 6, 4))],
)
def test_upgrade(database: Database, org: Org, billing_time: str, start: datetime) -> None:
    billing = setup(database, org, (49, 99))
    change = june(billing, start, billing_time)
    assert statuses(billing) == [("terminated", "plan"), ("active", "plan_2")]
    assert len(billing.invoices()) == 2
    assert len(standalone_fees(billing, start, change)) == 2
    assert standalone_fees(billing, change) == []
    seats(billing, utc(2024, 6, 19), "user_3", "user_4")
    july = utc(2024, 7, 1)
    billing.tick(july + timedelta(minutes=10))
    if billing_time == "calendar":
        # All four seats renewed for July at the new plan's 60 EUR.
        assert standalone_fees(billing, july) == [6_000] * 4
        return
    assert standalone_fees(billing, july) == []
    billing.tick(utc(2024, 7, 4, 14))
    # Jul 4 - Aug 3 at 60 EUR a seat.
    assert standalone_fees(billing, july) == [6_000] * 4


@pytest.mark.parametrize(
    ("billing_time", "start"),
    [("calendar", utc(2024, 6, 1)), ("anniversary", utc(2024, 6, 4))],
)
def test_downgrade(database: Database, org: Org, billing_time: str, start: datetime) -> None:
    billing = setup(database, org, (99, 49))
    change = june(billing, start, billing_time)
    assert statuses(billing) == [("active", "plan"), ("pending", "plan_2")]
    assert len(billing.invoices()) == 1
    assert len(standalone_fees(billing, start, change)) == 2
    assert standalone_fees(billing, change) == []
    seats(billing, utc(2024, 6, 19), "user_3", "user_4")
    july = utc(2024, 7, 1)
    billing.tick(july + timedelta(minutes=10))
    if billing_time == "anniversary":
        assert standalone_fees(billing, july) == []
        billing.tick(utc(2024, 7, 4, 14))
    assert statuses(billing) == [("terminated", "plan"), ("active", "plan_2")]
    # The new plan starts with the four seats, renewed at its 60 EUR for a whole period.
    assert standalone_fees(billing, july) == [6_000] * 4


def test_downgrade_of_seats_in_arrears(database: Database, org: Org) -> None:
    """The spec's boundary case: invoiceable seats in arrears, 31 EUR then 60 EUR; one
    seat from Jun 15, a downgrade on Jul 15, the old plan's July billed on Aug 1."""
    billing = Billing(database, org)
    metric = billing.metric("seats", "unique_count_agg", field_name="item_id", recurring=True)
    for code, price in (("plan", "31"), ("plan_2", "60")):
        billing.plan(code, [{"billable_metric_id": metric, "charge_model": "standard",
                             "prorated": True,
                             "properties": {"amount": price, "grouped_by": ["item_id"]}}],
                     amount_cents=99 if code == "plan" else 49,
                     pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    subscribe(billing, "plan", utc(2024, 6, 1), "calendar")
    billing.tick(utc(2024, 6, 1))
    billing.events("sub", "seats", (utc(2024, 6, 15, 10, 5, 59), {"item_id": "user_2"}))
    billing.tick(utc(2024, 7, 1))
    subscribe(billing, "plan_2", utc(2024, 7, 15, 10, 6), "calendar")
    assert statuses(billing) == [("active", "plan"), ("pending", "plan_2")]
    invoices = billing.invoices()
    assert len(invoices) == 2
    assert len([fee for i in invoices for fee in i.fees if fee.fee_type == "charge"]) == 1
    billing.tick(utc(2024, 8, 1))
    last = billing.invoices()[-1]
    [seat] = [fee for fee in last.fees if fee.fee_type == "charge" and fee.item_code == "seats"]
    # The seat stood all July on the old plan: 31 EUR.
    assert seat.amount_cents == 3_100


def test_downgrade_renews_invoiceable_seats_on_the_hand_over_invoice(
    database: Database, org: Org
) -> None:
    """Not in the spec: the same seats, invoiceable. The invoice of the hand-over carries
    the new plan's renewal of the four seats, as a billing day's invoice would."""
    billing = Billing(database, org)
    metric = billing.metric("seats", "unique_count_agg", field_name="item_id", recurring=True)
    for code, price, amount in (("plan", "30", 99), ("plan_2", "60", 49)):
        billing.plan(code, [{"billable_metric_id": metric, "charge_model": "standard",
                             "pay_in_advance": True, "prorated": True,
                             "properties": {"amount": price, "grouped_by": ["item_id"]}}],
                     amount_cents=amount, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    change = june(billing, utc(2024, 6, 1), "calendar")
    assert change == utc(2024, 6, 15, 10, 6)
    seats(billing, utc(2024, 6, 19), "user_3", "user_4")
    billing.tick(utc(2024, 7, 1, 0, 10))
    hand_over = billing.invoices()[-1]
    assert sorted((fee.item_code, fee.amount_cents) for fee in hand_over.fees) == [
        ("plan_2", 49), *[("seats", 6_000)] * 4,
    ]  # fmt: skip
