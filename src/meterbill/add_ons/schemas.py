"""Add-on requests and Lago's add-on object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meterbill.add_ons.models import AddOn
from meterbill.core import fields
from meterbill.core.limits import LONG_TEXT_MAX
from meterbill.core.times import iso_seconds
from meterbill.core.validation import INVALID, MANDATORY, MISSING, Reader


@dataclass
class AddOnInput:
    columns: dict[str, Any] = field(default_factory=dict)
    tax_codes: list[str] | None = None


def parse_add_on(data: dict[str, Any], *, creating: bool) -> AddOnInput:
    reader = Reader(data)
    columns = {
        "name": reader.string("name", required=creating),
        "code": reader.string("code", required=creating),
        "invoice_display_name": reader.string("invoice_display_name"),
        "description": reader.string("description", max_length=LONG_TEXT_MAX),
        "amount_cents": reader.amount_cents("amount_cents"),
        "amount_currency": fields.currency(reader, "amount_currency"),
    }
    if (creating and not reader.has("amount_cents")) or (
        reader.has("amount_cents") and data["amount_cents"] is None
    ):
        reader.add("amount_cents", MANDATORY)
    if (creating and not reader.has("amount_currency")) or (
        reader.has("amount_currency") and data["amount_currency"] is None
    ):
        reader.add("amount_currency", INVALID)
    tax_codes = reader.string_list("tax_codes")
    reader.raise_if_any()
    return AddOnInput(
        columns={key: value for key, value in columns.items() if value is not MISSING},
        tax_codes=tax_codes if isinstance(tax_codes, list) else None,
    )


def add_on_object(add_on: AddOn, taxes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "lago_id": str(add_on.id),
        "name": add_on.name,
        "invoice_display_name": add_on.invoice_display_name,
        "code": add_on.code,
        "amount_cents": add_on.amount_cents,
        "amount_currency": add_on.amount_currency,
        "created_at": iso_seconds(add_on.created_at),
        "description": add_on.description,
        "taxes": taxes,
    }
