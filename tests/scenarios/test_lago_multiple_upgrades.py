"""Two upgrades on one day, as Lago's scenario spec subscriptions/multiple_upgrade_spec.rb
has them: monthly plans paid in advance of 1,000, 1,500 and 1,900 cents, a 25 % tax on
the organization; started Mar 5, 2024 at 12:12, upgraded Mar 12 at 12:12 and 13:12.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import notes


def change_plan(billing: Billing, plan: str, now: datetime, billing_time: str) -> None:
    body = {"external_customer_id": "cus", "plan_code": plan, "external_id": "sub",
            "billing_time": billing_time}  # fmt: skip
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), now)


@pytest.mark.parametrize(
    ("billing_time", "first", "second", "credit", "third", "credit_again"),
    [
        # Mar 5-31: 27 of 31 days; after the upgrades, Mar 12-31: 20 days, and the
        # 20 unused days of the plan left come back as credit with the 25 % tax.
        ("calendar", 871, 968, 806, 1_226, 1_210),
        # Whole first period; then Mar 12 - Apr 4: 24 days of 31. The second note is held
        # to the fee it credits: 1 161 (not 1 161.29) + 25 % = 1 451.
        ("anniversary", 1_000, 1_161, 968, 1_471, 1_451),
    ],
)
def test_two_upgrades_on_one_day(
    database: Database, org: Org, billing_time: str, first: int, second: int, credit: int,
    third: int, credit_again: int,
) -> None:  # fmt: skip
    billing = Billing(database, org)
    billing.tax("vat", "25", applied_to_organization=True)
    for code, amount in (("p1", 1_000), ("p2", 1_500), ("p3", 1_900)):
        billing.plan(code, [], amount_cents=amount, pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    change_plan(billing, "p1", utc(2024, 3, 5, 12, 12), billing_time)
    change_plan(billing, "p2", utc(2024, 3, 12, 12, 12), billing_time)
    change_plan(billing, "p3", utc(2024, 3, 12, 13, 12), billing_time)
    invoices = billing.invoices()
    assert [invoice.fees_amount_cents for invoice in invoices] == [first, second, third]
    assert [[period["reason"] for period in invoice.periods] for invoice in invoices[1:]] == [
        ["subscription_terminating", "subscription_starting"]
    ] * 2
    assert [note.credit_amount_cents for note in notes(billing)] == [credit, credit_again]
