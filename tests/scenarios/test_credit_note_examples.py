"""E15 and E17 (billing.md §14), credit notes spent across invoices, void, refunds,
and every refusal of §10, through the services on both databases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.core.errors import MeterbillError, MethodNotAllowed, NotFound, ValidationFailed
from meterbill.credit_notes.service import update_credit_note, void_credit_note
from meterbill.invoices.models import Invoice
from meterbill.invoices.service import void_invoice
from meterbill.organizations.service import update_organization
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import (
    e15,
    estimated,
    invoice_credits,
    issue,
    notes,
    plan_fee,
    record_payment,
)


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


def test_e15_invoice_with_coupon_and_two_taxes(billing: Billing) -> None:
    october = e15(billing)
    assert october.totals == (57_800, 25_000, 32_800, 4_770, 37_570, 37_570)
    with billing.database.transaction(write=False) as session:
        invoice = session.get(Invoice, october.id)
        assert invoice is not None
        assert invoice.taxes_rate == Decimal("14.54268")


def test_e15_estimate(billing: Billing) -> None:
    october = e15(billing)
    fee = plan_fee(billing, october.id, 39_900)
    estimate = estimated(billing, october.id, [(fee, 26_260)])
    amounts = estimate.amounts
    assert amounts.coupons_adjustment_amount_cents == 16_454
    assert amounts.sub_total_excluding_taxes_amount_cents == 9_806
    assert amounts.taxes_amount_cents == 1_961
    assert amounts.taxes_rate == Decimal(20)
    assert estimate.max_creditable_amount_cents == 11_767
    assert estimate.max_refundable_amount_cents == 0
    assert [part.tax.code for part in amounts.taxes] == ["tax_a", "tax_b"]
    record_payment(billing, october.id, 1_200)
    estimate = estimated(billing, october.id, [(fee, 26_260)])
    assert estimate.max_refundable_amount_cents == 1_200
    # The estimate matches what issuing it gives.
    note = issue(billing, october.id, [(fee, 26_260)], credit_amount_cents=10_567,
                 refund_amount_cents=1_200)  # fmt: skip
    assert (note.total_amount_cents, note.sub_total_excluding_taxes_amount_cents,
            note.taxes_amount_cents, note.coupons_adjustment_amount_cents) == (
        11_767, 9_806, 1_961, 16_454)  # fmt: skip
    assert (note.balance_amount_cents, note.refund_status) == (10_567, "pending")


def test_e17_credit_note_number(billing: Billing) -> None:
    with billing.database.transaction() as session:
        prefix = update_organization(session, billing.org.id, {}, utc(2020, 1, 1))
        prefix = prefix.document_number_prefix
    billing.plan("adv", [], amount_cents=1_000, pay_in_advance=True)
    for number in range(1, 5):
        billing.customer(f"other-{number}")
    billing.customer("fifth")
    for number in range(1, 4):
        billing.subscribe("fifth", "adv", f"s{number}", utc(2024, 1, 3 + number))
    third = billing.invoices("fifth")[-1]
    assert third.number == f"{prefix}-005-003"
    fee = third.fees[0]
    first = issue(billing, third.id, [(plan_fee(billing, third.id, fee.amount_cents), 100)],
                  credit_amount_cents=100)  # fmt: skip
    second = issue(billing, third.id, [(plan_fee(billing, third.id, fee.amount_cents), 100)],
                   credit_amount_cents=100)  # fmt: skip
    assert (first.number, first.sequential_id) == (f"{prefix}-005-003-CN001", 1)
    assert (second.number, second.sequential_id) == (f"{prefix}-005-003-CN002", 2)
    assert first.issuing_date.isoformat() == "2030-01-01"


def simple(billing: Billing, amount: int = 10_000) -> Any:
    """One in-advance invoice of `amount` (full month, no tax), and its plan fee."""
    billing.plan("adv", [], amount_cents=amount, pay_in_advance=True)
    billing.customer("cus")
    billing.subscribe("cus", "adv", "sub", utc(2024, 1, 1, 10))
    [invoice] = billing.invoices()
    return invoice, plan_fee(billing, invoice.id, amount)


def test_consumption_across_two_credit_notes_oldest_first(billing: Billing) -> None:
    invoice, fee = simple(billing)
    first = issue(billing, invoice.id, [(fee, 3_000)], credit_amount_cents=3_000)
    second = issue(billing, invoice.id, [(fee, 9_000 - 3_000)], credit_amount_cents=6_000)
    # February renewal (10 000): the first note gives 3 000, the second 6 000.
    billing.tick(utc(2024, 2, 1, 10))
    february = billing.invoices()[-1]
    assert invoice_credits(billing, february.id) == (9_000, 1_000)
    assert february.credits == [(first.number, 3_000), (second.number, 6_000)]
    assert [(n.balance_amount_cents, n.credit_status) for n in notes(billing)] == [
        (0, "consumed"), (0, "consumed")]  # fmt: skip
    # Voiding February gives both balances back; March spends them again.
    with billing.database.transaction() as session:
        void_invoice(session, billing.org.id, str(february.id), utc(2024, 2, 2))
    assert [(n.balance_amount_cents, n.credit_status) for n in notes(billing)] == [
        (3_000, "available"), (6_000, "available")]  # fmt: skip
    billing.tick(utc(2024, 3, 1, 10))
    march = billing.invoices()[-1]
    assert invoice_credits(billing, march.id) == (9_000, 1_000)


def test_partial_consumption_and_other_currency_untouched(billing: Billing) -> None:
    invoice, fee = simple(billing)
    issue(billing, invoice.id, [(fee, 10_000)], credit_amount_cents=10_000)
    billing.plan("usd", [], amount_cents=500, amount_currency="USD", pay_in_advance=True)
    billing.customer("usd-cus", currency="USD")
    billing.tick(utc(2024, 2, 1, 10))
    [note] = notes(billing)
    assert (note.balance_amount_cents, note.credit_status) == (0, "consumed")
    billing.tick(utc(2024, 3, 1, 10))
    march = billing.invoices()[-1]
    assert invoice_credits(billing, march.id) == (0, 10_000)


def test_void_and_refund_status(billing: Billing) -> None:
    invoice, fee = simple(billing)
    record_payment(billing, invoice.id, 10_000)
    note = issue(billing, invoice.id, [(fee, 4_000)], credit_amount_cents=1_000,
                 refund_amount_cents=3_000)  # fmt: skip
    assert (note.refund_status, note.balance_amount_cents) == ("pending", 1_000)
    with billing.database.transaction() as session:
        updated = update_credit_note(
            session, billing.org.id, str(note.id), "succeeded", None, utc(2030, 1, 2)
        )
        assert (updated.refund_status, updated.refunded_at) == ("succeeded", utc(2030, 1, 2))
    with billing.database.transaction() as session:
        voided = void_credit_note(session, billing.org.id, str(note.id), utc(2030, 1, 2))
        assert (voided.credit_status, voided.balance_amount_cents) == ("voided", 0)
    with pytest.raises(MethodNotAllowed) as refused, billing.database.transaction() as session:
        void_credit_note(session, billing.org.id, str(note.id), utc(2030, 1, 3))
    assert refused.value.code == "no_voidable_amount"
    # A voided note no longer pays anything.
    billing.tick(utc(2024, 2, 1, 10))
    assert invoice_credits(billing, billing.invoices()[-1].id) == (0, 10_000)


def refused(
    billing: Billing, invoice_id: Any, items: list[tuple[Any, int]], **fields: Any
) -> MeterbillError:
    with pytest.raises(MeterbillError) as caught:
        issue(billing, invoice_id, items, **fields)
    return caught.value


def test_every_refusal_writes_nothing(billing: Billing) -> None:
    invoice, fee = simple(billing)
    error = refused(billing, invoice.id, [(invoice.id, 100)], credit_amount_cents=100)
    assert isinstance(error, NotFound) and error.code == "fee_not_found"
    error = refused(billing, invoice.id, [(fee, -1)], credit_amount_cents=0)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"amount_cents": ["invalid_value"]}
    error = refused(billing, invoice.id, [(fee, 10_001)], credit_amount_cents=10_001)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"amount_cents": ["higher_than_remaining_fee_amount"]}
    error = refused(billing, invoice.id, [(fee, 1_000)], credit_amount_cents=900)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"base": ["does_not_match_item_amounts"]}
    error = refused(billing, invoice.id, [(fee, 1_000)], refund_amount_cents=1_000)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"refund_amount_cents": ["cannot_refund_unpaid_invoice"]}
    error = refused(billing, invoice.id, [(fee, 0)], credit_amount_cents=0)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"base": ["total_amount_must_be_positive"]}
    error = refused(billing, "not-a-uuid", [(fee, 1)], credit_amount_cents=1)
    assert isinstance(error, NotFound) and error.code == "invoice_not_found"
    error = refused(billing, invoice.id, [(fee, 1_000)], reason="whim", credit_amount_cents=1_000)
    assert isinstance(error, ValidationFailed) and error.details == {"reason": ["value_is_invalid"]}
    assert notes(billing) == []
    # Refunds only up to what was paid; offsets only up to what is still due.
    record_payment(billing, invoice.id, 2_000)
    error = refused(billing, invoice.id, [(fee, 3_000)], refund_amount_cents=3_000)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"refund_amount_cents": ["higher_than_remaining_invoice_amount"]}
    issue(billing, invoice.id, [(fee, 8_000)], offset_amount_cents=8_000)
    error = refused(billing, invoice.id, [(fee, 1_000)], offset_amount_cents=1_000)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"offset_amount_cents": ["higher_than_remaining_invoice_amount"]}
    # The invoice has 2 000 left to give back: asking 2 000 of credit for 1 000 of items
    # does not match; the fee itself has 2 000 left.
    error = refused(billing, invoice.id, [(fee, 2_001)], credit_amount_cents=2_001)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"amount_cents": ["higher_than_remaining_fee_amount"]}
    assert len(notes(billing)) == 1
    # An invoice with a standing credit note cannot be voided; a draft cannot be credited.
    with pytest.raises(MethodNotAllowed), billing.database.transaction() as session:
        void_invoice(session, billing.org.id, str(invoice.id), utc(2024, 1, 2))


def test_invoice_remaining_limit_with_taxes(billing: Billing) -> None:
    """Credit beyond what the invoice still has (taxes included) is refused."""
    billing.tax("vat", "20", applied_to_organization=True)
    invoice, fee = simple(billing)
    # 10 000 + 2 000 tax: a first note takes 6 000 + 1 200.
    first = issue(billing, invoice.id, [(fee, 6_000)], credit_amount_cents=7_200)
    assert (first.total_amount_cents, first.taxes_amount_cents) == (7_200, 1_200)
    # 5 000 asked for 4 800 of items, beyond the 4 800 left: every failed limit is listed.
    error = refused(billing, invoice.id, [(fee, 4_000)], credit_amount_cents=5_000)
    assert isinstance(error, ValidationFailed)
    assert error.details == {
        "base": ["does_not_match_item_amounts", "higher_than_remaining_invoice_amount"],
        "credit_amount_cents": ["higher_than_remaining_invoice_amount"],
    }
    note = issue(billing, invoice.id, [(fee, 4_000)], credit_amount_cents=4_800)
    assert note.total_amount_cents == 4_800
    error = refused(billing, invoice.id, [(fee, 1)], credit_amount_cents=1)
    assert isinstance(error, ValidationFailed)
    assert error.details == {"amount_cents": ["higher_than_remaining_fee_amount"]}


def test_a_billing_run_asks_nothing_of_customers_without_credit(billing: Billing) -> None:
    """The clock's batches note who holds credit once; the others cost no query."""
    from sqlalchemy import event

    from meterbill.credit_notes.consumption import apply_credit_notes, note_credit_note_holders

    invoice, fee = simple(billing)
    issue(billing, invoice.id, [(fee, 1_000)], credit_amount_cents=1_000)
    billing.customer("plain")
    billing.subscribe("plain", "adv", "plain-sub", utc(2024, 1, 1, 10))
    plain = billing.invoices("plain")[-1]
    with billing.database.transaction() as session:
        holder = session.get(Invoice, invoice.id)
        other = session.get(Invoice, plain.id)
        assert holder is not None and other is not None
        note_credit_note_holders(session, {holder.customer_id, other.customer_id})
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        connection = session.connection()
        event.listen(connection, "before_cursor_execute", count)
        try:
            apply_credit_notes(session, other, utc(2024, 2, 1))
            assert statements == []
            apply_credit_notes(session, holder, utc(2024, 2, 1))
            assert statements != []
        finally:
            event.remove(connection, "before_cursor_execute", count)
        session.rollback()
