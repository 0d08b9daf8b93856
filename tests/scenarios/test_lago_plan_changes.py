"""Plan changes as Lago's scenario specs subscriptions/downgrade_spec.rb and
subscriptions/upgrade_spec.rb have them: the billing periods of start, upgrade and
downgrade invoices (the plan fee's range begins at the local start of the start day,
the charges' at the start instant: dates_service.rb#from_datetime), and one invoice
for the hand-over from the old subscription to the new one.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription, find_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc
from tests.scenarios.credit_notes import notes


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


def change_plan(billing: Billing, plan: str, at: datetime) -> None:
    body = {"external_customer_id": "cus", "plan_code": plan, "external_id": "sub",
            "billing_time": "anniversary"}  # fmt: skip
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), at)


def ids(billing: Billing, status: str) -> Any:
    with billing.database.transaction(write=False) as session:
        return find_subscription(session, billing.org.id, "sub", status).id


def api_periods(http: httpx.Client, invoice: InvoiceRow) -> list[dict[str, str]]:
    body = http.get(f"/invoices/{invoice.id}").json()["invoice"]
    keys = ("subscription_from_datetime", "subscription_to_datetime",
            "charges_from_datetime", "charges_to_datetime", "invoicing_reason")  # fmt: skip
    return [{key: period[key] for key in keys} for period in body["billing_periods"]]


def ranges(invoice: InvoiceRow) -> list[tuple[datetime | None, ...]]:
    return [(p["from"], p["to"], p["charges_from"], p["charges_to"]) for p in invoice.periods]


def test_start_invoice_periods_begin_on_the_local_start_day(
    billing: Billing, http: httpx.Client
) -> None:
    billing.plan("advance", [], amount_cents=1000, pay_in_advance=True)
    billing.customer("cus", timezone="Europe/Paris")
    # 00:00Z on Sep 5 is 02:00 in Paris: the day began at 22:00Z on Sep 4.
    billing.subscribe("cus", "advance", "sub", utc(2023, 9, 5), billing_time="anniversary")
    [start] = billing.invoices()
    assert start.fees_amount_cents == 1000
    assert api_periods(http, start) == [{
        "subscription_from_datetime": "2023-09-04T22:00:00Z",
        "subscription_to_datetime": "2023-10-04T21:59:59Z",
        "charges_from_datetime": "2023-09-05T00:00:00Z",
        "charges_to_datetime": "2023-10-04T21:59:59Z",
        "invoicing_reason": "subscription_starting",
    }]  # fmt: skip
    billing.tick(utc(2023, 10, 5, 1))
    _start, renewal = billing.invoices()
    # The next invoice's charges begin at the start instant; its plan fee is the next period.
    assert ranges(renewal) == [(utc(2023, 10, 4, 22), utc(2023, 11, 4, 22, 59, 59),
                                utc(2023, 9, 5), utc(2023, 10, 4, 21, 59, 59))]  # fmt: skip


def test_downgrade_hands_over_on_one_invoice(billing: Billing, http: httpx.Client) -> None:
    billing.plan("monthly", [], amount_cents=12_900, pay_in_advance=True)
    billing.plan("yearly", [], amount_cents=118_800, interval="yearly", pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "monthly", "sub", utc(2023, 7, 19, 12, 12), billing_time="anniversary")
    [start] = billing.invoices()
    assert start.fees_amount_cents == 12_900
    assert ranges(start)[0][:2] == (utc(2023, 7, 19), utc(2023, 8, 18, 23, 59, 59))
    for month in (8, 9, 10):
        billing.tick(utc(2023, month, 19, 12, 12))
    invoices = billing.invoices()
    assert [invoice.fees_amount_cents for invoice in invoices] == [12_900] * 4
    end = utc(2023, 8, 18, 23, 59, 59)
    assert ranges(invoices[1]) == [(utc(2023, 8, 19), utc(2023, 9, 18, 23, 59, 59),
                                    utc(2023, 7, 19, 12, 12), end)]  # fmt: skip
    end = utc(2023, 10, 18, 23, 59, 59)
    assert ranges(invoices[3]) == [(utc(2023, 10, 19), utc(2023, 11, 18, 23, 59, 59),
                                    utc(2023, 9, 19), end)]  # fmt: skip

    # 118,800 a year is less than 12,900 x 12: a downgrade, at the end of the period.
    change_plan(billing, "yearly", utc(2023, 11, 9))
    assert len(billing.invoices()) == 4
    billing.tick(utc(2023, 11, 19, 12, 12))
    old, new = ids(billing, "terminated"), ids(billing, "active")
    invoices = billing.invoices()
    assert len(invoices) == 5
    handover = invoices[4]
    assert handover.billing_date == date(2023, 11, 19)
    assert [(p["subscription_id"], p["reason"]) for p in handover.periods] == [
        (old, "subscription_terminating"), (new, "subscription_starting")]  # fmt: skip
    # The old plan, paid in advance, bills its last charges (none); the new one its first
    # period: Nov 19, 2023 to Jul 18, 2024, 243 of 366 days (2024 is a leap year).
    # 118,800 x 243 / 366 = 78,875.41.
    assert handover.fees_amount_cents == 78_875
    assert [fee.subscription_id for fee in handover.fees] == [new]
    assert api_periods(http, handover)[1] == {
        "subscription_from_datetime": "2023-11-19T00:00:00Z",
        "subscription_to_datetime": "2024-07-18T23:59:59Z",
        "charges_from_datetime": "2023-11-19T00:00:00Z",
        "charges_to_datetime": "2024-07-18T23:59:59Z",
        "invoicing_reason": "subscription_starting",
    }
    # The old plan's last period was used to its end: nothing to give back.
    assert notes(billing) == []
    billing.tick(utc(2023, 11, 20, 12))
    assert len(billing.invoices()) == 5


def test_downgrade_to_a_plan_paid_in_arrears_hands_over_on_the_billing_day(
    billing: Billing,
) -> None:
    billing.plan("big", [], amount_cents=10_000)
    billing.plan("small", [], amount_cents=1_000)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "big", "sub", utc(2023, 7, 19, 12, 12), billing_time="calendar")
    billing.tick(utc(2023, 8, 1))
    change_plan(billing, "small", utc(2023, 8, 21, 23, 59, 59))
    billing.tick(utc(2023, 9, 1))
    # July 19-31: 10,000 x 13 / 31 = 4,193.5; August whole on the hand-over invoice,
    # issued on the billing day; the new plan, in arrears, has nothing to bill yet.
    assert [(i.billing_date, i.fees_amount_cents, [p["reason"] for p in i.periods])
            for i in billing.invoices()] == [
        (date(2023, 8, 1), 4_194, ["subscription_periodic"]),
        (date(2023, 9, 1), 10_000, ["subscription_terminating"]),
    ]  # fmt: skip
    billing.tick(utc(2023, 10, 1))
    assert billing.invoices()[-1].fees_amount_cents == 1_000


def test_upgrade_bills_both_plans_on_one_invoice(billing: Billing, http: httpx.Client) -> None:
    billing.plan("monthly", [], amount_cents=1_000, pay_in_advance=True)
    billing.plan("yearly", [], amount_cents=12_000, interval="yearly", pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "monthly", "sub", utc(2023, 6, 29, 12, 12), billing_time="anniversary")
    billing.tick(utc(2023, 7, 29, 12, 12))
    billing.tick(utc(2023, 8, 29, 12, 12))
    invoices = billing.invoices()
    assert [invoice.fees_amount_cents for invoice in invoices] == [1_000] * 3
    assert ranges(invoices[0])[0][:2] == (utc(2023, 6, 29), utc(2023, 7, 28, 23, 59, 59))
    assert ranges(invoices[2]) == [(utc(2023, 8, 29), utc(2023, 9, 28, 23, 59, 59),
                                    utc(2023, 7, 29), utc(2023, 8, 28, 23, 59, 59))]  # fmt: skip

    change_plan(billing, "yearly", utc(2023, 9, 28, 5))
    invoices = billing.invoices()
    assert len(invoices) == 4
    upgrade = invoices[3]
    old, new = ids(billing, "terminated"), ids(billing, "active")
    assert [(p["subscription_id"], p["reason"]) for p in upgrade.periods] == [
        (old, "subscription_terminating"), (new, "subscription_starting")]  # fmt: skip
    assert (upgrade.periods[0]["charges_from"], upgrade.periods[0]["charges_to"]) == (
        utc(2023, 8, 29), utc(2023, 9, 28, 5))  # fmt: skip
    # Sep 28, 2023 to Jun 28, 2024: 275 days of 366; 12,000 x 275 / 366 = 9,016.39.
    assert upgrade.fees_amount_cents == 9_016
    assert api_periods(http, upgrade)[1] == {
        "subscription_from_datetime": "2023-09-28T00:00:00Z",
        "subscription_to_datetime": "2024-06-28T23:59:59Z",
        "charges_from_datetime": "2023-09-28T05:00:00Z",
        "charges_to_datetime": "2024-06-28T23:59:59Z",
        "invoicing_reason": "subscription_starting",
    }
    # The upgrade day is the new plan's: 1 unused day of 31 back, 1,000 / 31 = 32.26.
    [note] = notes(billing)
    assert note.credit_amount_cents == 32
