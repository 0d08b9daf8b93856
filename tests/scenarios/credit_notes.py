"""Helpers for credit note scenarios: issue, estimate and read credit notes back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from meterbill.credit_notes.models import CreditNote
from meterbill.credit_notes.schemas import parse_credit_note, parse_items
from meterbill.credit_notes.service import Estimate, create_credit_note, estimate
from meterbill.invoices.models import Fee, Invoice
from meterbill.payments.schemas import parse_payment
from meterbill.payments.service import create_manual_payment
from meterbill.subscriptions.service import terminate_subscription
from tests.scenarios.billing import Billing, utc


def issue(
    billing: Billing, invoice_id: Any, items: list[tuple[Any, int]], **fields: Any
) -> CreditNote:
    body = {
        "invoice_id": str(invoice_id),
        "items": [{"fee_id": str(fee), "amount_cents": amount} for fee, amount in items],
        **fields,
    }
    with billing.database.transaction() as session:
        note = create_credit_note(session, billing.org.id, parse_credit_note(body), utc(2030, 1, 1))
        session.expunge(note)
        return note


def estimated(billing: Billing, invoice_id: Any, items: list[tuple[Any, int]]) -> Estimate:
    body = {"items": [{"fee_id": str(fee), "amount_cents": amount} for fee, amount in items]}
    with billing.database.transaction(write=False) as session:
        return estimate(session, billing.org.id, str(invoice_id), parse_items(body))


def notes(billing: Billing) -> list[CreditNote]:
    with billing.database.transaction(write=False) as session:
        found = list(
            session.scalars(
                select(CreditNote)
                .where(CreditNote.organization_id == billing.org.id)
                .order_by(CreditNote.created_at, CreditNote.sequential_id)
            )
        )
        for note in found:
            session.expunge(note)
        return found


def invoice_credits(billing: Billing, invoice_id: Any) -> tuple[int, int]:
    """(credit_notes_amount_cents, total_amount_cents) of one invoice."""
    with billing.database.transaction(write=False) as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice.credit_notes_amount_cents, invoice.total_amount_cents


def plan_fee(billing: Billing, invoice_id: Any, amount_cents: int) -> Any:
    with billing.database.transaction(write=False) as session:
        return session.scalars(
            select(Fee.id).where(Fee.invoice_id == invoice_id, Fee.amount_cents == amount_cents)
        ).one()


def record_payment(billing: Billing, invoice_id: Any, paid_cents: int) -> None:
    """A manual payment of `paid_cents`, through the payments service (POST /payments)."""
    body = {"invoice_id": str(invoice_id), "amount_cents": paid_cents, "reference": "wire"}
    with billing.database.transaction() as session:
        create_manual_payment(session, billing.org.id, parse_payment(body), utc(2030, 1, 1))


def terminate(billing: Billing, external_id: str, at: Any, **options: Any) -> None:
    with billing.database.transaction() as session:
        terminate_subscription(session, billing.org.id, external_id, "active", at, **options)


def e15(billing: Billing) -> Any:
    """E15 (billing.md §14): two anniversary in-advance plans, plan 2 taxed 10 % + 10 %,
    a 25 000 coupon on it; returns the October invoice."""
    billing.tax("vat", "10", applied_to_organization=True)
    billing.tax("tax_a", "10")
    billing.tax("tax_b", "10")
    billing.plan("p1", [], amount_cents=17_900, pay_in_advance=True)
    billing.plan("p2", [], amount_cents=39_900, pay_in_advance=True, tax_codes=["tax_a", "tax_b"])
    billing.customer("cus")
    billing.subscribe("cus", "p1", "s1", utc(2023, 9, 19, 10), billing_time="anniversary")
    billing.subscribe("cus", "p2", "s2", utc(2023, 9, 19, 10), billing_time="anniversary")
    billing.coupon("c", coupon_type="fixed_amount", amount_cents=25_000, amount_currency="EUR",
                   frequency="forever", applies_to={"plan_codes": ["p2"]})  # fmt: skip
    billing.apply("cus", "c", utc(2023, 9, 20), amount_cents=25_000)
    billing.tick(utc(2023, 10, 19, 10))
    october = billing.invoices()[-1]
    assert october.billing_date.isoformat() == "2023-10-19"
    return october
