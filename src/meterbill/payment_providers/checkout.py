"""A Stripe Checkout page for an invoice that cannot be charged off-session (Lago's
`POST /invoices/{id}/payment_url`). The request itself asks Stripe: the client waits
for the address; it is not the request that finalized the invoice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from meterbill.core.db import Transactions
from meterbill.core.errors import MeterbillError, ValidationFailed
from meterbill.credit_notes.service import issued_on
from meterbill.customers.models import Customer
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.models import Invoice
from meterbill.organizations.models import Organization
from meterbill.payment_providers.models import PaymentProvider
from meterbill.payment_providers.options import ProviderOptions
from meterbill.payment_providers.outcomes import failed, provider_fields, report_error
from meterbill.payment_providers.service import customer_connection
from meterbill.payment_providers.stripe_api import client

# Lago's StripeProvider::SUCCESS_REDIRECT_URL, when the connection names none.
SUCCESS_REDIRECT_URL = "https://stripe.com/"


class ThirdPartyFailure(MeterbillError):
    """Lago's third_party_error: the provider refused or could not be reached."""

    status = 422
    error = "Unprocessable Entity"

    def __init__(self, message: str) -> None:
        super().__init__("third_party_error")
        self.message = message

    def body(self) -> dict[str, Any]:
        details = {"third_party": "Stripe", "thirdparty_error": self.message}
        return {**super().body(), "error_details": details}


@dataclass(frozen=True)
class _Request:
    invoice_id: uuid.UUID
    customer_id: uuid.UUID
    external_customer_id: str
    provider: PaymentProvider
    params: dict[str, Any]
    idempotency_key: str


def _refuse(code: str) -> ValidationFailed:
    return ValidationFailed.single("base", code)


def _prepare(session: Session, organization_id: uuid.UUID, invoice_id: str) -> _Request:
    invoice = find_invoice(session, organization_id, invoice_id)
    customer = session.get(Customer, invoice.customer_id)
    organization = session.get(Organization, organization_id)
    assert customer is not None and organization is not None
    if not customer.payment_provider:
        raise _refuse("no_linked_payment_provider")
    if customer.payment_provider != "stripe":
        raise _refuse("invalid_payment_provider")
    if invoice.status != "finalized" or invoice.payment_status == "succeeded":
        raise _refuse("invalid_invoice_status_or_payment_status")
    provider = customer_connection(session, customer)
    if provider is None:
        raise _refuse("missing_payment_provider")
    if not customer.provider_customer_id:
        raise _refuse("missing_payment_provider_customer")
    due = issued_on(session, invoice.id).due(invoice)
    if due <= 0:
        raise _refuse("invalid_invoice_status_or_payment_status")
    session.expunge(provider)
    return _Request(
        invoice.id,
        customer.id,
        customer.external_id,
        provider,
        _session_params(invoice, customer, organization, provider, due),
        # Asked again for the same amount, the same page (Stripe keeps keys a day).
        f"meterbill-checkout-{invoice.id}-{due}",
    )


def _session_params(
    invoice: Invoice,
    customer: Customer,
    organization: Organization,
    provider: PaymentProvider,
    due: int,
) -> dict[str, Any]:
    return {
        "mode": "payment",
        "customer": customer.provider_customer_id,
        "success_url": provider.success_redirect_url or SUCCESS_REDIRECT_URL,
        "payment_method_types": customer.provider_payment_methods or ["card"],
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": invoice.currency.lower(),
                    "unit_amount": due,
                    "product_data": {"name": invoice.number},
                },
            }
        ],
        "payment_intent_data": {
            "description": f"{organization.name} - Invoice {invoice.number}",
            # The card is kept for the next invoices (Lago), except in India (RBI).
            **({"setup_future_usage": "off_session"} if customer.country != "IN" else {}),
            "metadata": {
                "lago_customer_id": str(customer.id),
                "lago_invoice_id": str(invoice.id),
                "invoice_issuing_date": invoice.issuing_date.isoformat(),
                "invoice_type": invoice.invoice_type,
                "payment_type": "one-time",
            },
        },
    }


def payment_url(
    db: Transactions,
    organization_id: uuid.UUID,
    invoice_id: str,
    options: ProviderOptions,
    now: datetime,
) -> dict[str, Any]:
    with db.transaction(write=False) as session:
        request = _prepare(session, organization_id, invoice_id)
    try:
        checkout = client(request.provider, options).v1.checkout.sessions.create(
            params=request.params,  # type: ignore[arg-type]
            options={"idempotency_key": request.idempotency_key},
        )
    except Exception as error:
        outcome = failed(error)
        assert outcome.error is not None
        with db.transaction() as session:
            customer = session.get(Customer, request.customer_id)
            assert customer is not None
            report_error(
                session,
                organization_id,
                "invoice.payment_failure",
                "payment_provider_invoice_payment_error",
                {
                    "lago_invoice_id": str(request.invoice_id),
                    **provider_fields(customer, request.provider, outcome.error),
                },
                now,
            )
        raise ThirdPartyFailure(outcome.error.message) from error
    return {
        "lago_customer_id": str(request.customer_id),
        "lago_invoice_id": str(request.invoice_id),
        "external_customer_id": request.external_customer_id,
        "payment_provider": "stripe",
        "payment_url": checkout.url,
    }
