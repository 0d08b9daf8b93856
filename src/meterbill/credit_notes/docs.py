"""The credit notes part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    BOOL,
    DATE,
    DECIMAL,
    INT,
    METADATA_MAP,
    PAGE,
    STR,
    STR_,
    TIME,
    TIME_,
    UUID,
    Reference,
    arr,
    body,
    enum,
    metadata_operations,
    obj,
    op,
    page,
    q,
    ref,
    root,
    with_optional,
)
from meterbill.credit_notes.schemas import CREDIT_STATUSES, REASONS, REFUND_STATUSES
from meterbill.taxes.docs import APPLIED_TAX_FIELDS

CREDIT_NOTE = with_optional(
    obj(
        "A credit note on an invoice: credited to the customer, refunded, or offset.",
        lago_id=UUID,
        billing_entity_code=STR,
        sequential_id=INT,
        number=STR,
        lago_invoice_id=UUID,
        invoice_number=STR,
        purchase_order_number={"type": "null"},
        issuing_date=DATE,
        credit_status=enum(*CREDIT_STATUSES, null=True),
        refund_status=enum(*REFUND_STATUSES, null=True),
        reason=enum(*REASONS),
        description=STR_,
        currency=STR,
        total_amount_cents=INT,
        precise_total_amount_cents=DECIMAL,
        taxes_amount_cents=INT,
        precise_taxes_amount_cents=DECIMAL,
        taxes_rate={"type": "number"},
        sub_total_excluding_taxes_amount_cents=INT,
        balance_amount_cents={**INT, "description": "Credit left to use."},
        credit_amount_cents=INT,
        refund_amount_cents=INT,
        offset_amount_cents=INT,
        coupons_adjustment_amount_cents=INT,
        precise_coupons_adjustment_amount_cents=DECIMAL,
        created_at=TIME,
        updated_at=TIME,
        voided_at=TIME_,
        refunded_at=TIME_,
        file_url={**STR_, "description": "A signed, expiring link to the PDF, once made."},
        xml_url={**STR_, "description": "A signed, expiring link to the e-invoice XML."},
        self_billed=BOOL,
        error_details=arr({}),
        customer={**ref("Customer"), "description": "The customer, in its list form."},
        items=arr(
            obj(
                lago_id=UUID,
                amount_cents=INT,
                precise_amount_cents=DECIMAL,
                amount_currency=STR,
                fee={"anyOf": [ref("Fee"), {"type": "null"}]},
            )
        ),
        applied_taxes=arr(
            obj(**APPLIED_TAX_FIELDS, lago_credit_note_id=UUID, base_amount_cents=INT)
        ),
    ),
    metadata={**METADATA_MAP, "description": "Present only when the note has metadata."},
)
ESTIMATE = obj(
    "What a credit note on these fees would amount to, and the most it can be.",
    lago_invoice_id=UUID,
    invoice_number=STR,
    currency=STR,
    taxes_amount_cents=INT,
    precise_taxes_amount_cents=DECIMAL,
    taxes_rate={"type": "number"},
    sub_total_excluding_taxes_amount_cents=INT,
    max_creditable_amount_cents=INT,
    max_refundable_amount_cents=INT,
    max_offsettable_amount_cents=INT,
    coupons_adjustment_amount_cents=INT,
    precise_coupons_adjustment_amount_cents=DECIMAL,
    items=arr(obj(lago_fee_id=UUID, amount_cents=INT)),
    applied_taxes=arr(
        obj(
            lago_tax_id=UUID,
            tax_name=STR,
            tax_code=STR,
            tax_rate={"type": "number"},
            tax_description=STR_,
            amount_cents=INT,
            amount_currency=STR,
            base_amount_cents=INT,
        )
    ),
)
ITEMS = arr(body(["fee_id", "amount_cents"], fee_id=UUID, amount_cents=INT))
CREDIT_NOTE_INPUT = body(
    ["invoice_id", "items"],
    invoice_id=UUID,
    reason=enum(*REASONS),
    description=STR_,
    credit_amount_cents={**INT, "description": "Part credited to the customer's balance."},
    refund_amount_cents={**INT, "description": "Part refunded (a paid invoice)."},
    offset_amount_cents={**INT, "description": "Part taken off what is still due."},
    items={**ITEMS, "description": "The amount credited on each fee."},
    metadata=METADATA_MAP,
)
FILTERS = (
    *PAGE,
    q("issuing_date_from", DATE, "Issued on or after this date."),
    q("issuing_date_to", DATE, "Issued on or before this date."),
    q("search_term", STR, "Part of the number, or of the customer's name, email or id."),
    q("currency", STR, "Only notes in this currency."),
    q("reason", enum(*REASONS), "Only this reason."),
    q("credit_status", enum(*CREDIT_STATUSES), "Only this credit status."),
    q("refund_status", enum(*REFUND_STATUSES), "Only this refund status."),
    q("invoice_number", STR, "Only notes on this invoice."),
    q("amount_from", INT, "Total of at least this many minor units."),
    q("amount_to", INT, "Total of at most this many minor units."),
    q("self_billed", enum("true", "false"), "Self-billed notes (none in meterbill)."),
    q("billing_entity_codes[]", arr(STR), "Any of these billing entities."),
)
ID = {"credit_note_id": "The credit note's lago_id."}
NOTES = "/api/v1/credit_notes"
ONE = root("credit_note", ref("CreditNote"))

REFERENCE = Reference(
    tag="Credit notes",
    schemas={"CreditNote": CREDIT_NOTE},
    operations={
        ("POST", NOTES): op(
            "Create a credit note",
            "Credits, refunds or offsets part of a finalized invoice, fee by fee.",
            ONE,
            request=root("credit_note", CREDIT_NOTE_INPUT),
            errors=(404, 405),
        ),
        ("POST", NOTES + "/estimate"): op(
            "Estimate a credit note",
            "The amounts and limits of a credit note on these fees, without creating it.",
            root("estimated_credit_note", ESTIMATE),
            request=root(
                "credit_note", body(["invoice_id", "items"], invoice_id=UUID, items=ITEMS)
            ),
            errors=(404, 405),
        ),
        ("GET", NOTES): op(
            "List credit notes",
            "The organization's credit notes, narrowed by the filters given.",
            page("credit_notes", ref("CreditNote")),
            query=(*FILTERS, q("external_customer_id", STR, "Only this customer's.")),
            errors=(404,),
        ),
        ("GET", "/api/v1/customers/{external_id}/credit_notes"): op(
            "List a customer's credit notes",
            "The customer's credit notes.",
            page("credit_notes", ref("CreditNote")),
            query=FILTERS,
            path={"external_id": "The customer's external id."},
        ),
        ("GET", NOTES + "/{credit_note_id}"): op(
            "Retrieve a credit note", "One credit note.", ONE, path=ID
        ),
        ("PUT", NOTES + "/{credit_note_id}"): op(
            "Update a credit note",
            "Sets its refund status, or its metadata.",
            ONE,
            request=root(
                "credit_note", body(refund_status=enum(*REFUND_STATUSES), metadata=METADATA_MAP)
            ),
            path=ID,
        ),
        ("PUT", NOTES + "/{credit_note_id}/void"): op(
            "Void a credit note",
            "Voids the credit left on it.",
            ONE,
            path=ID,
            errors=(405,),
        ),
        **metadata_operations(NOTES + "/{credit_note_id}", ID, "credit note"),
    },
)
