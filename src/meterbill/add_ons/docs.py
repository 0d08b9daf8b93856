"""The add-ons part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
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

ADD_ON = obj(
    "A one-off item (setup fee, service) that can be invoiced on its own.",
    lago_id=UUID,
    name=STR,
    invoice_display_name=STR_,
    code=STR,
    amount_cents=INT,
    amount_currency=STR,
    created_at=TIME,
    description=STR_,
    taxes=arr(ref("Tax")),
)
ADD_ON_INPUT = body(
    name=STR,
    code=STR,
    invoice_display_name=STR_,
    description=STR_,
    amount_cents={**INT, "description": "Price in the currency's minor units."},
    amount_currency={**STR, "description": "ISO 4217."},
    tax_codes=arr(STR),
)
CODE = {"code": "The add-on's code."}

REFERENCE = Reference(
    tag="Add-ons",
    schemas={"AddOn": ADD_ON},
    operations={
        ("POST", "/api/v1/add_ons"): op(
            "Create an add-on",
            "`name`, `code`, `amount_cents` and `amount_currency` are required.",
            root("add_on", ref("AddOn")),
            request=root(
                "add_on",
                {**ADD_ON_INPUT, "required": ["name", "code", "amount_cents", "amount_currency"]},
            ),
            example={
                "add_on": {
                    "name": "Onboarding",
                    "code": "onboarding",
                    "amount_cents": 50_000,
                    "amount_currency": "EUR",
                }
            },
        ),
        ("GET", "/api/v1/add_ons"): op(
            "List add-ons", "The organization's add-ons.", page("add_ons", ref("AddOn")), query=PAGE
        ),
        ("GET", "/api/v1/add_ons/{code}"): op(
            "Retrieve an add-on", "One add-on, by code.", root("add_on", ref("AddOn")), path=CODE
        ),
        ("PUT", "/api/v1/add_ons/{code}"): op(
            "Update an add-on",
            "Changes the fields sent; the others keep their value.",
            root("add_on", ref("AddOn")),
            request=root("add_on", ADD_ON_INPUT),
            path=CODE,
        ),
        ("DELETE", "/api/v1/add_ons/{code}"): op(
            "Delete an add-on",
            "Deletes the add-on; invoices already issued keep their fees.",
            root("add_on", ref("AddOn")),
            path=CODE,
        ),
    },
)
