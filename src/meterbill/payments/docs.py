"""The payments part of the API reference."""

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
    q,
    ref,
    root,
)

PAYMENT = obj(
    "A payment of an invoice: recorded by hand (`manual`) or collected through a payment "
    "provider (`provider`).",
    lago_id=UUID,
    lago_customer_id=UUID,
    external_customer_id=STR,
    invoice_ids=arr(UUID),
    invoice_numbers=arr(STR),
    lago_payable_id=UUID,
    payable_type={"type": "string", "enum": ["Invoice"]},
    amount_cents=INT,
    amount_currency=STR,
    status=STR,
    payment_status=STR,
    type=STR,
    reference=STR_,
    payment_provider_code=STR_,
    payment_provider_type={"type": ["string", "null"], "enum": ["stripe", None]},
    external_payment_id=STR_,
    provider_payment_id=STR_,
    provider_customer_id=STR_,
    next_action={"type": "object"},
    created_at=TIME,
)
PAYMENT_INPUT = body(
    ["invoice_id", "amount_cents", "reference"],
    invoice_id=UUID,
    amount_cents={**INT, "minimum": 1, "description": "At most what is still due."},
    reference={**STR, "description": "Your reference for the payment."},
    paid_at={**STR, "description": "A date, or a date and time (UTC without an offset)."},
)
FILTERS = (*PAGE, q("invoice_id", UUID, "Only payments of this invoice."))

REFERENCE = Reference(
    tag="Payments",
    schemas={"Payment": PAYMENT},
    operations={
        ("POST", "/api/v1/payments"): op(
            "Record a payment",
            "Records a manual payment on a finalized invoice.",
            root("payment", ref("Payment")),
            request=root("payment", PAYMENT_INPUT),
            errors=(403, 404),
        ),
        ("GET", "/api/v1/payments"): op(
            "List payments",
            "The organization's payments.",
            page("payments", ref("Payment")),
            query=(*FILTERS, q("external_customer_id", STR, "Only this customer's.")),
        ),
        ("GET", "/api/v1/payments/{payment_id}"): op(
            "Retrieve a payment",
            "One payment.",
            root("payment", ref("Payment")),
            path={"payment_id": "The payment's lago_id."},
        ),
        ("GET", "/api/v1/customers/{external_id}/payments"): op(
            "List a customer's payments",
            "The customer's payments.",
            page("payments", ref("Payment")),
            query=FILTERS,
            path={"external_id": "The customer's external id."},
        ),
    },
)
