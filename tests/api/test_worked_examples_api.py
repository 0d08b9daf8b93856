"""E13-E15 (billing.md §14) read back through the official client over HTTP.

The examples happen on fixed dates, so they are set up through the services with their
`now`; every figure is then asserted as a client of the API sees it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from lago_python_client.client import Client
from lago_python_client.models.credit_note import CreditNote, CreditNoteEstimate, Item, Items

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import e15, record_payment, terminate
from tests.scenarios.wallets import Wallets, e14_setup


def totals(invoice: Any) -> tuple[int, int, int, int, int]:
    return (invoice.fees_amount_cents, invoice.coupons_amount_cents,
            invoice.taxes_amount_cents, invoice.total_amount_cents,
            invoice.total_due_amount_cents)  # fmt: skip


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    return billing


@pytest.mark.parametrize(
    ("timezone", "start_total", "note_figures"),
    [("UTC", 4_500, (3_571, 714, 4_285)), ("America/Los_Angeles", 4_715, (3_750, 750, 4_500))],
)
def test_e13_start_then_immediate_termination(
    billing: Billing, lago: Client, timezone: str, start_total: int,
    note_figures: tuple[int, int, int],
) -> None:  # fmt: skip
    billing.tax("vat", "20", applied_to_organization=True)
    billing.plan("adv", [], amount_cents=5_000, pay_in_advance=True)
    billing.customer("cus", timezone=timezone)
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    terminate(billing, "sub", utc(2023, 2, 8, 5))
    start_row, termination_row = billing.invoices()
    start = lago.invoices.find(str(start_row.id))
    assert (start.total_amount_cents, start.status) == (start_total, "finalized")
    assert lago.invoices.find(str(termination_row.id)).total_amount_cents == 0
    listed = lago.credit_notes.find_all({"external_customer_id": "cus"})["credit_notes"]
    [note] = listed
    assert (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents,
            note.credit_amount_cents, note.total_amount_cents) == (
        note_figures[0], note_figures[1], note_figures[2], note_figures[2])  # fmt: skip
    assert (note.lago_invoice_id, note.invoice_number, note.reason) == (
        start.lago_id, start.number, "order_cancellation")  # fmt: skip


def test_e13_anniversary_start_invoice_is_the_whole_month(billing: Billing, lago: Client) -> None:
    billing.tax("vat", "20", applied_to_organization=True)
    billing.plan("adv", [], amount_cents=5_000, pay_in_advance=True)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5), billing_time="anniversary")
    [start] = billing.invoices()
    assert lago.invoices.find(str(start.id)).total_amount_cents == 6_000


def test_e14_restricted_wallet_pays_pay_in_advance_charges(
    database: Database, org: Org, lago: Client
) -> None:
    wallets = Wallets(database, org)
    wallet = e14_setup(wallets)
    wallets.tick(utc(2024, 3, 1, 1))
    balances = []
    for day, code in ((2, "other"), (3, "count_1"), (4, "count_2")):
        wallets.events("sub", code, (utc(2024, 3, day, 10), {}))
        wallets.tick(utc(2024, 3, day, 11))
        balances.append(lago.wallets.find(wallet).credits_balance)
    assert balances == ["39.0", "21.28", "3.59"]
    found = lago.wallets.find(wallet)
    assert (found.balance_cents, found.consumed_credits) == (359, "35.41")
    charges = {}
    for row in wallets.invoices("cus"):
        invoice = lago.invoices.find(str(row.id))
        # Each shows the charges period its event falls in (the client refuses nulls there).
        [period] = invoice.billing_periods.__root__
        assert (period.invoicing_reason, period.charges_from_datetime,
                period.charges_to_datetime, period.subscription_from_datetime) == (
            "in_advance_charge", "2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z",
            "2024-03-01T00:00:00Z")  # fmt: skip
        charges[invoice.fees_amount_cents] = (
            invoice.taxes_amount_cents, invoice.prepaid_credit_amount_cents,
            invoice.total_amount_cents)  # fmt: skip
    assert charges == {1_000: (0, 0, 1_000), 1_429: (343, 1_772, 0), 1_427: (342, 1_769, 0)}
    outbound = [
        (t.transaction_status, t.amount)
        for t in lago.wallet_transactions.find_all(wallet)["wallet_transactions"]
        if t.transaction_type == "outbound"
    ]
    assert sorted(outbound) == [("invoiced", "17.69"), ("invoiced", "17.72")]


def test_e15_credit_note_with_coupon_and_two_taxes(billing: Billing, lago: Client) -> None:
    october_row = e15(billing)
    october = lago.invoices.find(str(october_row.id))
    assert october.issuing_date == "2023-10-19"
    assert totals(october) == (57_800, 25_000, 4_770, 37_570, 37_570)
    assert sorted((t.tax_code, t.amount_cents, t.fees_amount_cents)
                  for t in october.applied_taxes.__root__) == [
        ("tax_a", 1_490, 14_900), ("tax_b", 1_490, 14_900), ("vat", 1_790, 17_900)]  # fmt: skip
    [fee] = [f for f in october.fees.__root__ if f.amount_cents == 39_900]
    items = Items(__root__=[Item(fee_id=fee.lago_id, amount_cents=26_260)])

    estimate = lago.credit_notes.estimate(CreditNoteEstimate(invoice_id=october.lago_id,
                                                             items=items))  # fmt: skip
    assert (estimate.coupons_adjustment_amount_cents,
            estimate.sub_total_excluding_taxes_amount_cents, estimate.taxes_amount_cents,
            estimate.max_creditable_amount_cents, estimate.max_refundable_amount_cents) == (
        16_454, 9_806, 1_961, 11_767, 0)  # fmt: skip
    record_payment(billing, uuid.UUID(october.lago_id), 1_200)
    estimate = lago.credit_notes.estimate(CreditNoteEstimate(invoice_id=october.lago_id,
                                                             items=items))  # fmt: skip
    assert estimate.max_refundable_amount_cents == 1_200

    note = lago.credit_notes.create(CreditNote(invoice_id=october.lago_id, items=items,
                                               credit_amount_cents=10_567,
                                               refund_amount_cents=1_200))  # fmt: skip
    assert (note.total_amount_cents, note.sub_total_excluding_taxes_amount_cents,
            note.taxes_amount_cents, note.coupons_adjustment_amount_cents) == (
        11_767, 9_806, 1_961, 16_454)  # fmt: skip
    assert (note.credit_amount_cents, note.balance_amount_cents, note.refund_amount_cents,
            note.refund_status) == (10_567, 10_567, 1_200, "pending")  # fmt: skip
    assert sorted((t.tax_code, t.amount_cents) for t in note.applied_taxes.__root__) == [
        ("tax_a", 981), ("tax_b", 981)]  # fmt: skip
