"""Query parameters of /api/v1/analytics/* and the rows they answer, in Lago's words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

# Ruby's String#to_i: optional leading blanks and sign, then digits; anything else is 0.
_RUBY_INTEGER = re.compile(r"\s*([+-]?\d+)")


@dataclass(frozen=True)
class AnalyticsFilters:
    external_customer_id: str | None = None
    # Upper-cased; compared exactly (Lago does not validate it: an unknown code gives []).
    currency: str | None = None
    # The last N calendar months including the current one; None = since the
    # organization's creation month.
    months: int | None = None


def _present(value: str | None) -> str | None:
    # Rails' `present?`: an empty or blank value is the same as no value.
    return value if value is not None and value.strip() else None


def ruby_to_i(value: str) -> int:
    match = _RUBY_INTEGER.match(value)
    return int(match.group(1)) if match else 0


def parse_filters(params: Mapping[str, str]) -> AnalyticsFilters:
    """Never refuses: Lago answers every value (`billing_entity_code` is ignored, since
    the one billing entity is the organization itself)."""
    customer = _present(params.get("external_customer_id"))
    currency = _present(params.get("currency"))
    months = _present(params.get("months"))
    return AnalyticsFilters(
        external_customer_id=customer,
        currency=currency.upper() if currency is not None else None,
        # `months <= 1` and non-numbers mean "the current month only".
        months=max(ruby_to_i(months), 1) if months is not None else None,
    )


def month_string(month: date) -> str:
    """Lago renders a month as the UTC instant of its first day, with milliseconds."""
    return f"{month.isoformat()}T00:00:00.000Z"


@dataclass(frozen=True)
class GrossRevenueRow:
    month: date
    currency: str
    amount_cents: int
    invoices_count: int


@dataclass(frozen=True)
class OverdueBalanceRow:
    month: date
    currency: str
    amount_cents: int
    lago_invoice_ids: list[str]


@dataclass(frozen=True)
class InvoiceCollectionRow:
    month: date
    # Both None on a month without any finalized invoice (Lago zero-fills this report).
    payment_status: str | None
    currency: str | None
    amount_cents: int
    invoices_count: int


@dataclass(frozen=True)
class MrrRow:
    month: date
    # Both None on a month without any subscription revenue (zero-filled like Lago's).
    currency: str | None
    amount_cents: int | None


def gross_revenue_object(row: GrossRevenueRow, billing_entity_id: str) -> dict[str, Any]:
    return {
        "month": month_string(row.month),
        "amount_cents": row.amount_cents,
        "currency": row.currency,
        "invoices_count": row.invoices_count,
        "billing_entity_id": billing_entity_id,
    }


def overdue_balance_object(row: OverdueBalanceRow, billing_entity_id: str) -> dict[str, Any]:
    return {
        "month": month_string(row.month),
        "amount_cents": row.amount_cents,
        "currency": row.currency,
        "lago_invoice_ids": row.lago_invoice_ids,
        "billing_entity_id": billing_entity_id,
    }


def invoice_collection_object(row: InvoiceCollectionRow) -> dict[str, Any]:
    return {
        "month": month_string(row.month),
        "payment_status": row.payment_status,
        "invoices_count": row.invoices_count,
        "amount_cents": row.amount_cents,
        "currency": row.currency,
    }


def mrr_object(row: MrrRow) -> dict[str, Any]:
    return {
        "month": month_string(row.month),
        "amount_cents": row.amount_cents,
        "currency": row.currency,
    }
