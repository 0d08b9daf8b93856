"""The analytics part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    INT,
    INT_,
    STR,
    STR_,
    TIME,
    UUID,
    Reference,
    Schema,
    arr,
    obj,
    op,
    q,
    ref,
)

MONTH = {**TIME, "description": "The first instant of the month (UTC)."}
FILTERS = (
    q("external_customer_id", STR, "Only this customer's invoices."),
    q("currency", STR, "Only this currency."),
    q("months", INT, "The last N months, this one included (default: since the start)."),
)
SCHEMAS = {
    "GrossRevenue": obj(
        "Revenue invoiced in one month and currency.",
        month=MONTH,
        amount_cents=INT,
        currency=STR,
        invoices_count=INT,
        billing_entity_id=UUID,
    ),
    "OverdueBalance": obj(
        "What is overdue, by the month the invoices were due.",
        month=MONTH,
        amount_cents=INT,
        currency=STR,
        lago_invoice_ids=arr(UUID),
        billing_entity_id=UUID,
    ),
    "InvoiceCollection": obj(
        "Finalized invoices of one month by payment status (nulls: a month without any).",
        month=MONTH,
        payment_status=STR_,
        invoices_count=INT,
        amount_cents=INT,
        currency=STR_,
    ),
    "Mrr": obj(
        "Monthly recurring revenue (nulls: a month without any).",
        month=MONTH,
        amount_cents=INT_,
        currency=STR_,
    ),
}


def _list(key: str, name: str) -> Schema:
    return {"type": "object", "required": [key], "properties": {key: arr(ref(name))}}


REPORTS = {
    "gross_revenue": ("gross_revenues", "GrossRevenue", "Gross revenue", "Invoiced revenue"),
    "overdue_balance": ("overdue_balances", "OverdueBalance", "Overdue balance", "Overdue amounts"),
    "invoice_collection": (
        "invoice_collections",
        "InvoiceCollection",
        "Invoice collection",
        "Invoices collected (or not)",
    ),
    "mrr": ("mrrs", "Mrr", "Monthly recurring revenue", "Subscription revenue"),
}

REFERENCE = Reference(
    tag="Analytics",
    schemas=SCHEMAS,
    operations={
        ("GET", f"/api/v1/analytics/{path}"): op(
            summary,
            f"{lead} by month and currency.",
            _list(key, name),
            query=FILTERS,
        )
        for path, (key, name, summary, lead) in REPORTS.items()
    },
)
