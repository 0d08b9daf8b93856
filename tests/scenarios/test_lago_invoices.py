"""Lago's scenario spec invoices/invoices_spec.rb, its cases about periods and
timezones, upgrades, terminations and grace periods. The organization's tax is 20 %
unless a case says 0 %.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.invoices.service import refresh_invoice
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import invoice_credits, notes, terminate

END = (23, 59, 59)


def billing_with_tax(database: Database, org: Org, rate: str) -> Billing:
    billing = Billing(database, org)
    billing.tax("org_tax", rate, applied_to_organization=True)
    return billing


def create(billing: Billing, plan: str, now: datetime, **fields: Any) -> None:
    body = {"external_customer_id": "cus", "plan_code": plan, "external_id": "sub", **fields}
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), now)


def test_a_trial_is_used_once_across_subscriptions_of_one_external_id(
    database: Database, org: Org
) -> None:
    billing = billing_with_tax(database, org, "0")
    billing.plan("p", [], amount_cents=3_500, pay_in_advance=True, trial_period=7)
    billing.customer("cus", timezone="UTC")
    create(billing, "p", utc(2024, 3, 4, 21))
    assert billing.invoices() == []
    billing.tick(utc(2024, 3, 11, 22))
    # The trial ended Mar 11, 21:00: Mar 11-31, 21 of 31 days of 35 EUR.
    [first] = billing.invoices()
    assert first.total_amount_cents == 2_371
    terminate(billing, "sub", utc(2024, 3, 11, 23))
    assert billing.invoices()[-1].total_amount_cents == 0
    # Terminated the day the trial ended: none of the 21 days was used.
    [note] = notes(billing)
    assert note.invoice_id == first.id
    assert (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents,
            note.total_amount_cents) == (2_371, 0, 2_371)  # fmt: skip
    # A new subscription of the same external id has no trial left.
    create(billing, "p", utc(2024, 3, 11, 23, 5))
    assert billing.invoices()[-1].fees_amount_cents == 2_371


@pytest.mark.parametrize(
    ("timezone", "created", "total"),
    [
        # Thursday Jun 15, 23:00 in Denver: Thursday to Sunday.
        ("America/Denver", utc(2023, 6, 16, 5), 400),
        ("America/Halifax", utc(2023, 6, 16, 5), 300),
        ("Europe/Paris", utc(2023, 6, 16, 20), 300),
        # Saturday Jun 17, 01:00 in Karachi.
        ("Asia/Karachi", utc(2023, 6, 16, 20), 200),
    ],
)
def test_weekly_start_in_the_customer_timezone(
    database: Database, org: Org, timezone: str, created: datetime, total: int
) -> None:
    billing = billing_with_tax(database, org, "0")
    billing.plan("weekly", [], amount_cents=700, pay_in_advance=True, interval="weekly")
    billing.customer("cus", timezone=timezone)
    create(billing, "weekly", created)
    [start] = billing.invoices()
    assert start.total_amount_cents == total


def test_leap_february(database: Database, org: Org) -> None:
    billing = billing_with_tax(database, org, "0")
    billing.plan("p", [], amount_cents=700, pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    create(billing, "p", utc(2023, 6, 16, 5), billing_time="calendar")
    billing.tick(utc(2024, 2, 1, 12, 12))
    february = billing.invoices()[-1]
    [period] = february.periods
    assert (period["from"], period["to"]) == (utc(2024, 2, 1), utc(2024, 2, 29, *END))
    assert (period["charges_from"], period["charges_to"]) == (
        utc(2024, 1, 1), utc(2024, 1, 31, *END))  # fmt: skip
    assert february.total_amount_cents == 700


def test_upgrade_then_termination_without_grace_period(database: Database, org: Org) -> None:
    billing = billing_with_tax(database, org, "20")
    level = billing.metric("level", "latest_agg", field_name="value")
    package = {"billable_metric_id": level, "charge_model": "package",
               "properties": {"amount": "2", "free_units": 1000, "package_size": 1000}}  # fmt: skip
    billing.plan("free", [], amount_cents=0)
    billing.plan("paid", [package], amount_cents=2_000)
    billing.customer("cus", timezone="UTC", invoice_grace_period=0)
    create(billing, "free", utc(2024, 4, 24, 10))
    create(billing, "paid", utc(2024, 4, 24, 11))
    [upgrade] = billing.invoices()
    assert (upgrade.status, upgrade.total_amount_cents) == ("finalized", 0)
    [period] = upgrade.periods
    assert (period["reason"], period["from"], period["to"], period["charges_from"],
            period["charges_to"]) == ("subscription_terminating", utc(2024, 4, 24),
                                      utc(2024, 4, 24, 11), utc(2024, 4, 24, 10),
                                      utc(2024, 4, 24, 11))  # fmt: skip
    terminate(billing, "sub", utc(2024, 4, 26, 11))
    ending = billing.invoices()[-1]
    # Apr 24-26: 3 days of 30 of 20 EUR = 2 EUR, + 20 %.
    assert (ending.status, ending.total_amount_cents) == ("finalized", 240)
    [period] = ending.periods
    assert (period["reason"], period["from"], period["to"], period["charges_from"],
            period["charges_to"]) == ("subscription_terminating", utc(2024, 4, 24),
                                      utc(2024, 4, 26, 11), utc(2024, 4, 24, 11),
                                      utc(2024, 4, 26, 11))  # fmt: skip


def test_termination_invoice_in_grace_period_keeps_its_amount_on_refresh(
    database: Database, org: Org
) -> None:
    billing = billing_with_tax(database, org, "20")
    calls = billing.metric("calls")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "3"}}], amount_cents=1_000)  # fmt: skip
    billing.customer("cus", timezone="UTC", invoice_grace_period=3)
    create(billing, "p", utc(2022, 12, 15))
    terminate(billing, "sub", utc(2022, 12, 20, 6))
    [invoice] = billing.invoices()
    # Dec 15-20: 6 of 31 days = 193.55 -> 194, + 20 % = 233.
    assert (invoice.status, invoice.total_amount_cents) == ("draft", 233)
    with database.transaction() as session:
        refresh_invoice(session, org.id, str(invoice.id), utc(2022, 12, 21))
    assert billing.invoices()[0].total_amount_cents == 233


def recurring_setup(database: Database, org: Org, **charge: Any) -> tuple[Billing, dict[str, Any]]:
    billing = billing_with_tax(database, org, "20")
    amount = billing.metric("amount", "sum_agg", field_name="amount", recurring=True)
    standard = {"billable_metric_id": amount, "charge_model": "standard",
                "properties": {"amount": "3"}, **charge}  # fmt: skip
    billing.customer("cus", timezone="UTC")
    return billing, standard


def charge_fees(billing: Billing, index: int = 0) -> list[int]:
    invoice = billing.invoices()[index]
    return [fee.amount_cents for fee in invoice.fees if fee.fee_type == "charge"]


def test_terminated_recurring_charge_is_billed(database: Database, org: Org) -> None:
    billing, standard = recurring_setup(database, org)
    billing.plan("p", [standard], amount_cents=1_000)
    create(billing, "p", utc(2022, 12, 15))
    billing.events("sub", "amount", (utc(2022, 12, 16, 10, 12), {"amount": 0}))
    terminate(billing, "sub", utc(2022, 12, 20, 6))
    assert charge_fees(billing) == [0]


def test_terminated_prorated_recurring_charge(database: Database, org: Org) -> None:
    billing, standard = recurring_setup(database, org, prorated=True)
    billing.plan("p", [standard], amount_cents=1_000)
    create(billing, "p", utc(2022, 12, 15))
    billing.events("sub", "amount", (utc(2022, 12, 16, 10, 12), {"amount": 10}))
    terminate(billing, "sub", utc(2022, 12, 20, 6))
    # 10 units held Dec 16-20, 5 of 31 days: 1.6129 x 3 EUR.
    assert charge_fees(billing) == [484]


def test_terminated_yearly_plan_without_charges_bills_its_fee(database: Database, org: Org) -> None:
    billing = billing_with_tax(database, org, "20")
    billing.plan("p", [], amount_cents=1_000, interval="yearly")
    billing.customer("cus", timezone="UTC")
    create(billing, "p", utc(2022, 12, 15))
    terminate(billing, "sub", utc(2022, 12, 20, 6))
    [invoice] = billing.invoices()
    assert [fee.fee_type for fee in invoice.fees] == ["subscription"]


@pytest.mark.parametrize(("same_metric", "billed"), [(False, [0]), (True, [])])
def test_upgrade_bills_recurring_charges_the_new_plan_does_not_carry(
    database: Database, org: Org, same_metric: bool, billed: list[int]
) -> None:
    billing, standard = recurring_setup(database, org)
    billing.plan("p", [standard], amount_cents=1_000)
    billing.plan("bigger", [standard] if same_metric else [], amount_cents=2_000)
    create(billing, "p", utc(2022, 12, 15))
    if not same_metric:
        billing.events("sub", "amount", (utc(2022, 12, 16, 10, 12), {"amount": 0}))
    create(billing, "bigger", utc(2022, 12, 20, 6))
    [upgrade] = billing.invoices()
    old = upgrade.periods[0]["subscription_id"]
    assert [f.amount_cents for f in upgrade.fees if f.fee_type == "charge"
            and f.subscription_id == old] == billed  # fmt: skip


def test_terminated_pay_in_advance_recurring_charge_bills_no_charge(
    database: Database, org: Org
) -> None:
    billing, standard = recurring_setup(database, org, pay_in_advance=True, prorated=True)
    billing.plan("p", [standard], amount_cents=1_000)
    create(billing, "p", utc(2022, 12, 15))
    terminate(billing, "sub", utc(2022, 12, 20, 6))
    assert charge_fees(billing, -1) == []


def subscribed_with_five_units(database: Database, org: Org, advance: bool) -> Billing:
    """29 EUR and 290 EUR a month (calendar), 1 EUR per unit of a recurring sum prorated
    by day; no tax. 5 units from Jan 2, 2024; billed Feb 1."""
    billing = billing_with_tax(database, org, "0")
    amount = billing.metric("amount", "sum_agg", field_name="amount", recurring=True)
    standard = {"billable_metric_id": amount, "charge_model": "standard",
                "properties": {"amount": "1"}, "prorated": True}  # fmt: skip
    billing.plan("small", [standard], amount_cents=2_900, pay_in_advance=advance)
    billing.plan("big", [standard], amount_cents=29_000, pay_in_advance=advance)
    billing.customer("cus", timezone="UTC")
    create(billing, "small", utc(2024, 1, 1), billing_time="calendar")
    billing.events("sub", "amount", (utc(2024, 1, 2), {"amount": 5}))
    billing.tick(utc(2024, 2, 1))
    return billing


def test_upgrade_of_a_plan_paid_in_advance(database: Database, org: Org) -> None:
    billing = subscribed_with_five_units(database, org, advance=True)
    create(billing, "big", utc(2024, 2, 12, 6), billing_time="calendar")
    assert len(billing.invoices()) == 3
    # Feb 12-29, 18 of 29 days unused of 29 EUR (the upgrade day is the new plan's).
    [note] = notes(billing)
    assert note.credit_amount_cents == 1_800
    # 18 days of 290 EUR, and the old plan's 5 units over Feb 1-11 (11/29 x 5 EUR),
    # less the credit.
    assert billing.invoices()[-1].total_amount_cents == 18_000 + 190 - 1_800
    billing.tick(utc(2024, 3, 1, 12, 12))
    # March in advance, and 5 units over Feb 12-29.
    assert billing.invoices()[-1].total_amount_cents == 29_000 + 310


def test_upgrade_of_a_plan_paid_in_arrears(database: Database, org: Org) -> None:
    billing = subscribed_with_five_units(database, org, advance=False)
    create(billing, "big", utc(2024, 2, 12, 6), billing_time="calendar")
    assert len(billing.invoices()) == 2
    # Feb 1-11: 11 of 29 days of 29 EUR, and 11/29 x 5 units.
    assert billing.invoices()[-1].total_amount_cents == 1_100 + 190
    billing.tick(utc(2024, 3, 1, 12, 12))
    assert billing.invoices()[-1].total_amount_cents == 18_000 + 310


def test_termination_of_a_plan_paid_in_advance_with_prorated_usage(
    database: Database, org: Org
) -> None:
    billing = subscribed_with_five_units(database, org, advance=True)
    terminate(billing, "sub", utc(2024, 2, 12, 6))
    assert len(billing.invoices()) == 3
    # Feb 13-29 unused: 17 of 29 days.
    [note] = notes(billing)
    assert note.credit_amount_cents == 1_700
    # 12/29 x 5 units = 207, all paid by the credit.
    last = billing.invoices()[-1]
    assert (last.fees_amount_cents, last.total_amount_cents) == (207, 0)
    assert invoice_credits(billing, last.id) == (207, 0)


@pytest.mark.parametrize(("events", "charge"), [(0, []), (1, [1_200])])
def test_plan_paid_in_advance_terminated_the_day_it_started(
    database: Database, org: Org, events: int, charge: list[int]
) -> None:
    billing = billing_with_tax(database, org, "0")
    calls = billing.metric("calls")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "12"}}],
                 amount_cents=2_900, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    create(billing, "p", utc(2024, 2, 1, 3), billing_time="calendar")
    for _ in range(events):
        billing.events("sub", "calls", (utc(2024, 2, 1, 10), {}))
    terminate(billing, "sub", utc(2024, 2, 1, 18))
    first, last = billing.invoices()
    # Only Feb 1 is used: 28 of 29 days back.
    [note] = notes(billing)
    assert (note.invoice_id, note.credit_amount_cents) == (first.id, 2_800)
    assert [f.amount_cents for f in last.fees if f.fee_type == "charge"] == charge
    assert last.total_amount_cents == 0


def test_events_on_the_day_of_plan_changes(database: Database, org: Org) -> None:
    billing = billing_with_tax(database, org, "0")
    amount = billing.metric("amount", "sum_agg", field_name="amount")
    for code, price in (("free", "0"), ("priced", "1")):
        billing.plan(code, [{"billable_metric_id": amount, "charge_model": "standard",
                             "properties": {"amount": price}}], amount_cents=0)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    create(billing, "free", utc(2024, 1, 10, 6, 20), billing_time="anniversary")
    billing.events("sub", "amount", (utc(2024, 1, 10, 8, 20), {"amount": 10}))

    def usage(now: datetime) -> tuple[int, int, str]:
        found = billing.usage("cus", "sub", now)
        return (found["amount_cents"], found["total_amount_cents"],
                found["charges_usage"][0]["units"])  # fmt: skip

    assert usage(utc(2024, 1, 10, 8, 25)) == (0, 0, "10.0")
    # Plans of equal price: an upgrade, at once.
    create(billing, "priced", utc(2024, 1, 10, 8, 30), billing_time="anniversary")
    [first] = billing.invoices()
    assert first.total_amount_cents == 0
    assert usage(utc(2024, 1, 10, 8, 31)) == (0, 0, "0.0")
    billing.events("sub", "amount", (utc(2024, 1, 10, 8, 35), {"amount": 10_000}))
    assert usage(utc(2024, 1, 10, 8, 36)) == (1_000_000, 1_000_000, "10000.0")
    create(billing, "free", utc(2024, 1, 10, 8, 40), billing_time="anniversary")
    assert billing.invoices()[-1].total_amount_cents == 1_000_000
    assert usage(utc(2024, 1, 10, 8, 41)) == (0, 0, "0.0")


def test_termination_of_a_plan_paid_in_arrears_with_prorated_usage(
    database: Database, org: Org
) -> None:
    billing = subscribed_with_five_units(database, org, advance=False)
    terminate(billing, "sub", utc(2024, 2, 12, 6))
    january, ending = billing.invoices()
    # January: 29 EUR and 5 units over Jan 2-31 (30/31 x 5 EUR).
    assert january.total_amount_cents == 2_900 + 484
    # Feb 1-12: 12 of 29 days of 29 EUR, and 12/29 x 5 units.
    assert ending.total_amount_cents == 1_200 + 207


def test_termination_credit_waits_for_the_draft_it_pays(database: Database, org: Org) -> None:
    billing = billing_with_tax(database, org, "0")
    amount = billing.metric("amount", "sum_agg", field_name="amount", recurring=True)
    billing.plan("p", [{"billable_metric_id": amount, "charge_model": "standard",
                        "properties": {"amount": "1"}, "prorated": True}],
                 amount_cents=2_900, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC", invoice_grace_period=3)
    create(billing, "p", utc(2024, 1, 1), billing_time="calendar")
    billing.events("sub", "amount", (utc(2024, 1, 2), {"amount": 5}))
    billing.tick(utc(2024, 2, 1))
    billing.tick(utc(2024, 2, 5))
    terminate(billing, "sub", utc(2024, 2, 12, 6))
    ending = billing.invoices()[-1]
    [note] = notes(billing)
    # 17 unused days of February's 29 EUR; the termination invoice (12/29 x 5 units)
    # is a draft: the credit is spent when it is finalized.
    assert (note.credit_amount_cents, note.balance_amount_cents) == (1_700, 1_700)
    assert (ending.status, ending.total_amount_cents) == ("draft", 207)
    assert invoice_credits(billing, ending.id) == (0, 207)
    billing.tick(utc(2024, 2, 15, 1))
    assert invoice_credits(billing, ending.id) == (207, 0)
    assert notes(billing)[0].balance_amount_cents == 1_700 - 207
