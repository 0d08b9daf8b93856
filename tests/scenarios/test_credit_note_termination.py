"""E13's credit note: terminating a plan paid in advance gives back its unused days,
and the customer's next invoices spend that credit (billing.md §4.4, §4.6, §5.3)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.credit_notes.service import offsets_by_invoice
from meterbill.invoices.service import finalize_invoice, refresh_invoice
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import (
    invoice_credits,
    issue,
    notes,
    plan_fee,
    record_payment,
    terminate,
)
from tests.scenarios.wallets import Wallets


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    billing.plan("adv", [], amount_cents=5_000, pay_in_advance=True)
    return billing


@pytest.mark.parametrize(
    ("timezone", "sub_total", "taxes", "total"),
    [("UTC", 3_571, 714, 4_285), ("America/Los_Angeles", 3_750, 750, 4_500)],
)
def test_e13_termination_credits_the_unused_days(
    billing: Billing, timezone: str, sub_total: int, taxes: int, total: int
) -> None:
    billing.customer("cus", timezone=timezone)
    # 05:00Z on Feb 8 is Feb 7 in Los Angeles: 20 unused days of 28 in UTC, 21 there.
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    terminate(billing, "sub", utc(2023, 2, 8, 5))
    start, termination = billing.invoices()
    assert termination.periods[0]["reason"] == "subscription_terminating"
    assert termination.total_amount_cents == 0
    [note] = notes(billing)
    assert (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents) == (
        sub_total, taxes)  # fmt: skip
    assert (note.credit_amount_cents, note.total_amount_cents, note.balance_amount_cents) == (
        total, total, total)  # fmt: skip
    assert (note.refund_amount_cents, note.offset_amount_cents) == (0, 0)
    assert (note.reason, note.credit_status, note.refund_status) == (
        "order_cancellation", "available", None)  # fmt: skip
    assert note.invoice_id == start.id
    assert note.number == f"{start.number}-CN001"


def test_e13_credit_is_spent_by_the_next_subscription_invoices(billing: Billing) -> None:
    billing.customer("cus")
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    terminate(billing, "sub", utc(2023, 2, 8, 5))
    # Feb 10-28: 19/28 x 5 000 = 3 393 + 679 tax = 4 072, all paid by the 4 285 credit.
    billing.subscribe("cus", "adv", "next", utc(2023, 2, 10, 5))
    start = billing.invoices()[-1]
    assert (start.sub_total_including_taxes_amount_cents, start.payment_status) == (
        4_072, "succeeded")  # fmt: skip
    assert invoice_credits(billing, start.id) == (4_072, 0)
    [note] = notes(billing)
    assert (note.balance_amount_cents, note.credit_status) == (213, "available")
    # March renewal: 6 000, of which the last 213 of credit.
    billing.tick(utc(2023, 3, 1, 6))
    march = billing.invoices()[-1]
    assert march.billing_date == datetime(2023, 3, 1).date()
    assert invoice_credits(billing, march.id) == (213, 5_787)
    assert march.credits == [(note.number, 213)]
    [note] = notes(billing)
    assert (note.balance_amount_cents, note.credit_status) == (0, "consumed")


def test_skip_option_issues_no_credit_note(billing: Billing) -> None:
    billing.customer("cus")
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    terminate(billing, "sub", utc(2023, 2, 8, 5), on_termination_credit_note="skip")
    assert notes(billing) == []


def test_refund_option_refunds_the_paid_part_and_credits_the_rest(billing: Billing) -> None:
    billing.customer("cus")
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    [start] = billing.invoices()
    record_payment(billing, start.id, 1_000)
    terminate(billing, "sub", utc(2023, 2, 8, 5), on_termination_credit_note="refund")
    [note] = notes(billing)
    # What was paid beyond the used day is refunded (Lago's calculate_refund): 1 000
    # less Feb 8 (5 000 / 28 = 178.57 + 35.71 tax = 214); the rest is credited.
    assert (note.refund_amount_cents, note.credit_amount_cents, note.total_amount_cents) == (
        786, 3_499, 4_285)  # fmt: skip
    assert (note.refund_status, note.balance_amount_cents) == ("pending", 3_499)


def test_offset_option_offsets_the_unpaid_part(billing: Billing) -> None:
    billing.customer("cus")
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    [start] = billing.invoices()
    record_payment(billing, start.id, 1_000)
    terminate(billing, "sub", utc(2023, 2, 8, 5), on_termination_credit_note="offset")
    [note] = notes(billing)
    # 786 of the 1 000 paid is refunded (beyond the used day's 214); the rest (3 499) is
    # taken off what the invoice still owes (3 500).
    assert (note.refund_amount_cents, note.offset_amount_cents, note.credit_amount_cents) == (
        786, 3_499, 0)  # fmt: skip
    assert note.balance_amount_cents == 0


def test_voided_start_invoice_gets_no_credit_note(billing: Billing, database: Database) -> None:
    from meterbill.invoices.service import void_invoice

    billing.customer("cus")
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    [start] = billing.invoices()
    with database.transaction() as session:
        void_invoice(session, billing.org.id, str(start.id), utc(2023, 2, 8, 6))
    terminate(billing, "sub", utc(2023, 2, 9, 5))
    assert notes(billing) == []


def test_upgrade_credits_unused_days_including_the_upgrade_day(billing: Billing) -> None:
    billing.plan("bigger", [], amount_cents=8_400, pay_in_advance=True)
    billing.customer("cus")
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 1, 5))
    body = {"external_customer_id": "cus", "plan_code": "bigger", "external_id": "sub"}
    with billing.database.transaction() as session:
        create_subscription(
            session, billing.org.id, parse_subscription(body, creating=True), utc(2023, 2, 15, 5)
        )
    [note] = notes(billing)
    # Feb 15-28 (14 days) of 5 000/28: 2 500 + 500 tax, as credit only.
    assert (note.sub_total_excluding_taxes_amount_cents, note.credit_amount_cents) == (2_500, 3_000)
    # The upgrade invoice (14 days of the new plan: 4 200 + 840) spends it at once.
    upgrade = billing.invoices()[-1]
    assert invoice_credits(billing, upgrade.id) == (3_000, 2_040)
    [note] = notes(billing)
    assert note.credit_status == "consumed"


# --- The fee to credit is on a draft still in its grace period -------------------------


def _draft_start(billing: Billing) -> Any:
    """Feb 8-28 of the 5 000 plan on a draft held 3 days: 3 750 + 750 tax."""
    billing.customer("cus", timezone="UTC", invoice_grace_period=3)
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    [start] = billing.invoices()
    assert (start.status, start.total_amount_cents) == ("draft", 4_500)
    return start


def test_note_on_a_draft_waits_for_the_invoice_and_is_finalized_with_it(billing: Billing) -> None:
    start = _draft_start(billing)
    terminate(billing, "sub", utc(2023, 2, 9, 5))
    assert notes(billing) == []
    billing.tick(utc(2023, 2, 10, 6))  # still in its grace period
    assert notes(billing) == []
    billing.tick(utc(2023, 2, 11, 6))  # Feb 8 + 3: the draft is finalized
    start = billing.invoices()[0]
    assert start.status == "finalized"
    [note] = notes(billing)
    # Feb 9 is used: Feb 10-28, 19/28 x 5 000 = 3 392.86 -> 3 393, tax 678.57 -> 679.
    assert (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents) == (3_393, 679)
    assert (note.credit_amount_cents, note.total_amount_cents, note.balance_amount_cents) == (
        4_072, 4_072, 4_072)  # fmt: skip
    assert (note.status, note.credit_status, note.reason) == (
        "finalized", "available", "order_cancellation")  # fmt: skip
    assert (note.invoice_id, note.number) == (start.id, f"{start.number}-CN001")
    assert note.issuing_date == date(2023, 2, 9)  # dated the termination day, as Lago's
    # Written after the invoice's own credits: it does not pay the invoice it credits.
    assert invoice_credits(billing, start.id) == (0, 4_500)
    billing.tick(utc(2023, 2, 12, 6))  # the termination invoice: no second note
    assert len(notes(billing)) == 1


def test_refund_on_a_draft_becomes_credit_as_nothing_was_paid(billing: Billing) -> None:
    _draft_start(billing)
    terminate(billing, "sub", utc(2023, 2, 9, 5), on_termination_credit_note="refund")
    billing.tick(utc(2023, 2, 11, 6))
    [note] = notes(billing)
    assert (note.credit_amount_cents, note.refund_amount_cents, note.refund_status) == (
        4_072, 0, None)  # fmt: skip


def test_offset_on_a_draft_takes_the_note_off_what_the_invoice_owes(
    billing: Billing, database: Database
) -> None:
    start = _draft_start(billing)
    terminate(billing, "sub", utc(2023, 2, 9, 5), on_termination_credit_note="offset")
    billing.tick(utc(2023, 2, 11, 6))
    [note] = notes(billing)
    assert (note.offset_amount_cents, note.credit_amount_cents, note.balance_amount_cents) == (
        4_072, 0, 0)  # fmt: skip
    # What the invoice still owes is its total less this offset: 4 500 - 4 072 = 428.
    with database.transaction(write=False) as session:
        assert offsets_by_invoice(session, [start.id]) == {start.id: 4_072}


def test_skip_on_a_draft_issues_no_note_at_finalization(billing: Billing) -> None:
    _draft_start(billing)
    terminate(billing, "sub", utc(2023, 2, 9, 5), on_termination_credit_note="skip")
    billing.tick(utc(2023, 2, 12, 6))
    assert notes(billing) == []


def test_refreshing_the_draft_waits_and_finalizing_it_by_hand_issues_the_note(
    billing: Billing, database: Database
) -> None:
    start = _draft_start(billing)
    terminate(billing, "sub", utc(2023, 2, 9, 5))
    with database.transaction() as session:
        refresh_invoice(session, billing.org.id, str(start.id), utc(2023, 2, 9, 8))
    assert notes(billing) == []
    with database.transaction() as session:
        finalize_invoice(session, billing.org.id, str(start.id), utc(2023, 2, 10, 8))
    [note] = notes(billing)
    assert (note.total_amount_cents, note.issuing_date) == (4_072, date(2023, 2, 9))
    billing.tick(utc(2023, 2, 12, 6))
    assert len(notes(billing)) == 1


def test_upgrade_while_the_old_plan_is_a_draft_credits_it_at_finalization(
    billing: Billing,
) -> None:
    billing.plan("bigger", [], amount_cents=8_400, pay_in_advance=True)
    _draft_start(billing)
    body = {"external_customer_id": "cus", "plan_code": "bigger", "external_id": "sub"}
    with billing.database.transaction() as session:
        create_subscription(
            session, billing.org.id, parse_subscription(body, creating=True), utc(2023, 2, 9, 5)
        )
    assert notes(billing) == []
    billing.tick(utc(2023, 2, 11, 6))
    [note] = notes(billing)
    # The upgrade day goes to the new plan: Feb 9-28, 20/28 x 5 000, credit only (E13's 4 285).
    assert (note.sub_total_excluding_taxes_amount_cents, note.credit_amount_cents) == (3_571, 4_285)
    # The upgrade invoice (Feb 9-28 of 8 400: 6 000 + 1 200) spends it when it is finalized.
    billing.tick(utc(2023, 2, 12, 6))
    upgrade = billing.invoices()[-1]
    assert upgrade.status == "finalized"
    assert invoice_credits(billing, upgrade.id) == (4_285, 7_200 - 4_285)
    [note] = notes(billing)
    assert (note.balance_amount_cents, note.credit_status) == (0, "consumed")


def test_offset_counts_what_earlier_notes_already_took_off(
    billing: Billing, database: Database, org: Org
) -> None:
    wallets = Wallets(database, org)
    wallets.customer("cus")
    wallets.wallet("cus", utc(2023, 2, 1), granted_credits="25")
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5))
    [start] = billing.invoices()
    assert start.total_amount_cents == 4_500 - 2_500  # the wallet paid 2 500
    fee = plan_fee(billing, start.id, 3_750)
    issue(billing, start.id, [(fee, 1_000)], offset_amount_cents=1_200)  # 800 still due
    terminate(billing, "sub", utc(2023, 2, 8, 5), on_termination_credit_note="offset")
    [termination_note] = [note for note in notes(billing) if note.automatic]
    # 20/28 x 5 000 less the 1 000 already credited: 2 571.43 -> 2 571 + 514 tax = 3 085,
    # of which only the 800 still due is offset; the rest is credit.
    assert (termination_note.sub_total_excluding_taxes_amount_cents,
            termination_note.total_amount_cents) == (2_571, 3_085)  # fmt: skip
    assert (termination_note.offset_amount_cents, termination_note.credit_amount_cents) == (
        800, 2_285)  # fmt: skip
