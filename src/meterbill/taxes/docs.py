"""The taxes part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    BOOL,
    DECIMAL_IN,
    INT,
    PAGE,
    STR,
    STR_,
    TIME,
    UUID,
    Reference,
    arr,
    body,
    obj,
    op,
    page,
    ref,
    root,
)

TAX = obj(
    "A tax rate that applies to the organization, customers, plans, charges or add-ons.",
    lago_id=UUID,
    name=STR,
    code=STR,
    rate={"type": "number", "description": "Percentage, e.g. 20.0."},
    description=STR_,
    applied_to_organization=BOOL,
    applied_to_billing_entities_codes=arr(STR),
    add_ons_count=INT,
    customers_count=INT,
    plans_count=INT,
    charges_count=INT,
    commitments_count=INT,
    created_at=TIME,
)

# Taxes applied to a fee, an invoice or a credit note share these fields.
APPLIED_TAX_FIELDS = {
    "lago_id": UUID,
    "lago_tax_id": UUID,
    "tax_name": STR,
    "tax_code": STR,
    "tax_rate": {"type": "number"},
    "tax_description": STR_,
    "amount_cents": INT,
    "amount_currency": STR,
    "created_at": TIME,
}

TAX_INPUT = body(
    code=STR,
    name=STR,
    rate={**DECIMAL_IN, "description": "Percentage between 0 and 1000."},
    description=STR_,
    applied_to_organization=BOOL,
)
CODE = {"code": "The tax's code."}

REFERENCE = Reference(
    tag="Taxes",
    schemas={"Tax": TAX},
    operations={
        ("POST", "/api/v1/taxes"): op(
            "Create a tax",
            "Creates a tax rate; `code`, `name` and `rate` are required.",
            root("tax", ref("Tax")),
            request=root("tax", {**TAX_INPUT, "required": ["code", "name", "rate"]}),
            example={"tax": {"code": "vat_fr", "name": "TVA", "rate": "20.0"}},
        ),
        ("PUT", "/api/v1/taxes/{code}"): op(
            "Update a tax",
            "Changes the fields sent; the others keep their value.",
            root("tax", ref("Tax")),
            request=root("tax", TAX_INPUT),
            path=CODE,
        ),
        ("GET", "/api/v1/taxes/{code}"): op(
            "Retrieve a tax", "One tax, by code.", root("tax", ref("Tax")), path=CODE
        ),
        ("DELETE", "/api/v1/taxes/{code}"): op(
            "Delete a tax",
            "Deletes the tax and removes it from what it applied to; returns it as it was.",
            root("tax", ref("Tax")),
            path=CODE,
        ),
        ("GET", "/api/v1/taxes"): op(
            "List taxes",
            "The organization's taxes, newest first.",
            page("taxes", ref("Tax")),
            query=PAGE,
        ),
    },
)
