"""Lago's invoice and fee objects."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meterbill.core.errors import ValidationFailed
from meterbill.core.limits import TEXT_MAX
from meterbill.core.money import decimal_string, round_half_up, subunit_to_unit
from meterbill.core.times import iso_date, iso_seconds
from meterbill.invoices.models import (
    Credit,
    ErrorDetail,
    Fee,
    FeeTax,
    Invoice,
    InvoiceSubscription,
    InvoiceTax,
)
from meterbill.subscriptions.models import Subscription
from meterbill.taxes.schemas import applied_tax_fields, rate_number

# Statuses Lago never shows through the API.
HIDDEN_STATUSES = ("closed", "generating", "open")


def _id(value: Any) -> str | None:
    return str(value) if value is not None else None


def fee_tax_object(tax: FeeTax) -> dict[str, Any]:
    return {
        **applied_tax_fields(tax),
        "lago_fee_id": str(tax.fee_id),
    }


def fee_object(
    fee: Fee,
    *,
    external_subscription_id: str | None,
    external_customer_id: str | None,
) -> dict[str, Any]:
    unit = Decimal(subunit_to_unit(fee.amount_currency))
    net = Decimal(fee.amount_cents) - fee.precise_coupons_amount_cents
    sub_total = int(round_half_up(net))
    return {
        "lago_id": str(fee.id),
        "lago_charge_id": _id(fee.charge_id),
        "lago_charge_filter_id": _id(fee.charge_filter_id),
        "lago_fixed_charge_id": None,
        "lago_invoice_id": _id(fee.invoice_id),
        "lago_true_up_fee_id": None,
        "lago_true_up_parent_fee_id": _id(fee.true_up_parent_fee_id),
        "lago_original_fee_id": None,
        "lago_subscription_id": _id(fee.subscription_id),
        "external_subscription_id": external_subscription_id,
        "lago_customer_id": str(fee.customer_id),
        "external_customer_id": external_customer_id,
        "item": {
            "type": fee.fee_type,
            "code": fee.item_code,
            "name": fee.item_name,
            "description": fee.description,
            "invoice_display_name": fee.invoice_display_name,
            "filters": fee.filter_values,
            "filter_invoice_display_name": fee.filter_display_name,
            "lago_item_id": _id(fee.item_id),
            "item_type": fee.item_type,
            "grouped_by": fee.grouped_by or {},
        },
        "pay_in_advance": fee.pay_in_advance,
        "invoiceable": fee.invoiceable,
        "amount_cents": fee.amount_cents,
        "amount_currency": fee.amount_currency,
        "precise_amount": decimal_string(fee.precise_amount_cents / unit),
        "precise_total_amount": decimal_string(
            (fee.precise_amount_cents + fee.taxes_precise_amount_cents) / unit
        ),
        "taxes_amount_cents": fee.taxes_amount_cents,
        "taxes_precise_amount": decimal_string(fee.taxes_precise_amount_cents / unit),
        "taxes_rate": rate_number(fee.taxes_rate),
        "total_aggregated_units": decimal_string(fee.total_aggregated_units),
        "total_amount_cents": fee.amount_cents + fee.taxes_amount_cents,
        "total_amount_currency": fee.amount_currency,
        "units": decimal_string(fee.units),
        "description": fee.description,
        "precise_unit_amount": decimal_string(fee.precise_unit_amount),
        "precise_coupons_amount_cents": decimal_string(fee.precise_coupons_amount_cents),
        "sub_total_excluding_taxes_amount_cents": sub_total,
        "sub_total_excluding_taxes_precise_amount_cents": decimal_string(net),
        "events_count": fee.events_count,
        "payment_status": fee.payment_status,
        "created_at": iso_seconds(fee.created_at),
        "succeeded_at": iso_seconds(fee.succeeded_at),
        "failed_at": iso_seconds(fee.failed_at),
        "refunded_at": iso_seconds(fee.refunded_at),
        "event_transaction_id": fee.event_transaction_id,
        "amount_details": fee.amount_details or {},
        "self_billed": False,
        "pricing_unit_details": None,
        "presentation_breakdowns": [],
        "from_date": iso_seconds(fee.from_datetime),
        "to_date": iso_seconds(fee.to_datetime),
        "applied_taxes": [fee_tax_object(tax) for tax in fee.applied_taxes],
    }


def billing_period_object(entry: InvoiceSubscription, subscription: Subscription) -> dict[str, Any]:
    # Every entry shows both ranges, as Lago's do; an entry that bills only one of
    # them shows it for both, except that charges never begin before the subscription
    # did (the plan fee's range begins at the local start of its start day).
    plan_from = entry.from_datetime or entry.charges_from_datetime
    plan_to = entry.to_datetime or entry.charges_to_datetime
    charges_from = entry.charges_from_datetime
    if charges_from is None and plan_from is not None:
        started = subscription.started_at
        charges_from = max(plan_from, started) if started is not None else plan_from
    return {
        "lago_subscription_id": str(subscription.id),
        "external_subscription_id": subscription.external_id,
        "lago_plan_id": str(subscription.plan_id),
        "subscription_from_datetime": iso_seconds(plan_from),
        "subscription_to_datetime": iso_seconds(plan_to),
        "charges_from_datetime": iso_seconds(charges_from),
        "charges_to_datetime": iso_seconds(entry.charges_to_datetime or plan_to),
        "fixed_charges_from_datetime": iso_seconds(plan_from),
        "fixed_charges_to_datetime": iso_seconds(plan_to),
        "invoicing_reason": entry.invoicing_reason,
    }


def credit_object(credit: Credit, invoice: Invoice) -> dict[str, Any]:
    return {
        "lago_id": str(credit.id),
        "amount_cents": credit.amount_cents,
        "amount_currency": credit.amount_currency,
        "before_taxes": credit.before_taxes,
        "item": {
            "lago_item_id": str(credit.item_id),
            "type": credit.item_type,
            "code": credit.item_code,
            "name": credit.item_name,
            "description": None,
        },
        "invoice": {"lago_id": str(invoice.id), "payment_status": invoice.payment_status},
    }


def error_detail_object(detail: ErrorDetail) -> dict[str, Any]:
    return {"lago_id": str(detail.id), "error_code": detail.error_code, "details": detail.details}


def invoice_tax_object(tax: InvoiceTax) -> dict[str, Any]:
    return {
        **applied_tax_fields(tax),
        "lago_invoice_id": str(tax.invoice_id),
        "fees_amount_cents": tax.fees_amount_cents,
    }


def total_due_amount_cents(invoice: Invoice, offsetted: int) -> int:
    """What the invoice still asks for: its total less payments and what credit notes
    offset against it (`offsetted`); nothing once voided."""
    if invoice.status == "voided":
        return 0
    return max(invoice.total_amount_cents - invoice.total_paid_amount_cents - offsetted, 0)


def invoice_object(
    invoice: Invoice,
    *,
    billing_entity_code: str,
    customer: dict[str, Any] | None,
    subscriptions: dict[Any, Subscription],
    subscription_objects: list[dict[str, Any]] | None,
    external_customer_id: str,
    full: bool,
    offsetted: int = 0,
    file_url: str | None = None,
    xml_url: str | None = None,
) -> dict[str, Any]:
    """The invoice; `full` adds fees, credits, subscriptions and billing periods (GET one).

    `offsetted` is what credit notes offset against it: no longer due."""
    total_due = total_due_amount_cents(invoice, offsetted)
    body: dict[str, Any] = {
        "lago_id": str(invoice.id),
        "billing_entity_code": billing_entity_code,
        "sequential_id": invoice.sequential_id,
        "number": invoice.number,
        "purchase_order_number": None,
        "issuing_date": iso_date(invoice.issuing_date),
        "payment_dispute_lost_at": iso_seconds(invoice.payment_dispute_lost_at),
        "payment_due_date": iso_date(invoice.payment_due_date),
        "payment_overdue": invoice.payment_overdue,
        "net_payment_term": invoice.net_payment_term,
        "invoice_type": invoice.invoice_type,
        "status": invoice.status,
        "payment_status": invoice.payment_status,
        "currency": invoice.currency,
        "fees_amount_cents": invoice.fees_amount_cents,
        "taxes_amount_cents": invoice.taxes_amount_cents,
        "progressive_billing_credit_amount_cents": invoice.progressive_billing_credit_amount_cents,
        "coupons_amount_cents": invoice.coupons_amount_cents,
        "credit_notes_amount_cents": invoice.credit_notes_amount_cents,
        "sub_total_excluding_taxes_amount_cents": invoice.sub_total_excluding_taxes_amount_cents,
        "sub_total_including_taxes_amount_cents": invoice.sub_total_including_taxes_amount_cents,
        "total_amount_cents": invoice.total_amount_cents,
        "total_due_amount_cents": total_due,
        "total_paid_amount_cents": invoice.total_paid_amount_cents,
        "total_offsetted_credit_note_amount_cents": offsetted,
        "prepaid_credit_amount_cents": invoice.prepaid_credit_amount_cents,
        "prepaid_granted_credit_amount_cents": None,
        "prepaid_purchased_credit_amount_cents": None,
        "file_url": file_url,
        "xml_url": xml_url,
        "web_url": None,
        "version_number": invoice.version_number,
        "self_billed": False,
        "created_at": iso_seconds(invoice.created_at),
        "updated_at": iso_seconds(invoice.updated_at),
        "voided_at": iso_seconds(invoice.voided_at),
        "customer": customer,
        "metadata": [
            {
                "lago_id": str(item.id),
                "key": item.key,
                "value": item.value,
                "created_at": iso_seconds(item.created_at),
            }
            for item in invoice.metadata_items
        ],
        "applied_taxes": [invoice_tax_object(tax) for tax in invoice.applied_taxes],
        "applied_invoice_custom_sections": [],
        "applied_usage_thresholds": [],
        "error_details": [error_detail_object(detail) for detail in invoice.error_details],
    }
    if full:
        body["billing_periods"] = [
            billing_period_object(entry, subscriptions[entry.subscription_id])
            for entry in invoice.billing_periods
        ]
        body["subscriptions"] = subscription_objects or []
        body["fees"] = [
            fee_object(
                fee,
                external_subscription_id=(
                    subscriptions[fee.subscription_id].external_id
                    if fee.subscription_id in subscriptions
                    else None
                ),
                external_customer_id=external_customer_id,
            )
            for fee in invoice.fees
        ]
        body["credits"] = [credit_object(credit, invoice) for credit in invoice.credits]
    return body


def parse_invoice_update(data: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]] | None]:
    """PUT /invoices/{id}: the payment status and the metadata items (key, value, id)."""
    metadata = data.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, list)
        and all(
            isinstance(item, dict)
            and isinstance(item.get("key"), str)
            and isinstance(item.get("value"), str)
            and len(item["key"]) <= TEXT_MAX
            and len(item["value"]) <= TEXT_MAX
            and (item.get("id") is None or isinstance(item["id"], str))
            for item in metadata
        )
    ):
        raise ValidationFailed.single("metadata", "value_is_invalid")
    payment_status = data.get("payment_status")
    if payment_status is not None and not isinstance(payment_status, str):
        raise ValidationFailed.single("payment_status", "value_is_invalid")
    return payment_status, metadata
