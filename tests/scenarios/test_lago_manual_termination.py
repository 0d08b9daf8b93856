"""Terminating a subscription by hand, as Lago's scenario spec
subscriptions/terminate_manually_spec.rb has it: 100 EUR a month (calendar), a 20 %
tax on the organization, 1 EUR per unit of a summed metric; the subscription starts on
Feb 8, 2025 and 5 events of 10 units come on Feb 10.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.subscriptions.service import find_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import invoice_credits, notes, record_payment, terminate

START, EVENTS, END = utc(2025, 2, 8), utc(2025, 2, 10), utc(2025, 2, 21)


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    items = billing.metric("items", "sum_agg", field_name="item_count")
    charge = {"billable_metric_id": items, "charge_model": "standard",
              "properties": {"amount": "1"}}  # fmt: skip
    billing.plan("advance", [charge], amount_cents=100_00, pay_in_advance=True)
    billing.plan("arrears", [charge], amount_cents=100_00)
    billing.customer("cus", timezone="UTC")
    return billing


def start(billing: Billing, plan: str, events_at: datetime = EVENTS) -> None:
    billing.subscribe("cus", plan, "sub", START)
    billing.events("sub", "items", *[(events_at, {"item_count": 10})] * 5)


def option(billing: Billing, name: str) -> Any:
    with billing.database.transaction(write=False) as session:
        return getattr(find_subscription(session, billing.org.id, "sub", "terminated"), name)


def test_paid_in_advance_start_invoice(billing: Billing) -> None:
    start(billing, "advance")
    [invoice] = billing.invoices()
    # Feb 8-28: 21 of 28 days, 75 EUR + 20 % = 90 EUR.
    assert (invoice.taxes_amount_cents, invoice.total_amount_cents) == (15_00, 90_00)


def test_default_termination_credits_seven_days_and_bills_the_usage(billing: Billing) -> None:
    start(billing, "advance")
    terminate(billing, "sub", END)
    first, last = billing.invoices()
    [note] = notes(billing)
    # Feb 22-28 unused: 7 / 28 x 100 = 25 EUR + 20 % = 30 EUR, spent on the last invoice.
    assert (note.total_amount_cents, note.credit_amount_cents, note.refund_amount_cents) == (
        30_00, 30_00, 0)  # fmt: skip
    assert note.invoice_id == first.id
    assert option(billing, "on_termination_credit_note") == "credit"
    # 5 x 10 units x 1 EUR = 50 EUR + 10 EUR tax.
    assert (last.status, last.sub_total_excluding_taxes_amount_cents, last.taxes_amount_cents) == (
        "finalized", 50_00, 10_00)  # fmt: skip
    assert last.fee("items").amount_cents == 50_00
    assert last.fee("items").taxes_amount_cents == 10_00
    assert invoice_credits(billing, last.id) == (30_00, 30_00)
    assert notes(billing)[0].balance_amount_cents == 0


def test_refund_gives_back_what_was_paid_beyond_the_used_days(billing: Billing) -> None:
    start(billing, "advance")
    record_payment(billing, billing.invoices()[0].id, 75_00)
    terminate(billing, "sub", END, on_termination_credit_note="refund")
    [note] = notes(billing)
    # 60 EUR used of 75 paid: 15 refunded, the other 15 credited.
    assert (note.total_amount_cents, note.refund_amount_cents, note.credit_amount_cents) == (
        30_00, 15_00, 15_00)  # fmt: skip
    last = billing.invoices()[-1]
    assert invoice_credits(billing, last.id) == (15_00, 45_00)
    assert notes(billing)[0].balance_amount_cents == 0


def test_skipping_the_credit_note(billing: Billing) -> None:
    start(billing, "advance")
    terminate(billing, "sub", END, on_termination_credit_note="skip")
    assert notes(billing) == []
    last = billing.invoices()[-1]
    assert invoice_credits(billing, last.id) == (0, 60_00)


def test_skipping_the_termination_invoice(billing: Billing) -> None:
    start(billing, "advance")
    terminate(billing, "sub", END, on_termination_invoice="skip")
    assert option(billing, "on_termination_invoice") == "skip"
    assert len(billing.invoices()) == 1
    assert notes(billing)[0].total_amount_cents == 30_00


def test_terminated_on_its_first_day(billing: Billing) -> None:
    start(billing, "advance", events_at=START.replace(hour=5))
    terminate(billing, "sub", START.replace(hour=12))
    [note] = notes(billing)
    # Feb 9-28 unused: 20 / 28 x 100 = 71.4286 EUR; tax 14.2857; 85.71 credited in
    # cents as Lago's: items 71.43, tax 14.29, total 85.72.
    assert (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents) == (71_43, 14_29)
    assert (note.credit_amount_cents, note.total_amount_cents) == (85_72, 85_72)
    last = billing.invoices()[-1]
    assert (last.sub_total_excluding_taxes_amount_cents, last.taxes_amount_cents) == (50_00, 10_00)
    assert invoice_credits(billing, last.id) == (60_00, 0)
    assert notes(billing)[0].balance_amount_cents == 25_72


def test_paid_in_arrears_bills_half_a_month_and_the_usage(billing: Billing) -> None:
    start(billing, "arrears")
    terminate(billing, "sub", END, on_termination_credit_note="credit")
    # No credit note for a plan paid in arrears: the option is not kept.
    assert option(billing, "on_termination_credit_note") is None
    [invoice] = billing.invoices()
    # Feb 8-21: 14 of 28 days = 50 EUR, and 50 EUR of usage; 20 % tax.
    assert invoice.fee("arrears").amount_cents == 50_00
    assert invoice.fee("arrears").taxes_amount_cents == 10_00
    assert (invoice.sub_total_excluding_taxes_amount_cents, invoice.taxes_amount_cents,
            invoice.total_amount_cents) == (100_00, 20_00, 120_00)  # fmt: skip
    assert notes(billing) == []


def test_paid_in_arrears_skipping_the_termination_invoice(billing: Billing) -> None:
    start(billing, "arrears")
    terminate(billing, "sub", END, on_termination_invoice="skip")
    assert billing.invoices() == []


def test_refusals(billing: Billing, http: httpx.Client) -> None:
    start(billing, "advance")
    for name in ("on_termination_credit_note", "on_termination_invoice"):
        response = http.delete("/subscriptions/sub", params={name: "invalid"})
        assert (response.status_code, response.json()) == (422, {
            "status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
            "error_details": {name: ["invalid_value"]}})  # fmt: skip
    response = http.delete("/subscriptions/unknown")
    assert (response.status_code, response.json()) == (404, {
        "status": 404, "error": "Not Found", "code": "subscription_not_found"})  # fmt: skip


def test_canceling_a_pending_subscription_keeps_no_credit_note_option(
    billing: Billing, http: httpx.Client
) -> None:
    billing.subscribe("cus", "advance", "sub", START)
    body = {"external_customer_id": "cus", "plan_code": "advance", "external_id": "later",
            "subscription_at": "2099-01-01T00:00:00Z"}  # fmt: skip
    assert http.post("/subscriptions", json={"subscription": body}).status_code == 200
    options = {"status": "pending", "on_termination_credit_note": "credit"}
    response = http.delete("/subscriptions/later", params=options)
    canceled = response.json()["subscription"]
    assert (canceled["status"], canceled["on_termination_credit_note"]) == ("canceled", None)
    assert canceled["canceled_at"] is not None
