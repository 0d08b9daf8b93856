"""The rest of Lago's scenario spec subscriptions/free_trial_billing_spec.rb (its first
cases are in test_trials.py): 50,000.00 EUR a month paid in advance (calendar), 10 EUR
per event; upgrades during the trial to 100,000.00 EUR with a 13-day trial and 12 EUR
per event; a minimum commitment; trials ending on a billing day.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription, find_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc

START = utc(2024, 3, 5, 12, 12)


class Trials(Billing):
    def plans(self, **extra: Any) -> None:
        calls = self.metric("calls")
        for code, trial, amount, price in (("base", 10, 5_000_000, "10"),
                                           ("long", 45, 5_000_000, "10"),
                                           ("up", 13, 10_000_000, "12")):  # fmt: skip
            charge = {"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": price}}  # fmt: skip
            self.plan(code, [charge], amount_cents=amount, pay_in_advance=True,
                      trial_period=trial, **extra)  # fmt: skip

    def start(self, code: str, now: datetime) -> None:
        body = {"external_customer_id": "cus", "plan_code": code, "external_id": "sub"}
        with self.database.transaction() as session:
            create_subscription(session, self.org.id, parse_subscription(body, creating=True), now)

    def call(self, at: datetime) -> None:
        self.events("sub", "calls", (at, {}))


@pytest.fixture
def trials(database: Database, org: Org) -> Trials:
    return Trials(database, org)


def fees(invoice: InvoiceRow) -> list[tuple[str, int]]:
    return sorted((fee.fee_type, fee.amount_cents) for fee in invoice.fees)


def test_upgrade_during_the_trial(trials: Trials) -> None:
    trials.plans()
    trials.customer("cus", timezone="UTC")
    trials.start("base", START)
    trials.tick(START)
    trials.call(utc(2024, 3, 8))
    trials.start("up", utc(2024, 3, 10, 12, 12))
    trials.tick(utc(2024, 3, 10, 12, 12))
    # The old plan's usage is billed at the upgrade; no plan fee, both are in trial.
    [upgrade] = trials.invoices()
    assert fees(upgrade) == [("charge", 1_000)]
    trials.call(utc(2024, 3, 11))
    trials.tick(utc(2024, 3, 15, 13))
    assert len(trials.invoices()) == 1
    # The new plan's trial counts from the first start: it ends Mar 18, 12:12.
    trials.tick(utc(2024, 3, 18, 13))
    trial_end = trials.invoices()[-1]
    # Mar 18-31: 14 of 31 days of 100,000.00 EUR.
    assert fees(trial_end) == [("subscription", 4_516_129)]
    trials.tick(utc(2024, 4, 1, 12, 12))
    april = trials.invoices()[-1]
    assert fees(april) == [("charge", 1_200), ("subscription", 10_000_000)]


def test_upgrade_on_the_first_day_of_the_trial_with_a_grace_period(trials: Trials) -> None:
    trials.plans()
    trials.customer("cus", timezone="UTC", invoice_grace_period=2)
    trials.start("base", START)
    trials.call(utc(2024, 3, 5, 13))
    trials.start("up", utc(2024, 3, 5, 13, 15))
    trials.tick(utc(2024, 3, 5, 13, 15))
    [upgrade] = trials.invoices()
    assert (upgrade.status, fees(upgrade)) == ("draft", [("charge", 1_000)])
    trials.tick(utc(2024, 3, 7, 18))
    [upgrade] = trials.invoices()
    assert (upgrade.status, fees(upgrade)) == ("finalized", [("charge", 1_000)])
    trials.call(utc(2024, 3, 5, 15))
    trials.call(utc(2024, 3, 5, 15, 1))
    trials.tick(utc(2024, 3, 18, 13))
    assert fees(trials.invoices()[-1]) == [("subscription", 4_516_129)]
    trials.tick(utc(2024, 4, 1, 12, 12))
    trials.tick(utc(2024, 4, 3, 13))
    april = trials.invoices()[-1]
    assert fees(april) == [("charge", 2_400), ("subscription", 10_000_000)]


def test_minimum_commitment_is_trued_up_after_the_trial(trials: Trials) -> None:
    trials.plans(minimum_commitment={"amount_cents": 10_000_000})
    trials.customer("cus", timezone="UTC")
    trials.start("long", START)
    trials.call(utc(2024, 3, 10))
    trials.tick(utc(2024, 4, 1))
    # March: its usage; no plan fee and no commitment for a period in trial.
    [march] = trials.invoices()
    assert fees(march) == [("charge", 1_000)]
    trials.call(utc(2024, 4, 10))
    trials.tick(utc(2024, 4, 19, 13, 1))
    # Apr 19-30: 12 of 30 days.
    assert fees(trials.invoices()[-1]) == [("subscription", 2_000_000)]
    trials.tick(utc(2024, 5, 1))
    may = trials.invoices()[-1]
    # April owed 10,000,000 and was billed 2,000,000 + 1,000.
    assert fees(may) == [("charge", 1_000), ("commitment", 7_999_000),
                         ("subscription", 5_000_000)]  # fmt: skip


def test_trial_ending_on_the_billing_day_bills_the_whole_period(trials: Trials) -> None:
    trials.plans()
    trials.customer("cus", timezone="Europe/Paris")
    start = utc(2024, 3, 22, 1, 12)
    trials.start("base", start)
    trials.call(utc(2024, 3, 23))
    assert trials.invoices() == []
    # Apr 1, 00:01 in Paris; the trial ends at 03:12 there, that day.
    trials.tick(utc(2024, 3, 31, 22, 1))
    [april] = trials.invoices()
    assert fees(april) == [("charge", 1_000), ("subscription", 5_000_000)]
    trials.tick(utc(2024, 4, 1, 13, 11))
    assert len(trials.invoices()) == 1
    with trials.database.transaction(write=False) as session:
        ended = find_subscription(session, trials.org.id, "sub", "active").trial_ended_at
    assert ended == utc(2024, 4, 1, 1, 12)


def test_trial_ending_the_day_after_the_billing_day_in_tokyo(trials: Trials) -> None:
    trials.plans()
    trials.customer("cus", timezone="Asia/Tokyo")
    # Mar 23, 03:12 in Tokyo; the trial ends Apr 2, 03:12 there.
    trials.start("base", utc(2024, 3, 22, 18, 12))
    trials.call(utc(2024, 3, 28))
    trials.tick(utc(2024, 3, 31, 15, 10))  # Apr 1, 00:10 in Tokyo
    [march] = trials.invoices()
    assert fees(march) == [("charge", 1_000)]
    trials.tick(utc(2024, 4, 1, 13, 11))
    assert len(trials.invoices()) == 1
    trials.tick(utc(2024, 4, 1, 19, 11))  # Apr 2, 04:11 in Tokyo
    # Apr 2-30: 29 of 30 days.
    assert fees(trials.invoices()[-1]) == [("subscription", 4_833_333)]
