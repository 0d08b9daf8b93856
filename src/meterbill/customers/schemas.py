"""Customer requests as Lago reads them, and the Lago customer object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meterbill.core import fields
from meterbill.core.errors import ValidationFailed
from meterbill.core.limits import DAYS_MAX
from meterbill.core.times import iso_seconds
from meterbill.core.validation import INVALID, MISSING, Reader
from meterbill.customers.models import Customer, CustomerMetadata
from meterbill.organizations.models import Organization

CUSTOMER_TYPES = ("company", "individual")
ACCOUNT_TYPES = ("customer", "partner")
FINALIZE_ZERO_AMOUNT_INVOICE = ("inherit", "skip", "finalize")
PAYMENT_PROVIDERS = ("stripe", "gocardless", "cashfree", "adyen", "flutterwave", "moneyhash")
ISSUING_DATE_ANCHORS = ("current_period_end", "next_period_start")
ISSUING_DATE_ADJUSTMENTS = ("keep_anchor", "align_with_finalization_date")
METADATA_MAX_ITEMS = 5
METADATA_KEY_MAX = 20
METADATA_VALUE_MAX = 100
NAME_MAX = 255

# Plain text fields: null bytes are stripped, "" is kept as "".
TEXT_FIELDS = (
    "firstname",
    "lastname",
    "legal_name",
    "legal_number",
    "tax_identification_number",
    "phone",
    "url",
    "logo_url",
    "external_salesforce_id",
)
# Address fields: "" becomes null.
ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "zipcode", "state")


@dataclass(frozen=True)
class MetadataInput:
    id: str | None
    key: str
    value: str
    display_in_invoice: bool


@dataclass
class CustomerInput:
    """A parsed POST /customers body: only the keys the request carried are set."""

    external_id: str
    columns: dict[str, Any] = field(default_factory=dict)
    metadata: list[MetadataInput] | None = None
    tax_codes: list[str] | None = None
    billing_entity_code: str | None = None


def parse_customer(data: dict[str, Any]) -> CustomerInput:
    """Validate a customer body; raise ValidationFailed with every field's codes."""
    reader = Reader(data)
    metadata_raw = data.get("metadata")
    # Lago checks these two before anything else and answers with them alone.
    if isinstance(metadata_raw, list) and len(metadata_raw) > METADATA_MAX_ITEMS:
        raise ValidationFailed.single("metadata", "invalid_count")
    finalize = data.get("finalize_zero_amount_invoice", MISSING)
    if (
        finalize is not MISSING
        and finalize is not None
        and finalize not in (FINALIZE_ZERO_AMOUNT_INVOICE)
    ):
        raise ValidationFailed.single("finalize_zero_amount_invoice", "invalid_value")

    external_id = reader.string("external_id", required=True)
    columns: dict[str, Any] = {
        "name": reader.string("name", max_length=NAME_MAX),
        "email": fields.email(reader),
        "country": fields.country(reader, "country"),
        "currency": fields.currency(reader),
        "timezone": fields.timezone(reader),
        "customer_type": reader.choice("customer_type", CUSTOMER_TYPES),
        "net_payment_term": reader.integer("net_payment_term", minimum=0, maximum=DAYS_MAX),
        "invoice_grace_period": reader.integer("invoice_grace_period", minimum=0, maximum=DAYS_MAX),
        "skip_invoice_custom_sections": fields.required_value(
            reader, "skip_invoice_custom_sections", reader.boolean("skip_invoice_custom_sections")
        ),
    }
    for key in TEXT_FIELDS:
        columns[key] = reader.string(key)
    for key in ADDRESS_FIELDS:
        columns[key] = reader.string(key, empty_as_null=True)
    if finalize is not MISSING:
        columns["finalize_zero_amount_invoice"] = finalize or "inherit"
    # account_type is validated, but only Lago's premium revenue-share integration
    # honours it; without it every customer stays a "customer".
    reader.choice("account_type", ACCOUNT_TYPES)

    shipping = reader.obj("shipping_address")
    if isinstance(shipping, dict):
        columns.update(_shipping(Reader(shipping, reader.errors)))
    billing = reader.obj("billing_configuration")
    if isinstance(billing, dict):
        columns.update(_billing_configuration(Reader(billing, reader.errors)))

    metadata = _metadata(reader)
    tax_codes = reader.string_list("tax_codes")
    section_codes = reader.string_list("invoice_custom_section_codes")
    if columns["skip_invoice_custom_sections"] is True and isinstance(section_codes, list):
        reader.add("invoice_custom_sections", "skip_sections_and_selected_ids_sent_together")
    entity = reader.string("billing_entity_code")
    reader.raise_if_any()
    assert isinstance(external_id, str)
    return CustomerInput(
        external_id=external_id,
        columns={key: value for key, value in columns.items() if value is not MISSING},
        metadata=metadata if isinstance(metadata, list) else None,
        tax_codes=tax_codes if isinstance(tax_codes, list) else None,
        billing_entity_code=entity if isinstance(entity, str) else None,
    )


def _shipping(reader: Reader) -> dict[str, Any]:
    values = {f"shipping_{key}": reader.string(key, empty_as_null=True) for key in ADDRESS_FIELDS}
    values["shipping_country"] = fields.country(reader, "country", field="shipping_country")
    return values


def _billing_configuration(reader: Reader) -> dict[str, Any]:
    return {
        "invoice_grace_period": reader.integer("invoice_grace_period", minimum=0, maximum=DAYS_MAX),
        "document_locale": fields.document_locale(reader),
        "payment_provider": reader.choice("payment_provider", PAYMENT_PROVIDERS),
        "payment_provider_code": reader.string("payment_provider_code"),
        "provider_customer_id": reader.string("provider_customer_id"),
        "sync_with_provider": reader.boolean("sync_with_provider"),
        "provider_payment_methods": reader.string_list("provider_payment_methods"),
        "subscription_invoice_issuing_date_anchor": reader.choice(
            "subscription_invoice_issuing_date_anchor", ISSUING_DATE_ANCHORS
        ),
        "subscription_invoice_issuing_date_adjustment": reader.choice(
            "subscription_invoice_issuing_date_adjustment", ISSUING_DATE_ADJUSTMENTS
        ),
    }


def _metadata(reader: Reader) -> list[MetadataInput] | None:
    raw = reader.data.get("metadata")
    if raw is None:
        return None
    if not isinstance(raw, list):
        reader.add("metadata", INVALID)
        return None
    items: list[MetadataInput] = []
    for entry in raw:
        if not isinstance(entry, dict):
            reader.add("metadata", INVALID)
            continue
        item = Reader(entry, reader.errors)
        item_id = item.string("id")
        key = item.string("key", required=True, max_length=METADATA_KEY_MAX)
        value = item.string("value", required=True, max_length=METADATA_VALUE_MAX)
        display = item.boolean("display_in_invoice")
        if isinstance(key, str) and isinstance(value, str):
            items.append(
                MetadataInput(
                    id=item_id if isinstance(item_id, str) else None,
                    key=key,
                    value=value,
                    display_in_invoice=bool(display),
                )
            )
    return items


def metadata_object(item: CustomerMetadata) -> dict[str, Any]:
    return {
        "lago_id": str(item.id),
        "key": item.key,
        "value": item.value,
        "display_in_invoice": item.display_in_invoice,
        "created_at": iso_seconds(item.created_at),
    }


def billing_configuration_object(customer: Customer) -> dict[str, Any]:
    config: dict[str, Any] = {
        "invoice_grace_period": customer.invoice_grace_period,
        "payment_provider": customer.payment_provider,
        "payment_provider_code": customer.payment_provider_code,
        "document_locale": customer.document_locale,
        "subscription_invoice_issuing_date_anchor": (
            customer.subscription_invoice_issuing_date_anchor
        ),
        "subscription_invoice_issuing_date_adjustment": (
            customer.subscription_invoice_issuing_date_adjustment
        ),
    }
    if customer.payment_provider:
        config["provider_customer_id"] = customer.provider_customer_id
        config["sync_with_provider"] = customer.sync_with_provider
        if customer.payment_provider == "stripe":
            config["provider_payment_methods"] = customer.provider_payment_methods or ["card"]
    return config


def applicable_timezone(customer: Customer, organization: Organization) -> str:
    return customer.timezone or organization.timezone or "UTC"


def customer_object(
    customer: Customer,
    organization: Organization,
    taxes: list[dict[str, Any]],
    *,
    full: bool = True,
) -> dict[str, Any]:
    """Lago's customer serializer; `full` adds what GET one / POST / DELETE carry."""
    body: dict[str, Any] = {
        "lago_id": str(customer.id),
        "billing_entity_code": organization.billing_entity_code,
        "external_id": customer.external_id,
        "account_type": customer.account_type,
        "name": customer.name,
        "firstname": customer.firstname,
        "lastname": customer.lastname,
        "customer_type": customer.customer_type,
        "sequential_id": customer.sequential_id,
        "slug": customer.slug,
        "created_at": iso_seconds(customer.created_at),
        "updated_at": iso_seconds(customer.updated_at),
        "country": customer.country,
        "address_line1": customer.address_line1,
        "address_line2": customer.address_line2,
        "state": customer.state,
        "zipcode": customer.zipcode,
        "email": customer.email,
        "city": customer.city,
        "url": customer.url,
        "phone": customer.phone,
        "logo_url": customer.logo_url,
        "legal_name": customer.legal_name,
        "legal_number": customer.legal_number,
        "currency": customer.currency,
        "tax_identification_number": customer.tax_identification_number,
        "timezone": customer.timezone,
        "applicable_timezone": applicable_timezone(customer, organization),
        "net_payment_term": customer.net_payment_term,
        "external_salesforce_id": customer.external_salesforce_id,
        "finalize_zero_amount_invoice": customer.finalize_zero_amount_invoice,
        "billing_configuration": billing_configuration_object(customer),
        "shipping_address": {
            "address_line1": customer.shipping_address_line1,
            "address_line2": customer.shipping_address_line2,
            "city": customer.shipping_city,
            "zipcode": customer.shipping_zipcode,
            "state": customer.shipping_state,
            "country": customer.shipping_country,
        },
        "skip_invoice_custom_sections": customer.skip_invoice_custom_sections,
        "metadata": [metadata_object(item) for item in customer.metadata_items],
        "taxes": taxes,
        "integration_customers": [],
    }
    if full:
        body["applicable_invoice_custom_sections"] = []
        body["error_details"] = []
    return body
