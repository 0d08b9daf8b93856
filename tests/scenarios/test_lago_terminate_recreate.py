"""Terminating a subscription and creating it again on the same external id with its
old anchor, as Lago's scenario spec subscriptions/terminate_recreate_spec.rb has it: a
yearly plan of 365 EUR in arrears (anniversary), 1 EUR per unit of a summed metric.
"""

from __future__ import annotations

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription, find_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import terminate

START, ROTATION, ANNIVERSARY = utc(2025, 3, 15), utc(2026, 3, 13), utc(2026, 3, 15)


def test_recreated_subscription_starts_at_the_termination_and_bills_usage_once(
    database: Database, org: Org
) -> None:
    billing = Billing(database, org)
    items = billing.metric("items", "sum_agg", field_name="item_count")
    charge = {"billable_metric_id": items, "charge_model": "standard",
              "properties": {"amount": "1"}}  # fmt: skip
    billing.plan("yearly", [charge], amount_cents=365_00, interval="yearly")
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "yearly", "sub", START, billing_time="anniversary")
    billing.events("sub", "items", *[(utc(2025, 6, 1), {"item_count": 10})] * 5)
    terminate(billing, "sub", ROTATION)
    body = {"external_customer_id": "cus", "plan_code": "yearly", "external_id": "sub",
            "billing_time": "anniversary", "subscription_at": START.isoformat()}  # fmt: skip
    with database.transaction() as session:
        create_subscription(session, org.id, parse_subscription(body, creating=True), ROTATION)
    with database.transaction(write=False) as session:
        old = find_subscription(session, org.id, "sub", "terminated")
        new = find_subscription(session, org.id, "sub", "active")
        assert new.id != old.id
        assert new.subscription_at == START
        assert new.started_at == old.terminated_at == ROTATION
    [ending] = billing.invoices()
    # Mar 15, 2025 - Mar 13, 2026: 364 of 365 days; 50 units of usage.
    assert (ending.fee("yearly").amount_cents, ending.fee("items").amount_cents) == (364_00, 50_00)
    billing.tick(ANNIVERSARY)
    _ending, anniversary = billing.invoices()
    [period] = anniversary.periods
    assert (period["subscription_id"], period["from"], period["charges_from"]) == (
        new.id, ROTATION, ROTATION)  # fmt: skip
    # Mar 13-14: 2 days of 365; no usage billed again.
    assert anniversary.fee("yearly").amount_cents == 2_00
    assert sum(fee.amount_cents for fee in anniversary.fees if fee.fee_type == "charge") == 0
