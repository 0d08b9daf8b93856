"""Organization settings: request parsing and the Lago organization object."""

from __future__ import annotations

from typing import Any

from meterbill.core import fields
from meterbill.core.fields import required_value
from meterbill.core.limits import DAYS_MAX
from meterbill.core.times import iso_seconds
from meterbill.core.validation import MISSING, Reader
from meterbill.organizations.models import Organization

# Lago's organization API names the organization-wide sequence `per_organization`; its
# billing entity (which meterbill folds into the organization) calls the same setting
# `per_billing_entity`. Both are accepted; it is stored under the billing entity's name,
# which the numbering reads, and shown under the organization's.
DOCUMENT_NUMBERINGS = ("per_customer", "per_organization")
ACCEPTED_NUMBERINGS = (*DOCUMENT_NUMBERINGS, "per_billing_entity")
# Lago's billing entity: a footer of 600 characters, a prefix of 1 to 10. Its settings
# form allows a grace period of a year at most; meterbill's API holds the same rule, so
# that the dashboard and the API accept the same values.
INVOICE_FOOTER_MAX = 600
PREFIX_MAX = 10
GRACE_PERIOD_MAX = 365


def parse_organization_update(data: dict[str, Any]) -> dict[str, Any]:
    """The columns to change; absent keys are left alone."""
    reader = Reader(data)
    values: dict[str, Any] = {}
    # The billing entity's name, which meterbill folds into the organization's.
    values["name"] = required_value(reader, "name", reader.string("name", required="name" in data))
    for key in (
        "legal_name",
        "legal_number",
        "tax_identification_number",
        "address_line1",
        "address_line2",
        "city",
        "zipcode",
        "state",
        "webhook_url",
    ):
        values[key] = reader.string(key, empty_as_null=key not in ("legal_name", "legal_number"))
    values["email"] = fields.email(reader)
    values["country"] = fields.country(reader, "country")
    # Lago takes the logo on its billing entity, which meterbill folds in here.
    values["logo"] = fields.logo(reader)
    values["timezone"] = required_value(reader, "timezone", fields.timezone(reader))
    values["default_currency"] = required_value(
        reader, "default_currency", fields.currency(reader, "default_currency")
    )
    values["net_payment_term"] = required_value(
        reader, "net_payment_term", reader.integer("net_payment_term", minimum=0, maximum=DAYS_MAX)
    )
    numbering = reader.choice("document_numbering", ACCEPTED_NUMBERINGS)
    values["document_numbering"] = required_value(
        reader,
        "document_numbering",
        "per_billing_entity" if numbering == "per_organization" else numbering,
    )
    prefix = reader.string("document_number_prefix", max_length=PREFIX_MAX)
    if prefix == "" or (isinstance(prefix, str) and not prefix.strip()):
        reader.add("document_number_prefix", "value_is_too_short")
        prefix = MISSING
    values["document_number_prefix"] = required_value(
        reader, "document_number_prefix", prefix.upper() if isinstance(prefix, str) else prefix
    )
    values["finalize_zero_amount_invoice"] = required_value(
        reader, "finalize_zero_amount_invoice", reader.boolean("finalize_zero_amount_invoice")
    )
    values["email_settings"] = required_value(
        reader, "email_settings", reader.string_list("email_settings")
    )
    billing = reader.obj("billing_configuration")
    if isinstance(billing, dict):
        nested = Reader(billing, reader.errors)
        values["invoice_grace_period"] = required_value(
            nested,
            "invoice_grace_period",
            nested.integer("invoice_grace_period", minimum=0, maximum=GRACE_PERIOD_MAX),
        )
        values["document_locale"] = required_value(
            nested, "document_locale", fields.document_locale(nested)
        )
        values["invoice_footer"] = nested.string("invoice_footer", max_length=INVOICE_FOOTER_MAX)
    reader.raise_if_any()
    return {key: value for key, value in values.items() if value is not MISSING}


def organization_object(
    org: Organization, taxes: list[dict[str, Any]], webhook_urls: list[str]
) -> dict[str, Any]:
    """`webhook_urls` are the URLs of the webhook endpoints, the first one's first."""
    return {
        "lago_id": str(org.id),
        "name": org.name,
        "created_at": iso_seconds(org.created_at),
        "webhook_url": webhook_urls[0] if webhook_urls else None,
        "webhook_urls": webhook_urls,
        "country": org.country,
        "address_line1": org.address_line1,
        "address_line2": org.address_line2,
        "state": org.state,
        "zipcode": org.zipcode,
        "email": org.email,
        "city": org.city,
        "legal_name": org.legal_name,
        "legal_number": org.legal_number,
        "net_payment_term": org.net_payment_term,
        "tax_identification_number": org.tax_identification_number,
        "timezone": org.timezone,
        "default_currency": org.default_currency,
        "document_numbering": (
            "per_organization"
            if org.document_numbering == "per_billing_entity"
            else org.document_numbering
        ),
        "document_number_prefix": org.document_number_prefix,
        "email_settings": org.email_settings,
        "finalize_zero_amount_invoice": org.finalize_zero_amount_invoice,
        "billing_configuration": {
            "invoice_footer": org.invoice_footer,
            "invoice_grace_period": org.invoice_grace_period,
            "document_locale": org.document_locale,
        },
        "taxes": taxes,
    }
