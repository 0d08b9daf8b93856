"""Lago's payment request and response shapes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterbill.core.dates import parse_instant
from meterbill.core.times import iso_seconds
from meterbill.core.validation import Reader
from meterbill.customers.models import Customer
from meterbill.invoices.models import Invoice
from meterbill.payment_providers.models import PaymentProvider
from meterbill.payments.models import Payment

REFERENCE_MAX_LENGTH = 40


@dataclass(frozen=True)
class PaymentInput:
    """A manual payment as asked. Lago refuses its fields at different moments (some
    before the invoice is looked up, some after), so the problems found here are kept
    for the service to raise in that order."""

    invoice_id: str | None  # None: absent or blank
    amount_cents: int | None  # None: absent, not an integer, or not positive
    reference: str | None
    reference_error: str | None
    paid_at: datetime | None
    paid_at_invalid: bool = False


def _invoice_id(value: Any) -> str | None:
    if value is None or isinstance(value, list | dict):
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None


def _amount_cents(value: Any) -> int | None:
    # A JSON string or float is not an amount for Lago (`is_a?(Integer)`).
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def parse_paid_at(value: Any) -> tuple[datetime | None, bool]:
    """(instant, invalid): a date or a date and time; without an offset it is UTC."""
    if value is None or value == "":
        return None, False
    parsed = parse_instant(value)
    return parsed, parsed is None


def parse_payment(data: dict[str, Any]) -> PaymentInput:
    reader = Reader(data)
    reference = reader.string("reference", required=True, max_length=REFERENCE_MAX_LENGTH)
    paid_at, paid_at_invalid = parse_paid_at(data.get("paid_at"))
    reference_error = reader.errors.get("reference", [None])[0]
    return PaymentInput(
        invoice_id=_invoice_id(data.get("invoice_id")),
        amount_cents=_amount_cents(data.get("amount_cents")),
        reference=reference if isinstance(reference, str) else None,
        reference_error=reference_error,
        paid_at=paid_at,
        paid_at_invalid=paid_at_invalid,
    )


def payment_object(
    payment: Payment,
    invoice: Invoice,
    customer: Customer,
    provider: PaymentProvider | None = None,
) -> dict[str, Any]:
    return {
        "lago_id": str(payment.id),
        "lago_customer_id": str(customer.id),
        "external_customer_id": customer.external_id,
        "invoice_ids": [str(invoice.id)],
        "invoice_numbers": [invoice.number],
        "lago_payable_id": str(invoice.id),
        "payable_type": "Invoice",
        "amount_cents": payment.amount_cents,
        "amount_currency": payment.amount_currency,
        # Not sent to the provider yet: Lago's payment is "pending" until it answers.
        "status": "pending" if payment.status == "queued" else payment.status,
        "payment_status": payment.payable_payment_status,
        "type": payment.payment_type,
        "reference": payment.reference,
        "payment_provider_code": provider.code if provider else None,
        "payment_provider_type": provider.provider_type if provider else None,
        # Deprecated by Lago in favour of provider_payment_id; both are sent.
        "external_payment_id": payment.provider_payment_id,
        "provider_payment_id": payment.provider_payment_id,
        "provider_customer_id": payment.provider_customer_id,
        "next_action": {},
        "created_at": iso_seconds(payment.created_at),
    }
