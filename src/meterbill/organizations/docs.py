"""The organization part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    BOOL,
    INT,
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
from meterbill.organizations.schemas import (
    ACCEPTED_NUMBERINGS,
    DOCUMENT_NUMBERINGS,
    GRACE_PERIOD_MAX,
    INVOICE_FOOTER_MAX,
    PREFIX_MAX,
)

ORGANIZATION = obj(
    "The organization the API key belongs to.",
    lago_id=UUID,
    name=STR,
    created_at=TIME,
    webhook_url=STR_,
    webhook_urls=arr(STR),
    country=STR_,
    address_line1=STR_,
    address_line2=STR_,
    state=STR_,
    zipcode=STR_,
    email=STR_,
    city=STR_,
    legal_name=STR_,
    legal_number=STR_,
    net_payment_term=INT,
    tax_identification_number=STR_,
    timezone=STR,
    default_currency=STR,
    document_numbering=enum(*DOCUMENT_NUMBERINGS),
    document_number_prefix=STR,
    email_settings=arr(STR),
    finalize_zero_amount_invoice=BOOL,
    billing_configuration=obj(invoice_footer=STR_, invoice_grace_period=INT, document_locale=STR),
    taxes={**arr(ref("Tax")), "description": "The taxes applied to the whole organization."},
)

ORGANIZATION_INPUT = body(
    name={**STR, "description": "The name on documents (Lago's billing entity name)."},
    legal_name=STR_,
    legal_number=STR_,
    tax_identification_number=STR_,
    address_line1=STR_,
    address_line2=STR_,
    city=STR_,
    zipcode=STR_,
    state=STR_,
    webhook_url=STR_,
    email=STR_,
    country={**STR_, "description": "ISO 3166 alpha-2."},
    timezone={**STR, "description": "IANA name; applies to customers without their own."},
    default_currency={**STR, "description": "ISO 4217."},
    net_payment_term=INT,
    document_numbering=enum(*ACCEPTED_NUMBERINGS),
    document_number_prefix={**STR, "minLength": 1, "maxLength": PREFIX_MAX},
    finalize_zero_amount_invoice=BOOL,
    email_settings=arr(STR),
    billing_configuration=body(
        invoice_grace_period={**INT, "minimum": 0, "maximum": GRACE_PERIOD_MAX},
        document_locale=STR,
        invoice_footer={**STR_, "maxLength": INVOICE_FOOTER_MAX},
    ),
    logo={
        **STR_,
        "description": "The issuer's logo on invoices and credit notes: a PNG or JPEG of at "
        "most 800 KB as a data URL (data:image/png;base64,...); null removes it. Lago takes "
        "it on its billing entity.",
    },
)

REFERENCE = Reference(
    tag="Organization",
    schemas={"Organization": ORGANIZATION},
    operations={
        ("PUT", "/api/v1/organizations"): op(
            "Update the organization",
            "Changes the settings sent (address, timezone, default currency, invoicing "
            "defaults); the others keep their value.",
            root("organization", ref("Organization")),
            request=root("organization", ORGANIZATION_INPUT),
        ),
    },
)
