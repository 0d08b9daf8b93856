"""The invoices part of the API reference (invoices, fees, preview, forecast, past usage)."""

from __future__ import annotations

from meterbill.core.apidoc import (
    ANY_OBJECT,
    BOOL,
    DATE,
    DECIMAL,
    DECIMAL_IN,
    INT,
    INT_,
    PAGE,
    STR,
    STR_,
    TIME,
    TIME_,
    UUID,
    UUID_,
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
from meterbill.taxes.docs import APPLIED_TAX_FIELDS

INVOICE_TYPES = (
    "subscription",
    "add_on",
    "credit",
    "one_off",
    "advance_charges",
    "progressive_billing",
)
STATUSES = ("draft", "finalized", "voided", "failed", "pending")
PAYMENT_STATUSES = ("pending", "succeeded", "failed")

FEE = obj(
    "One line of an invoice (or a fee paid in advance, before it is invoiced).",
    lago_id=UUID,
    lago_charge_id=UUID_,
    lago_charge_filter_id=UUID_,
    lago_fixed_charge_id={"type": "null"},
    lago_invoice_id={**UUID_, "description": "Null while the fee is not invoiced."},
    lago_true_up_fee_id={"type": "null"},
    lago_true_up_parent_fee_id=UUID_,
    lago_original_fee_id={"type": "null"},
    lago_subscription_id=UUID_,
    external_subscription_id=STR_,
    lago_customer_id=UUID,
    external_customer_id=STR_,
    item=obj(
        type={**STR, "description": "subscription, charge, add_on, credit, commitment..."},
        code=STR,
        name=STR,
        description=STR_,
        invoice_display_name=STR_,
        filters={"type": ["object", "null"]},
        filter_invoice_display_name=STR_,
        lago_item_id=UUID_,
        item_type=STR,
        grouped_by=ANY_OBJECT,
    ),
    pay_in_advance=BOOL,
    invoiceable=BOOL,
    amount_cents=INT,
    amount_currency=STR,
    precise_amount=DECIMAL,
    precise_total_amount=DECIMAL,
    taxes_amount_cents=INT,
    taxes_precise_amount=DECIMAL,
    taxes_rate={"type": "number"},
    total_aggregated_units=DECIMAL,
    total_amount_cents=INT,
    total_amount_currency=STR,
    units=DECIMAL,
    description=STR_,
    precise_unit_amount=DECIMAL,
    precise_coupons_amount_cents=DECIMAL,
    sub_total_excluding_taxes_amount_cents=INT,
    sub_total_excluding_taxes_precise_amount_cents=DECIMAL,
    events_count=INT,
    payment_status=enum(*PAYMENT_STATUSES, "refunded"),
    created_at=TIME,
    succeeded_at=TIME_,
    failed_at=TIME_,
    refunded_at=TIME_,
    event_transaction_id=STR_,
    amount_details=ANY_OBJECT,
    self_billed=BOOL,
    pricing_unit_details={"type": "null"},
    presentation_breakdowns=arr({}),
    from_date=TIME_,
    to_date=TIME_,
    applied_taxes=arr(obj(**APPLIED_TAX_FIELDS, lago_fee_id=UUID)),
)
BILLING_PERIOD = obj(
    "The period of one subscription an invoice bills.",
    lago_subscription_id=UUID,
    external_subscription_id=STR,
    lago_plan_id=UUID,
    subscription_from_datetime=TIME_,
    subscription_to_datetime=TIME_,
    charges_from_datetime=TIME_,
    charges_to_datetime=TIME_,
    fixed_charges_from_datetime=TIME_,
    fixed_charges_to_datetime=TIME_,
    invoicing_reason=STR_,
)
CREDIT = obj(
    "A coupon, credit note or progressive billing credit deducted from the invoice.",
    lago_id=UUID,
    amount_cents=INT,
    amount_currency=STR,
    before_taxes=BOOL,
    item=obj(lago_item_id=UUID, type=STR, code=STR_, name=STR_, description={"type": "null"}),
    invoice=obj(lago_id=UUID, payment_status=enum(*PAYMENT_STATUSES)),
)
INVOICE = with_optional(
    obj(
        "An invoice. Lists omit the four fields marked 'one invoice only'.",
        lago_id=UUID,
        billing_entity_code=STR,
        sequential_id=INT_,
        number=STR,
        purchase_order_number={"type": "null"},
        issuing_date=DATE,
        payment_dispute_lost_at=TIME_,
        payment_due_date=DATE,
        payment_overdue=BOOL,
        net_payment_term=INT,
        invoice_type=enum(*INVOICE_TYPES),
        status=enum(*STATUSES),
        payment_status=enum(*PAYMENT_STATUSES),
        currency=STR,
        fees_amount_cents=INT,
        taxes_amount_cents=INT,
        progressive_billing_credit_amount_cents=INT,
        coupons_amount_cents=INT,
        credit_notes_amount_cents=INT,
        sub_total_excluding_taxes_amount_cents=INT,
        sub_total_including_taxes_amount_cents=INT,
        total_amount_cents=INT,
        total_due_amount_cents={**INT, "description": "What is still to be paid."},
        total_paid_amount_cents=INT,
        total_offsetted_credit_note_amount_cents=INT,
        prepaid_credit_amount_cents=INT,
        prepaid_granted_credit_amount_cents={"type": "null"},
        prepaid_purchased_credit_amount_cents={"type": "null"},
        file_url={**STR_, "description": "A signed, expiring link to the PDF, once made."},
        xml_url={**STR_, "description": "A signed, expiring link to the e-invoice XML."},
        web_url={"type": "null"},
        version_number=INT,
        self_billed=BOOL,
        created_at=TIME,
        updated_at=TIME,
        voided_at=TIME_,
        customer={**ref("Customer"), "description": "The customer, in its list form."},
        metadata=arr(obj(lago_id=UUID, key=STR, value=STR, created_at=TIME)),
        applied_taxes=arr(obj(**APPLIED_TAX_FIELDS, lago_invoice_id=UUID, fees_amount_cents=INT)),
        applied_invoice_custom_sections=arr({}),
        applied_usage_thresholds=arr({}),
        error_details=arr(obj(lago_id=UUID, error_code=STR, details=ANY_OBJECT)),
    ),
    billing_periods={**arr(BILLING_PERIOD), "description": "One invoice only."},
    subscriptions={
        **arr(ref("InvoiceSubscription")),
        "description": "One invoice only.",
    },
    fees={**arr(ref("Fee")), "description": "One invoice only."},
    credits={**arr(CREDIT), "description": "One invoice only."},
)

PAST_USAGE_PERIOD = {
    "type": "object",
    "description": "What one past billing period's invoice billed, charge by charge.",
    "required": ["from_datetime", "to_datetime", "issuing_date", "lago_invoice_id"],
    "properties": {
        "from_datetime": TIME_,
        "to_datetime": TIME_,
        "issuing_date": DATE,
        "currency": STR,
        "amount_cents": INT,
        "total_amount_cents": INT,
        "taxes_amount_cents": INT,
        "lago_invoice_id": UUID,
        "charges_usage": arr(ANY_OBJECT),
    },
}

INVOICE_FILTERS = (
    *PAGE,
    q("status", enum(*STATUSES), "Only invoices in this status."),
    q("status[]", arr(enum(*STATUSES)), "Any of these statuses."),
    q("payment_status", enum(*PAYMENT_STATUSES), "Only this payment status."),
    q("payment_overdue", enum("true", "false"), "Overdue (or not) invoices only."),
    q("invoice_type", enum(*INVOICE_TYPES), "Only this kind of invoice."),
    q("currency", STR, "Only invoices in this currency."),
    q("issuing_date_from", DATE, "Issued on or after this date."),
    q("issuing_date_to", DATE, "Issued on or before this date."),
    q(
        "search_term",
        STR,
        "Part of the number, the id, or part of the customer's name, external id or e-mail.",
    ),
    q("amount_from", INT, "Total amount (cents) at least this."),
    q("amount_to", INT, "Total amount (cents) at most this."),
)
ONE_OFF_INPUT = body(
    ["external_customer_id", "fees"],
    external_customer_id=STR,
    currency={**STR, "description": "ISO 4217 (default: the customer's)."},
    fees=arr(
        body(
            ["add_on_code"],
            add_on_code=STR,
            units={**DECIMAL_IN, "description": "Default 1."},
            unit_amount_cents={**INT, "description": "Default: the add-on's amount."},
            description=STR_,
            invoice_display_name=STR_,
            from_datetime=TIME,
            to_datetime=TIME,
            tax_codes=arr(STR),
        )
    ),
)
PREVIEW_INPUT = body(
    ["customer"],
    customer={
        **ANY_OBJECT,
        "description": "An existing customer's `external_id`, or the fields of a new one.",
    },
    plan_code={**STR, "description": "Preview a new subscription to this plan."},
    billing_time=enum("calendar", "anniversary"),
    subscription_at=TIME,
    coupons={**arr(body(["code"], code=STR)), "description": "Coupons to apply."},
    subscriptions=body(
        external_ids={**arr(STR), "description": "Preview these existing subscriptions."},
        plan_code={**STR, "description": "...switched to this plan."},
        terminated_at=TIME,
    ),
)
INVOICE_ID = {"invoice_id": "The invoice's lago_id."}
ONE_INVOICE = root("invoice", ref("Invoice"))
INVOICES = "/api/v1/invoices"
FEE_PATH = {"fee_id": "The fee's lago_id."}


def _action(summary: str, description: str, *errors: int) -> object:
    return op(summary, description, ONE_INVOICE, path=INVOICE_ID, errors=errors)


REFERENCE = Reference(
    tag="Invoices",
    schemas={"Invoice": INVOICE, "Fee": FEE},
    operations={
        ("GET", INVOICES): op(
            "List invoices",
            "The organization's invoices, newest first, narrowed by the filters given.",
            page("invoices", ref("Invoice")),
            query=(*INVOICE_FILTERS, q("external_customer_id", STR, "Only this customer's.")),
        ),
        ("GET", "/api/v1/customers/{external_id}/invoices"): op(
            "List a customer's invoices",
            "The customer's invoices.",
            page("invoices", ref("Invoice")),
            query=INVOICE_FILTERS,
            path={"external_id": "The customer's external id."},
        ),
        ("POST", INVOICES): op(
            "Create a one-off invoice",
            "Invoices add-ons to a customer now, finalized.",
            ONE_INVOICE,
            request=root("invoice", ONE_OFF_INPUT),
            errors=(404,),
        ),
        ("GET", INVOICES + "/{invoice_id}"): op(
            "Retrieve an invoice",
            "One invoice with its fees, credits and billing periods.",
            ONE_INVOICE,
            path=INVOICE_ID,
        ),
        ("PUT", INVOICES + "/{invoice_id}"): op(
            "Update an invoice",
            "Sets the payment status of a finalized invoice, or its metadata.",
            ONE_INVOICE,
            request=root(
                "invoice",
                body(
                    payment_status=enum(*PAYMENT_STATUSES),
                    metadata=arr(body(["key", "value"], id=STR_, key=STR, value=STR)),
                ),
            ),
            path=INVOICE_ID,
            errors=(405,),
        ),
        ("PUT", INVOICES + "/{invoice_id}/finalize"): _action(
            "Finalize a draft invoice", "Finalizes the draft now, with a number.", 405
        ),
        ("PUT", INVOICES + "/{invoice_id}/refresh"): _action(
            "Refresh a draft invoice", "Recomputes the draft from the usage recorded since.", 405
        ),
        ("POST", INVOICES + "/{invoice_id}/refresh"): _action(
            "Refresh a draft invoice", "The same as PUT.", 405
        ),
        ("POST", INVOICES + "/{invoice_id}/retry"): _action(
            "Retry a failed invoice", "Builds an invoice whose generation failed again.", 403, 405
        ),
        ("POST", INVOICES + "/{invoice_id}/void"): op(
            "Void an invoice",
            "Voids a finalized invoice. With `generate_credit_note`, its value goes to a "
            "credit note of `credit_amount` + `refund_amount` (cents) and a voided note for "
            "the rest.",
            ONE_INVOICE,
            request=body(generate_credit_note=BOOL, credit_amount=INT, refund_amount=INT),
            path=INVOICE_ID,
            errors=(403, 405, 422),
        ),
        ("POST", INVOICES + "/preview"): op(
            "Preview an invoice",
            "The invoice a customer would get for a plan or its subscriptions, computed "
            "without saving anything.",
            ONE_INVOICE,
            request=PREVIEW_INPUT,
            errors=(404,),
        ),
        ("GET", "/api/v1/subscriptions/{external_id}/invoice_forecast"): op(
            "Forecast a subscription's invoices",
            "The invoices of the coming billing periods, at the usage recorded so far.",
            page("invoices", ref("Invoice")),
            query=(
                *PAGE,
                q("periods", {"type": "integer", "minimum": 0}, "How many periods (default 1)."),
            ),
            path={"external_id": "The subscription's external id."},
        ),
        ("GET", "/api/v1/customers/{external_id}/past_usage"): op(
            "Past usage",
            "The usage billed in the customer's past periods, newest first.",
            page("usage_periods", PAST_USAGE_PERIOD),
            query=(
                *PAGE,
                q("external_subscription_id", STR, "The subscription.", required=True),
                q("billable_metric_code", STR, "Only this metric's charges."),
                q("periods_count", INT, "How many periods."),
            ),
            path={"external_id": "The customer's external id."},
            errors=(404,),
        ),
        ("GET", "/api/v1/fees"): op(
            "List fees",
            "The organization's fees, narrowed by the filters given.",
            page("fees", ref("Fee")),
            query=(
                *PAGE,
                q("external_customer_id", STR, "Only this customer's."),
                q("external_subscription_id", STR, "Only this subscription's."),
                q("currency", STR, "Only fees in this currency."),
                q("fee_type", STR, "charge, subscription, add_on, credit, commitment."),
                q("billable_metric_code", STR, "Only fees of this metric's charges."),
                q("payment_status", STR, "Only this payment status."),
                q("created_at_from", TIME, "Created at or after this instant."),
                q("created_at_to", TIME, "Created at or before this instant."),
            ),
        ),
        ("GET", "/api/v1/fees/{fee_id}"): op(
            "Retrieve a fee", "One fee.", root("fee", ref("Fee")), path=FEE_PATH
        ),
        ("PUT", "/api/v1/fees/{fee_id}"): op(
            "Update a fee's payment status",
            "For a fee paid in advance that is not invoiced.",
            root("fee", ref("Fee")),
            request=root("fee", body(["payment_status"], payment_status=STR)),
            path=FEE_PATH,
            errors=(405,),
        ),
        ("DELETE", "/api/v1/fees/{fee_id}"): op(
            "Delete a fee",
            "Deletes a fee that is not invoiced.",
            root("fee", ref("Fee")),
            path=FEE_PATH,
            errors=(405,),
        ),
    },
)
