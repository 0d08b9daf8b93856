"""Lago's scenario spec delete_customer_spec.rb: a customer with two drafts in their grace
period, a downgrade waiting for the next period, a coupon and a wallet is deleted; every
relation ends and every draft is finalized.

Lago's spec bills Jan 1 without finalizing anything (its `perform_billing` runs only the
billing job); meterbill's clock runs every job, so December's draft leaves its 3-day grace
period at that tick, and January's draft is still one when the customer is deleted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.subscriptions.models import Subscription
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.credit_notes import notes
from tests.scenarios.deletion import Deletion
from tests.scenarios.wallets import standard


def statuses(deletion: Deletion, customer_id: Any) -> list[tuple[str, Any]]:
    """The customer's subscriptions (both hold the external id of a plan change)."""
    with deletion.database.transaction(write=False) as session:
        rows = session.scalars(select(Subscription).where(Subscription.customer_id == customer_id))
        return sorted((row.status, row.terminated_at or row.canceled_at) for row in rows)


def test_deleting_the_customer_ends_every_relation(database: Database, org: Org) -> None:
    deletion = Deletion(database, org)
    metric = deletion.metric("calls")
    deletion.plan("p", [standard(metric, "3")], amount_cents=1_000, pay_in_advance=True)
    deletion.plan("down", [], amount_cents=500)
    deletion.customer("cus", timezone="UTC", invoice_grace_period=3)
    deletion.subscribe("cus", "p", "cus", utc(2022, 12, 15))
    deletion.tick(utc(2022, 12, 15))
    [december] = deletion.invoices("cus")
    # Dec 15-31 of 1 000: 17 / 31 days = 548.39.
    assert (december.status, december.totals) == ("draft", (548, 0, 548, 0, 548, 548))
    deletion.tick(utc(2023, 1, 1))
    december, january = deletion.invoices("cus")
    assert (december.status, january.status) == ("finalized", "draft")
    assert january.totals == (1_000, 0, 1_000, 0, 1_000, 1_000)

    now = utc(2023, 1, 20)
    deletion.subscribe("cus", "down", "cus", now, subscription_at="2023-02-01T00:00:00Z")
    deletion.coupon("coupon1_code", coupon_type="fixed_amount", frequency="once",
                    amount_cents=123, amount_currency="EUR", expiration="time_limit",
                    expiration_at=utc(2023, 2, 4).isoformat(), reusable=False)  # fmt: skip
    deletion.apply("cus", "coupon1_code", now)
    wallet = deletion.wallet("cus", now, name="Wallet1", paid_credits="10", granted_credits="10",
                             expiration_at="2023-02-04T00:00:00Z")  # fmt: skip
    customer_id = deletion.customer_row("cus").id
    assert statuses(deletion, customer_id) == [("active", None), ("pending", None)]

    deletion.delete("cus", now)

    assert deletion.customer_row("cus").deleted_at == now
    assert statuses(deletion, customer_id) == [("canceled", now), ("terminated", now)]
    assert deletion.applied_coupons(customer_id) == [("terminated", None)]
    assert deletion.read(wallet, now)["status"] == "terminated"
    december, january, credit, termination = deletion.invoices("cus")
    assert [i.status for i in (december, january, credit, termination)] == ["finalized"] * 4
    # January's draft, finalized by the deletion: the coupon, then the granted credits.
    assert (january.totals, january.credits) == ((1_000, 123, 877, 0, 877, 0),
                                                 [("coupon1_code", 123)])  # fmt: skip
    assert (credit.fees[0].fee_type, credit.total_amount_cents) == ("credit", 1_000)
    # The termination invoice of a plan paid in advance without usage: nothing to bill.
    assert (termination.periods[0]["reason"], termination.totals) == (
        "subscription_terminating", (0, 0, 0, 0, 0, 0))  # fmt: skip
    # Jan 21-31 unused, 11 / 31 of what was billed after the coupon: 877 x 11 / 31 = 311.19.
    [note] = notes(deletion)
    assert (note.number, note.total_amount_cents) == (f"{january.number}-CN001", 311)
    # The paid credits were never paid; what the granted ones had left is voided.
    assert [(t.transaction_status, t.status, t.amount_cents)
            for t in deletion.transactions(wallet)] == [
        ("granted", "settled", 1_000), ("invoiced", "settled", 877),
        ("purchased", "pending", 1_000), ("voided", "settled", 123)]  # fmt: skip
