"""The payment providers' part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    BOOL,
    STR,
    STR_,
    TIME,
    UUID,
    Reference,
    arr,
    body,
    enum,
    obj,
    op,
    ref,
    root,
)

CONNECTION = obj(
    "A connected Stripe account. Its secrets are stored encrypted and never sent back.",
    lago_id=UUID,
    provider_type=enum("stripe"),
    code=STR,
    name=STR,
    secret_key={**STR, "description": "Masked: the last four characters only."},
    webhook_secret_configured=BOOL,
    webhook_endpoint_id=STR_,
    webhook_url={**STR, "description": "Where Stripe sends this connection's events."},
    success_redirect_url=STR_,
    created_at=TIME,
    updated_at=TIME,
)
_FIELDS = {
    "name": STR,
    "secret_key": {**STR, "description": "A secret (sk_...) or restricted (rk_...) key."},
    "webhook_secret": {
        **STR_,
        "description": "The endpoint's signing secret (whsec_...); without it meterbill "
        "registers its own endpoint at Stripe.",
    },
    "success_redirect_url": STR_,
}
CONNECT = body(["code", "name", "secret_key"], provider_type=enum("stripe"), code=STR, **_FIELDS)
UPDATE = body((), **_FIELDS)
PAYMENT_URL = obj(
    lago_customer_id=UUID,
    lago_invoice_id=UUID,
    external_customer_id=STR,
    payment_provider=enum("stripe"),
    payment_url=STR,
)
CODE = {"code": "The connection's code."}
INVOICE = {"invoice_id": "The invoice's lago_id."}

REFERENCE = Reference(
    tag="Payment providers",
    schemas={"PaymentProvider": CONNECTION},
    operations={
        ("POST", "/api/v1/payment_providers"): op(
            "Connect a Stripe account",
            "A meterbill endpoint (Lago connects providers in its GraphQL API). Refused "
            "with 422 encryption_key_missing when METERBILL_ENCRYPTION_KEY is not set.",
            root("payment_provider", ref("PaymentProvider")),
            request=root("payment_provider", CONNECT),
            example={
                "payment_provider": {
                    "provider_type": "stripe",
                    "code": "stripe_prod",
                    "name": "Stripe",
                    "secret_key": "sk_test_1234567890",
                }
            },
        ),
        ("GET", "/api/v1/payment_providers"): op(
            "List connections",
            "The organization's payment provider connections.",
            obj(payment_providers=arr(ref("PaymentProvider"))),
        ),
        ("GET", "/api/v1/payment_providers/{code}"): op(
            "Retrieve a connection",
            "One connection.",
            root("payment_provider", ref("PaymentProvider")),
            path=CODE,
        ),
        ("PUT", "/api/v1/payment_providers/{code}"): op(
            "Update a connection",
            "Changes what is sent; a new secret replaces the stored one.",
            root("payment_provider", ref("PaymentProvider")),
            request=root("payment_provider", UPDATE),
            path=CODE,
        ),
        ("DELETE", "/api/v1/payment_providers/{code}"): op(
            "Disconnect",
            "Nothing more is collected through it; Stripe's own records stay.",
            root("payment_provider", ref("PaymentProvider")),
            path=CODE,
        ),
        ("POST", "/api/v1/invoices/{invoice_id}/retry_payment"): op(
            "Retry an invoice payment",
            "Sends the invoice for collection again (a new attempt, made by the clock). "
            "Answers an empty 200, as Lago.",
            {"type": "string", "maxLength": 0},
            path=INVOICE,
            errors=(405,),
            media_type="text/plain",
        ),
        ("POST", "/api/v1/invoices/{invoice_id}/payment_url"): op(
            "Generate a payment URL",
            "A Stripe Checkout page for the amount due.",
            root("invoice_payment_details", PAYMENT_URL),
            path=INVOICE,
            errors=(422,),
        ),
    },
)
