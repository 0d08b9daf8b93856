"""Lago's scenario spec subscriptions/upgrade_spec.rb, "when there are fixed charges":
the plan-fee side of its upgrade from a monthly calendar plan of 1 EUR in arrears to one
of 100 EUR in arrears on Aug 21, 2023 at 12:00 (the fixed charges themselves are not in
meterbill). The old plan bills Aug 1-20 on the upgrade's invoice (the upgrade day is the
new plan's); the new plan, in arrears, bills nothing until its billing day.
"""

from __future__ import annotations

from datetime import date

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import notes


def test_upgrade_between_plans_in_arrears(database: Database, org: Org) -> None:
    billing = Billing(database, org)
    billing.plan("small", [], amount_cents=100)
    billing.plan("big", [], amount_cents=10_000)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "small", "sub", utc(2023, 7, 19, 12, 12), billing_time="calendar")
    assert billing.invoices() == []
    billing.tick(utc(2023, 8, 1))
    # Jul 19-31: 100 x 13/31 = 41.94.
    [july] = billing.invoices()
    assert (july.billing_date, july.fees_amount_cents) == (date(2023, 8, 1), 42)

    body = {"external_customer_id": "cus", "plan_code": "big", "external_id": "sub",
            "billing_time": "calendar"}  # fmt: skip
    with billing.database.transaction() as session:
        create_subscription(
            session, billing.org.id, parse_subscription(body, creating=True),
            utc(2023, 8, 21, 12),
        )  # fmt: skip
    _, upgrade = billing.invoices()
    # Aug 1-20: 100 x 20/31 = 64.52, the old plan's only fee; nothing for the new one.
    assert [(p["reason"], p["from"], p["to"]) for p in upgrade.periods] == [
        ("subscription_terminating", utc(2023, 8, 1), utc(2023, 8, 21, 12))]  # fmt: skip
    assert [(f.fee_type, f.amount_cents) for f in upgrade.fees] == [("subscription", 65)]
    assert notes(billing) == []

    billing.tick(utc(2023, 9, 1))
    # Aug 21-31 of the new plan: 10,000 x 11/31 = 3,548.39.
    assert billing.invoices()[-1].fees_amount_cents == 3_548
    billing.tick(utc(2023, 10, 1))
    assert billing.invoices()[-1].fees_amount_cents == 10_000
    assert len(billing.invoices()) == 4
