"""Lago's credit note request and response shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meterbill.core import metadata
from meterbill.core.errors import ValidationFailed
from meterbill.core.limits import LONG_TEXT_MAX
from meterbill.core.metadata import Metadata
from meterbill.core.times import iso_date, iso_seconds
from meterbill.core.validation import MISSING, Reader
from meterbill.credit_notes.models import CreditNote, CreditNoteTax
from meterbill.invoices.models import Invoice
from meterbill.taxes.schemas import applied_tax_fields, rate_number

REASONS = (
    "duplicated_charge",
    "product_unsatisfactory",
    "order_change",
    "order_cancellation",
    "fraudulent_charge",
    "other",
)
CREDIT_STATUSES = ("available", "consumed", "voided")
REFUND_STATUSES = ("pending", "succeeded", "failed")


@dataclass(frozen=True)
class ItemInput:
    fee_id: str
    amount_cents: int


@dataclass(frozen=True)
class CreditNoteInput:
    invoice_id: str
    items: list[ItemInput]
    reason: str = "other"
    description: str | None = None
    credit_amount_cents: int = 0
    refund_amount_cents: int = 0
    offset_amount_cents: int = 0
    metadata: dict[str, str | None] = field(default_factory=dict)


def parse_items(data: dict[str, Any]) -> list[ItemInput]:
    raw = data.get("items")
    if not isinstance(raw, list):
        raise ValidationFailed.single("items", "must_be_an_array")
    items = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise ValidationFailed.single("items", "must_be_an_array")
        fee_id, amount = entry.get("fee_id"), entry.get("amount_cents", 0)
        if amount is None:
            amount = 0
        if isinstance(amount, str) and amount.strip().lstrip("-").isdigit():
            amount = int(amount)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise ValidationFailed.single("amount_cents", "invalid_value")
        items.append(
            ItemInput(fee_id=fee_id if isinstance(fee_id, str) else "", amount_cents=amount)
        )
    return items


def parse_metadata(value: Any) -> Metadata:
    """A credit note's metadata, within Lago's limits; null clears it."""
    return {} if value is None else metadata.checked(value)


def parse_metadata_body(body: Any) -> Metadata:
    """The body of a credit note's /metadata request: `{"metadata": {...}}`, where null
    clears it. A body without the key is refused as a missing value (422), as credit notes
    have always answered; plans and wallets answer 400 (core.metadata.body_metadata)."""
    if not isinstance(body, dict) or "metadata" not in body:
        raise ValidationFailed.single("metadata", "value_is_mandatory")
    return parse_metadata(body["metadata"])


def parse_credit_note(data: dict[str, Any]) -> CreditNoteInput:
    reader = Reader(data)
    invoice_id = reader.string("invoice_id")
    reason = reader.choice("reason", REASONS)
    description = reader.string("description", max_length=LONG_TEXT_MAX)
    amounts = {
        key: reader.amount_cents(key)
        for key in ("credit_amount_cents", "refund_amount_cents", "offset_amount_cents")
    }
    reader.raise_if_any()
    items = parse_items(data)
    return CreditNoteInput(
        invoice_id=invoice_id if isinstance(invoice_id, str) else "",
        items=items,
        reason=reason if isinstance(reason, str) else "other",
        description=description if isinstance(description, str) else None,
        metadata=parse_metadata(data.get("metadata")),
        **{key: value if isinstance(value, int) else 0 for key, value in amounts.items()},
    )


def _precise(value: Decimal) -> str:
    # Lago serialises these BigDecimals as strings.
    return format(value.normalize(), "f") if value != 0 else "0.0"


def applied_tax_object(tax: CreditNoteTax) -> dict[str, Any]:
    return {
        **applied_tax_fields(tax),
        "lago_credit_note_id": str(tax.credit_note_id),
        "base_amount_cents": tax.base_amount_cents,
    }


def credit_note_object(
    note: CreditNote,
    invoice: Invoice,
    *,
    billing_entity_code: str,
    customer: dict[str, Any] | None,
    fees: dict[Any, dict[str, Any]],
    file_url: str | None = None,
    xml_url: str | None = None,
) -> dict[str, Any]:
    return {
        "lago_id": str(note.id),
        "billing_entity_code": billing_entity_code,
        "sequential_id": note.sequential_id,
        "number": note.number,
        "lago_invoice_id": str(invoice.id),
        "invoice_number": invoice.number,
        "purchase_order_number": None,
        "issuing_date": iso_date(note.issuing_date),
        "credit_status": note.credit_status,
        "refund_status": note.refund_status,
        "reason": note.reason,
        "description": note.description,
        "currency": note.currency,
        "total_amount_cents": note.total_amount_cents,
        "precise_total_amount_cents": _precise(note.precise_total_amount_cents),
        "taxes_amount_cents": note.taxes_amount_cents,
        "precise_taxes_amount_cents": _precise(note.precise_taxes_amount_cents),
        "taxes_rate": rate_number(note.taxes_rate),
        "sub_total_excluding_taxes_amount_cents": note.sub_total_excluding_taxes_amount_cents,
        "balance_amount_cents": note.balance_amount_cents,
        "credit_amount_cents": note.credit_amount_cents,
        "refund_amount_cents": note.refund_amount_cents,
        "offset_amount_cents": note.offset_amount_cents,
        "coupons_adjustment_amount_cents": note.coupons_adjustment_amount_cents,
        "precise_coupons_adjustment_amount_cents": _precise(
            note.precise_coupons_adjustment_amount_cents
        ),
        "created_at": iso_seconds(note.created_at),
        "updated_at": iso_seconds(note.updated_at),
        "voided_at": iso_seconds(note.voided_at),
        "refunded_at": iso_seconds(note.refunded_at),
        "file_url": file_url,
        "xml_url": xml_url,
        "self_billed": False,
        "error_details": [],
        **({"metadata": note.metadata_values} if note.metadata_values else {}),
        "customer": customer,
        "items": [
            {
                "lago_id": str(item.id),
                "amount_cents": item.amount_cents,
                "precise_amount_cents": _precise(item.precise_amount_cents),
                "amount_currency": item.amount_currency,
                "fee": fees.get(item.fee_id),
            }
            for item in note.items
        ],
        "applied_taxes": [applied_tax_object(tax) for tax in note.applied_taxes],
    }


def parse_refund_status(data: dict[str, Any]) -> tuple[str | None, dict[str, str | None] | None]:
    reader = Reader(data)
    status = reader.choice("refund_status", REFUND_STATUSES)
    reader.raise_if_any()
    metadata = parse_metadata(data["metadata"]) if "metadata" in data else None
    return (status if status is not MISSING and isinstance(status, str) else None), metadata
