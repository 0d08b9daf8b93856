"""Lago's scenario spec commitments/minimum/on_termination_spec.rb: a monthly plan of
100 EUR in arrears with a minimum commitment of 10,000 EUR, subscribed Mar 1, 2024
(calendar), then upgraded or downgraded.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def change_plan(billing: Billing, plan: str, now: datetime) -> None:
    body = {"external_customer_id": "cus", "plan_code": plan, "external_id": "sub",
            "billing_time": "calendar"}  # fmt: skip
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), now)


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    billing.plan("enterprise", [], amount_cents=10_000,
                 minimum_commitment={"amount_cents": 1_000_000})  # fmt: skip
    billing.plan("pricier", [], amount_cents=50_000)
    billing.plan("cheaper", [], amount_cents=1_000)
    billing.customer("cus", timezone="UTC", currency="EUR")
    change_plan(billing, "enterprise", utc(2024, 3, 1))
    billing.tick(utc(2024, 4, 1))
    billing.tick(utc(2024, 5, 1))
    return billing


def test_march_and_april_are_trued_up(billing: Billing) -> None:
    march, april = billing.invoices()
    for invoice in (march, april):
        assert invoice.fee("minimum_commitment").amount_cents == 990_000
        assert invoice.total_amount_cents == 1_000_000


def test_upgrade_on_a_billing_day_trues_up_the_day(billing: Billing) -> None:
    change_plan(billing, "pricier", utc(2024, 6, 1, 10))
    ending = billing.invoices()[-1]
    assert ending.status == "finalized"
    [old] = [p for p in ending.periods if p["reason"] == "subscription_terminating"]
    assert (old["from"], old["to"]) == (utc(2024, 6, 1), utc(2024, 6, 1, 10))
    # June 1 is the new plan's (an upgrade bills its day to the new plan): the old plan
    # owes 1 day of 30 of its commitment, 33,333.33.
    assert ending.fee("minimum_commitment").amount_cents == 33_333
    # May, which no clock billed, on the invoice before (meterbill bills missed days).
    may = billing.invoices()[-2]
    assert (may.billing_date, may.total_amount_cents) == (utc(2024, 6, 1).date(), 1_000_000)


def test_downgrade_bills_the_whole_last_period_and_its_commitment(billing: Billing) -> None:
    change_plan(billing, "cheaper", utc(2024, 5, 15))
    billing.tick(utc(2024, 6, 1, 0, 15, 49))
    ending = billing.invoices()[-1]
    assert ending.status == "finalized"
    [period] = ending.periods
    assert (period["reason"], period["from"], period["to"]) == (
        "subscription_terminating", utc(2024, 5, 1), utc(2024, 5, 31, 23, 59, 59))  # fmt: skip
    assert ending.fee("enterprise").amount_cents == 10_000
    assert ending.fee("minimum_commitment").amount_cents == 990_000
    assert ending.total_amount_cents == 1_000_000
