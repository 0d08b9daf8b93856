"""The dates of regrouped fees and of their `advance_charges` invoice, as Lago's scenario
spec invoices/advance_charges_dates_spec.rb has them: cards (a recurring unique count)
at 30.12 EUR, prorated, paid in advance outside invoices and regrouped, on plans of 0.49
and 2.59 EUR paid in advance (calendar, UTC), from Jun 5, 2024, 10:00; fees paid through
`PUT /fees/{id}` months later.

A fee keeps the dates of its creation: its range from the local start of its first day,
its charges from the period's start instant. The invoice's billing periods (one per
subscription with fees, reason `in_advance_charge_periodic`) are the charges period the
billing closes: the month before a billing day, or up to a termination.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select, update

from meterbill.core.db import Database
from meterbill.invoices.models import Fee
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import terminate
from tests.scenarios.test_lago_advance_charges import START, advance_charges, cards_charge, change

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True


def setup(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    billing.tax("vat", "20")
    cards = billing.metric("cards", "unique_count_agg", field_name="item_id", recurring=True)
    billing.plan("p", [cards_charge(cards, "30.12")], amount_cents=49, pay_in_advance=True)
    billing.plan("up", [cards_charge(cards, "30.12")], amount_cents=259, pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    change(billing, "p", START)
    billing.tick(START)
    return billing


def cards(billing: Billing, http: httpx.Client, at: datetime, *items: str) -> list[str]:
    """The ids of the fees the cards' events create (cards at one instant: any order)."""
    billing.events("sub", "cards", *[(at, {"item_id": item}) for item in items])
    billing.tick(at)
    fees = http.get("/fees", params={"per_page": 100}).json()["fees"]
    created = at.isoformat().replace("+00:00", "Z")
    found = [str(fee["lago_id"]) for fee in fees
             if fee["created_at"] == created and fee["item"]["type"] == "charge"]  # fmt: skip
    assert len(found) == len(items)
    return found


def card(billing: Billing, http: httpx.Client, at: datetime, item: str) -> str:
    [fee_id] = cards(billing, http, at, item)
    return fee_id


def pay(billing: Billing, at: datetime, *fee_ids: str) -> None:
    # In the database, as `PUT /fees/{id}` would at `at` (the server's clock is the wall's).
    with billing.database.transaction() as session:
        session.execute(
            update(Fee)
            .where(Fee.id.in_([uuid.UUID(fee_id) for fee_id in fee_ids]))
            .values(payment_status="succeeded", succeeded_at=at)
        )


def periods(http: httpx.Client, invoice_id: Any) -> list[dict[str, str]]:
    body = http.get(f"/invoices/{invoice_id}").json()["invoice"]
    keys = ("subscription_from_datetime", "subscription_to_datetime",
            "charges_from_datetime", "charges_to_datetime", "invoicing_reason")  # fmt: skip
    return [{key: period[key] for key in keys} for period in body["billing_periods"]]


def fee_dates(
    billing: Billing, http: httpx.Client, invoice_id: Any
) -> list[tuple[str, str, str, str]]:
    """Each regrouped fee's from_date and to_date (API) and charges range (properties)."""
    fees = http.get("/fees", params={"per_page": 100}).json()["fees"]
    mine = sorted(
        (fee for fee in fees if fee["lago_invoice_id"] == str(invoice_id)),
        key=lambda fee: fee["created_at"],
    )
    with billing.database.transaction(write=False) as session:
        properties = {
            str(fee_id): values
            for fee_id, values in session.execute(
                select(Fee.id, Fee.properties).where(Fee.invoice_id == invoice_id)
            )
        }
    return [(fee["from_date"], fee["to_date"],
             properties[fee["lago_id"]]["charges_from_datetime"],
             properties[fee["lago_id"]]["charges_to_datetime"]) for fee in mine]  # fmt: skip


def period(start: str, end: str) -> dict[str, str]:
    return {"subscription_from_datetime": start, "subscription_to_datetime": end,
            "charges_from_datetime": start, "charges_to_datetime": end,
            "invoicing_reason": "in_advance_charge_periodic"}  # fmt: skip


OCTOBER = period("2024-10-01T00:00:00Z", "2024-10-31T23:59:59Z")


def test_upgraded_renewed_and_terminated(database: Database, org: Org, http: httpx.Client) -> None:
    billing = setup(database, org)
    first = card(billing, http, utc(2024, 6, 12, 10), "card_1")
    change(billing, "up", utc(2024, 7, 7, 10))
    second = card(billing, http, utc(2024, 7, 22, 10), "card_2")
    for day in (utc(2024, 8, 1, 10), utc(2024, 9, 1, 10), utc(2024, 10, 1, 10)):
        billing.tick(day)
    pay(billing, utc(2024, 10, 2, 10), first, second)
    billing.tick(utc(2024, 11, 1, 10))
    [invoice] = advance_charges(billing)
    # The fees keep the periods they were created in.
    assert fee_dates(billing, http, invoice.id) == [
        ("2024-06-05T00:00:00Z", "2024-06-30T23:59:59Z",
         "2024-06-05T10:00:00Z", "2024-06-30T23:59:59Z"),
        ("2024-07-07T00:00:00Z", "2024-07-31T23:59:59Z",
         "2024-07-07T10:00:00Z", "2024-07-31T23:59:59Z"),
    ]  # fmt: skip
    # One period per subscription (the upgraded one and the new one): October.
    assert periods(http, invoice.id) == [OCTOBER, OCTOBER]

    # Of card_3 and card_4 (equal fees), one will be paid.
    more = cards(billing, http, utc(2024, 11, 18, 10), "card_3", "card_4")
    billing.tick(utc(2024, 12, 1, 10))
    more.append(card(billing, http, utc(2024, 12, 12, 10), "card_5"))
    billing.tick(utc(2025, 1, 1, 10))
    assert len(advance_charges(billing)) == 1
    pay(billing, utc(2025, 1, 7, 10), more[0], more[2])
    terminate(billing, "sub", utc(2025, 1, 22, 10))
    last = advance_charges(billing)[-1]
    assert len(fee_dates(billing, http, last.id)) == 2
    assert periods(http, last.id) == [period("2025-01-01T00:00:00Z", "2025-01-22T10:00:00Z")]


def test_upgraded_without_events_on_the_new_plan(
    database: Database, org: Org, http: httpx.Client
) -> None:
    billing = setup(database, org)
    first = card(billing, http, utc(2024, 6, 12, 10), "card_1")
    change(billing, "up", utc(2024, 7, 7, 10))
    for day in (utc(2024, 8, 1, 10), utc(2024, 9, 1, 10), utc(2024, 10, 1, 10)):
        billing.tick(day)
    pay(billing, utc(2024, 10, 2, 10), first)
    billing.tick(utc(2024, 11, 1, 10))
    [invoice] = advance_charges(billing)
    assert fee_dates(billing, http, invoice.id) == [
        ("2024-06-05T00:00:00Z", "2024-06-30T23:59:59Z",
         "2024-06-05T10:00:00Z", "2024-06-30T23:59:59Z"),
    ]  # fmt: skip
    assert periods(http, invoice.id) == [OCTOBER]
