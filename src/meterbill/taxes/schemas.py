"""Tax request parsing and the Lago tax object."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from meterbill.core.limits import LONG_TEXT_MAX
from meterbill.core.times import iso_seconds
from meterbill.core.validation import MISSING, Reader
from meterbill.taxes.models import AppliedTaxColumns, Tax


@dataclass(frozen=True)
class TaxInput:
    """Fields present in the request; MISSING ones are left untouched on update."""

    values: dict[str, Any]


def parse_tax(data: dict[str, Any], *, creating: bool) -> TaxInput:
    reader = Reader(data)
    values: dict[str, Any] = {
        "code": reader.string("code", required=creating),
        "name": reader.string("name", required=creating),
        # Ten times the taxed amount at most: a tax on the largest amount still fits.
        "rate": reader.decimal("rate", minimum=Decimal(0), maximum=Decimal(1000)),
        "description": reader.string("description", max_length=LONG_TEXT_MAX),
        "applied_to_organization": reader.boolean("applied_to_organization"),
    }
    if creating and values["rate"] in (MISSING, None) and "rate" not in reader.errors:
        reader.add("rate", "value_is_mandatory")
    for key in ("code", "name", "rate", "applied_to_organization"):
        if values[key] is None:
            # These columns cannot be cleared; null means "not given" as on create.
            reader.add(key, "value_is_mandatory")
    reader.raise_if_any()
    return TaxInput({key: value for key, value in values.items() if value is not MISSING})


def tax_object(tax: Tax, billing_entity_code: str, customers_count: int = 0) -> dict[str, Any]:
    return {
        "lago_id": str(tax.id),
        "name": tax.name,
        "code": tax.code,
        # Lago stores the rate as a float column and emits a JSON number.
        "rate": float(tax.rate),
        "description": tax.description,
        "applied_to_organization": tax.applied_to_organization,
        "applied_to_billing_entities_codes": (
            [billing_entity_code] if tax.applied_to_organization else []
        ),
        "add_ons_count": 0,
        "customers_count": customers_count,
        "plans_count": 0,
        "charges_count": 0,
        "commitments_count": 0,
        "created_at": iso_seconds(tax.created_at),
    }


def rate_number(value: Decimal) -> float:
    # Lago renders tax rates as JSON floats; a rate is a short percentage, exact enough.
    return float(value)


def applied_tax_fields(tax: AppliedTaxColumns) -> dict[str, Any]:
    """The fields every applied tax (on a fee, an invoice, a credit note) shows alike."""
    return {
        "lago_id": str(tax.id),  # type: ignore[attr-defined]
        "lago_tax_id": str(tax.tax_id),
        "tax_name": tax.tax_name,
        "tax_code": tax.tax_code,
        "tax_rate": rate_number(tax.tax_rate),
        "tax_description": tax.tax_description,
        "amount_cents": tax.amount_cents,
        "amount_currency": tax.amount_currency,
        "created_at": iso_seconds(tax.created_at),
    }
