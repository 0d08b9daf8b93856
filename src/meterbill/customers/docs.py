"""The customers part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    BOOL,
    INT,
    INT_,
    PAGE,
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
    page,
    q,
    ref,
    root,
    with_optional,
)
from meterbill.customers.schemas import (
    ACCOUNT_TYPES,
    CUSTOMER_TYPES,
    FINALIZE_ZERO_AMOUNT_INVOICE,
    ISSUING_DATE_ADJUSTMENTS,
    ISSUING_DATE_ANCHORS,
    PAYMENT_PROVIDERS,
)

ADDRESS = obj(
    address_line1=STR_, address_line2=STR_, city=STR_, zipcode=STR_, state=STR_, country=STR_
)
BILLING_CONFIGURATION = with_optional(
    obj(
        invoice_grace_period=INT_,
        payment_provider=enum(*PAYMENT_PROVIDERS, null=True),
        payment_provider_code=STR_,
        document_locale=STR_,
        subscription_invoice_issuing_date_anchor=enum(*ISSUING_DATE_ANCHORS, null=True),
        subscription_invoice_issuing_date_adjustment=enum(*ISSUING_DATE_ADJUSTMENTS, null=True),
    ),
    # Only with a payment provider; the payment methods only with Stripe.
    provider_customer_id=STR_,
    sync_with_provider={"type": ["boolean", "null"]},
    provider_payment_methods=arr(STR),
)
METADATA = obj(lago_id=UUID, key=STR, value=STR, display_in_invoice=BOOL, created_at=TIME)

CUSTOMER = with_optional(
    obj(
        "A customer. List responses omit the two fields marked 'one customer only'.",
        lago_id=UUID,
        billing_entity_code=STR,
        external_id=STR,
        account_type=enum(*ACCOUNT_TYPES),
        name=STR_,
        firstname=STR_,
        lastname=STR_,
        customer_type=enum(*CUSTOMER_TYPES, null=True),
        sequential_id=INT,
        slug=STR,
        created_at=TIME,
        updated_at=TIME,
        country=STR_,
        address_line1=STR_,
        address_line2=STR_,
        state=STR_,
        zipcode=STR_,
        email=STR_,
        city=STR_,
        url=STR_,
        phone=STR_,
        logo_url=STR_,
        legal_name=STR_,
        legal_number=STR_,
        currency=STR_,
        tax_identification_number=STR_,
        timezone=STR_,
        applicable_timezone={**STR, "description": "Customer's, else organization's, else UTC."},
        net_payment_term=INT_,
        external_salesforce_id=STR_,
        finalize_zero_amount_invoice=enum(*FINALIZE_ZERO_AMOUNT_INVOICE),
        billing_configuration=BILLING_CONFIGURATION,
        shipping_address=ADDRESS,
        skip_invoice_custom_sections=BOOL,
        metadata=arr(METADATA),
        taxes=arr(ref("Tax")),
        integration_customers=arr({"type": "object"}),
    ),
    applicable_invoice_custom_sections={**arr({}), "description": "One customer only."},
    error_details={**arr({}), "description": "One customer only."},
)

ADDRESS_INPUT = body(
    address_line1=STR_, address_line2=STR_, city=STR_, zipcode=STR_, state=STR_, country=STR_
)
CUSTOMER_INPUT = body(
    ["external_id"],
    external_id={**STR, "description": "Your id for the customer; an existing one is updated."},
    name=STR_,
    firstname=STR_,
    lastname=STR_,
    email=STR_,
    country={**STR_, "description": "ISO 3166 alpha-2."},
    currency={**STR_, "description": "ISO 4217; cannot change once the customer is billed."},
    timezone={**STR_, "description": "IANA name, e.g. Europe/Paris."},
    customer_type=enum(*CUSTOMER_TYPES, null=True),
    account_type=enum(*ACCOUNT_TYPES, null=True),
    net_payment_term=INT_,
    invoice_grace_period=INT_,
    finalize_zero_amount_invoice=enum(*FINALIZE_ZERO_AMOUNT_INVOICE, null=True),
    skip_invoice_custom_sections=BOOL,
    address_line1=STR_,
    address_line2=STR_,
    city=STR_,
    zipcode=STR_,
    state=STR_,
    legal_name=STR_,
    legal_number=STR_,
    tax_identification_number=STR_,
    phone=STR_,
    url=STR_,
    logo_url=STR_,
    external_salesforce_id=STR_,
    shipping_address=ADDRESS_INPUT,
    billing_configuration=body(
        invoice_grace_period=INT_,
        document_locale=STR_,
        payment_provider=enum(*PAYMENT_PROVIDERS, null=True),
        payment_provider_code=STR_,
        provider_customer_id=STR_,
        sync_with_provider=BOOL,
        provider_payment_methods=arr(STR),
        subscription_invoice_issuing_date_anchor=enum(*ISSUING_DATE_ANCHORS, null=True),
        subscription_invoice_issuing_date_adjustment=enum(*ISSUING_DATE_ADJUSTMENTS, null=True),
    ),
    metadata={
        **arr(
            body(
                ["key", "value"],
                id={**STR, "description": "An existing item's lago_id, to edit it."},
                key={**STR, "maxLength": 20},
                value={**STR, "maxLength": 100},
                display_in_invoice=BOOL,
            )
        ),
        "maxItems": 5,
        "description": "Replaces the customer's metadata when sent.",
    },
    tax_codes=arr(STR),
    invoice_custom_section_codes=arr(STR),
    billing_entity_code=STR,
)

FILTERS = (
    *PAGE,
    q("search_term", STR, "Part of the name, firstname, lastname, legal name, email or id."),
    q("external_id", STR, "Exactly this external id."),
    q("countries[]", arr(STR), "Any of these countries (ISO 3166 alpha-2)."),
    q("states[]", arr(STR), "Any of these states."),
    q("zipcodes[]", arr(STR), "Any of these zip codes."),
    q("currencies[]", arr(STR), "Any of these currencies (ISO 4217)."),
    q("customer_type", enum(*CUSTOMER_TYPES), "Only this customer type."),
    q("has_customer_type", enum("true", "false"), "With or without a customer type."),
    q(
        "has_tax_identification_number",
        enum("true", "false"),
        "With or without a tax identification number.",
    ),
    q("account_type[]", arr(enum(*ACCOUNT_TYPES)), "Any of these account types."),
    q("billing_entity_codes[]", arr(STR), "Any of these billing entities."),
    q(
        "metadata",
        {"type": "object", "additionalProperties": STR},
        "Metadata equal to these values: `metadata[key]=value`.",
        style="deepObject",
    ),
)
EXTERNAL_ID = {"external_id": "The customer's external id."}

REFERENCE = Reference(
    tag="Customers",
    schemas={"Customer": CUSTOMER},
    operations={
        ("POST", "/api/v1/customers"): op(
            "Create or update a customer",
            "Creates the customer with this `external_id`, or updates the fields sent if it "
            "exists.",
            root("customer", ref("Customer")),
            request=root("customer", CUSTOMER_INPUT),
            example={
                "customer": {
                    "external_id": "acme",
                    "name": "Acme Corp",
                    "currency": "EUR",
                    "timezone": "Europe/Paris",
                    "billing_configuration": {"document_locale": "fr"},
                }
            },
        ),
        ("GET", "/api/v1/customers"): op(
            "List customers",
            "The organization's customers, newest first, narrowed by the filters given.",
            page("customers", ref("Customer")),
            query=FILTERS,
            errors=(404,),
        ),
        ("GET", "/api/v1/customers/{external_id}"): op(
            "Retrieve a customer",
            "One customer, by external id.",
            root("customer", ref("Customer")),
            path=EXTERNAL_ID,
        ),
        ("DELETE", "/api/v1/customers/{external_id}"): op(
            "Delete a customer",
            "Terminates the customer's subscriptions, finalizes its draft invoices, ends its "
            "coupons and wallets, then deletes it; returns the customer as it was.",
            root("customer", ref("Customer")),
            path=EXTERNAL_ID,
        ),
    },
)
