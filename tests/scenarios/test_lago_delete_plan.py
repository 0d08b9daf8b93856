"""Deleting a plan, as Lago's scenario spec delete_plan_spec.rb has it: a plan of 10 EUR
paid in advance with a count charge at 3, a customer with a 3-day grace period,
subscribed Dec 15, 2022, and an overridden copy of the plan (here a second subscription
with its own price, 20 EUR). Deleting the plan on Jan 20 deletes the copy too,
terminates both subscriptions and finalizes every draft invoice at once: the January
one, still in its grace period, and the termination invoices.

(Lago's spec runs no clock between Dec 15 and the deletion, so its December draft is
finalized by the deletion too; meterbill's clock finalizes it on Jan 1, its grace period
over.)
"""

from __future__ import annotations

from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.plans.models import Plan
from meterbill.plans.service import delete_plan
from meterbill.subscriptions.models import Subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def statuses(billing: Billing) -> list[tuple[str, str, int]]:
    return [(invoice.billing_date.isoformat(), invoice.status, invoice.total_amount_cents)
            for invoice in billing.invoices()]  # fmt: skip


def test_deleting_a_plan_ends_its_subscriptions_and_finalizes_their_drafts(
    database: Database, org: Org
) -> None:
    billing = Billing(database, org)
    metric_id = billing.metric("m")
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "standard",
                        "properties": {"amount": "3"}}], amount_cents=1_000,
                 pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC", invoice_grace_period=3)
    billing.subscribe("cus", "p", "sub", utc(2022, 12, 15))
    billing.subscribe("cus", "p", "copy", utc(2022, 12, 15), plan_overrides={"amount_cents": 2_000})
    billing.tick(utc(2022, 12, 15, 1))
    # 17 of December's 31 days of each plan, paid in advance.
    assert sorted(statuses(billing)) == [("2022-12-15", "draft", 548),
                                         ("2022-12-15", "draft", 1_097)]  # fmt: skip
    billing.tick(utc(2023, 1, 1))
    assert statuses(billing)[-1] == ("2023-01-01", "draft", 3_000)

    with billing.database.transaction() as session:
        delete_plan(session, billing.org.id, "p", utc(2023, 1, 20))
    with billing.database.transaction(write=False) as session:
        plans = session.scalars(select(Plan).where(Plan.organization_id == billing.org.id)).all()
        assert len(plans) == 2 and all(plan.deleted_at is not None for plan in plans)
        ended = session.scalars(
            select(Subscription.status).where(Subscription.organization_id == billing.org.id)
        ).all()
        assert ended == ["terminated", "terminated"]
    # Nothing left in draft: January's invoice and both termination invoices (no usage,
    # the plans paid in advance) are finalized with the deletion.
    assert sorted(statuses(billing)) == [
        ("2022-12-15", "finalized", 548), ("2022-12-15", "finalized", 1_097),
        ("2023-01-01", "finalized", 3_000),
        ("2023-01-20", "finalized", 0), ("2023-01-20", "finalized", 0),
    ]  # fmt: skip
