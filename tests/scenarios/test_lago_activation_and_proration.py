"""Lago's scenario specs subscriptions/activation_spec.rb (a future start in Bogota is
activated on its date) and subscriptions/upgrade_proration_spec.rb (a termination fee
is prorated on the whole period, whether the subscription came from an upgrade or
started in the middle of a calendar period): quarterly plans of 91,000 cents, 1,000 a day.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from meterbill.core.db import Database
from meterbill.core.errors import NotFound
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription, find_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import terminate


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    billing.plan("monthly", [], amount_cents=1_000)
    billing.plan("quarter", [], amount_cents=91_000, interval="quarterly")
    billing.plan("cheaper", [], amount_cents=45_500, interval="quarterly")
    return billing


def create(billing: Billing, plan: str, now: datetime, **fields: str) -> None:
    body = {"external_customer_id": "cus", "plan_code": plan, "external_id": "sub", **fields}
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), now)


def status(billing: Billing) -> str:
    with billing.database.transaction(write=False) as session:
        for wanted in ("active", "pending"):
            try:
                return find_subscription(session, billing.org.id, "sub", wanted).status
            except NotFound:
                continue
    raise AssertionError("no subscription")


def test_a_future_start_is_activated_on_its_local_date(billing: Billing) -> None:
    billing.customer("cus", timezone="America/Bogota")
    # Created Aug 23, 19:07 in Bogota, to start Aug 25, 05:00 there.
    create(billing, "monthly", utc(2023, 8, 24, 0, 7), billing_time="calendar",
           subscription_at=utc(2023, 8, 25, 10).isoformat())  # fmt: skip
    assert status(billing) == "pending"
    billing.tick(utc(2023, 8, 25, 4, 59))  # Aug 24, 23:59 in Bogota
    assert status(billing) == "pending"
    assert billing.tick(utc(2023, 8, 25, 10)).activated == ["sub"]
    assert status(billing) == "active"


def test_termination_of_an_upgraded_subscription_prorates_on_the_whole_period(
    billing: Billing,
) -> None:
    billing.customer("cus", timezone="UTC")
    create(billing, "cheaper", utc(2024, 1, 15, 10), billing_time="anniversary")
    create(billing, "quarter", utc(2024, 5, 20, 10), billing_time="anniversary")
    with billing.database.transaction(write=False) as session:
        upgraded = find_subscription(session, billing.org.id, "sub", "active")
        assert (upgraded.subscription_at, upgraded.started_at) == (
            utc(2024, 1, 15, 10), utc(2024, 5, 20, 10))  # fmt: skip
    terminate(billing, "sub", utc(2024, 6, 20, 10))
    # May 20 - Jun 20: 32 days of the Apr 15 - Jul 14 quarter (91 days).
    assert billing.invoices()[-1].fee("quarter").amount_cents == 32_000


def test_termination_after_a_start_in_a_calendar_quarter_prorates_on_the_whole_quarter(
    billing: Billing,
) -> None:
    billing.customer("cus", timezone="UTC")
    create(billing, "quarter", utc(2024, 5, 20, 10), billing_time="calendar")
    terminate(billing, "sub", utc(2024, 6, 20, 10))
    # May 20 - Jun 20: 32 days of Q2 (91 days).
    [invoice] = billing.invoices()
    assert invoice.fee("quarter").amount_cents == 32_000
