"""GET /api/v1/customers/{external_id}/past_usage: usage as it was billed.

lago-api app/queries/past_usage_query.rb and app/serializers/v1/customers/
past_usage_serializer.rb, charge_usage_serializer.rb. One usage period per billed
invoice-subscription (those with charge bounds) of the subscription's external id,
newest first; each is read back from the invoice's charge fees, never recomputed.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterbill.core.errors import ValidationFailed
from meterbill.core.http import Context, JsonResponse, Query, ok
from meterbill.core.money import decimal_string
from meterbill.core.pagination import MAX_PAGE, PageRequest, build_meta
from meterbill.core.records import by_id, find_live
from meterbill.core.times import iso_seconds
from meterbill.customers.models import Customer
from meterbill.invoices.models import Fee, Invoice, InvoiceSubscription
from meterbill.metrics.models import BillableMetric
from meterbill.plans.models import Charge, ChargeFilter
from meterbill.subscriptions.models import Subscription

router = APIRouter(prefix="/api/v1")

# Ruby's String#to_i: optional leading blanks and sign, then digits; anything else is 0.
_RUBY_INTEGER = re.compile(r"\s*([+-]?\d+)")


def ruby_to_i(value: str) -> int:
    match = _RUBY_INTEGER.match(value)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class PastUsageQuery:
    external_customer_id: str
    external_subscription_id: str | None
    billable_metric_code: str | None
    periods_count: str | None
    page: PageRequest

    @classmethod
    def from_params(cls, external_customer_id: str, params: Mapping[str, str]) -> PastUsageQuery:
        return cls(
            external_customer_id=external_customer_id,
            external_subscription_id=params.get("external_subscription_id"),
            billable_metric_code=params.get("billable_metric_code"),
            periods_count=params.get("periods_count"),
            page=PageRequest.from_query(params),
        )


@dataclass(frozen=True)
class UsagePeriod:
    entry: InvoiceSubscription
    invoice: Invoice
    # Σ taxes of *all* the invoice's fees, as Lago's serializer sums them.
    taxes_amount_cents: int
    fees: list[Fee]


@dataclass(frozen=True)
class PastUsage:
    periods: list[UsagePeriod]
    meta: dict[str, Any]
    charges: dict[uuid.UUID, Charge]
    metrics: dict[uuid.UUID, BillableMetric]
    charge_filters: dict[uuid.UUID, ChargeFilter]


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _window(query: PastUsageQuery) -> tuple[int, int]:
    """(limit, offset). Lago applies `periods_count` as a LIMIT after Kaminari's page,
    so it replaces per_page as the page size while the offset stays page × per_page."""
    offset = (query.page.page - 1) * query.page.per_page
    if query.periods_count is None:
        return query.page.per_page, offset
    # Clamped to what a LIMIT takes on both databases (no page holds that many anyway).
    return min(max(ruby_to_i(query.periods_count), 0), MAX_PAGE), offset


def _meta(limit: int, offset: int, total: int, per_page: int) -> dict[str, Any]:
    # Kaminari's figures with limit_value = the LIMIT actually used. A zero limit (Lago
    # divides by it and fails) falls back to per_page so that the answer stays sane.
    size = limit or per_page
    if total == 0:
        return build_meta(1, size, 0)
    current = offset // size + 1
    total_pages = math.ceil(total / size)
    return {
        "current_page": current,
        "next_page": current + 1 if current < total_pages else None,
        "prev_page": current - 1 if current > 1 else None,
        "total_pages": total_pages,
        "total_count": total,
    }


def past_usage(session: Session, organization_id: uuid.UUID, query: PastUsageQuery) -> PastUsage:
    if _blank(query.external_subscription_id):
        raise ValidationFailed.single("external_subscription_id", "value_is_mandatory")
    metric_id = None
    if not _blank(query.billable_metric_code):
        metric_id = find_live(
            session, BillableMetric, organization_id, "billable_metric",
            code=query.billable_metric_code,
        ).id  # fmt: skip
    # The customer's existence is not checked: an unknown one simply has no periods.
    entries = (
        select(InvoiceSubscription, Invoice)
        .join(Invoice, Invoice.id == InvoiceSubscription.invoice_id)
        .join(Subscription, Subscription.id == InvoiceSubscription.subscription_id)
        .join(Customer, Customer.id == Subscription.customer_id)
        .where(
            Customer.organization_id == organization_id,
            Customer.external_id == query.external_customer_id,
            Customer.deleted_at.is_(None),
            # Every subscription under this external id: an upgrade keeps the id.
            Subscription.external_id == query.external_subscription_id,
            InvoiceSubscription.charges_from_datetime.is_not(None),
            # A statement of fees paid one by one is no period of usage.
            InvoiceSubscription.invoicing_reason != "in_advance_charge_periodic",
        )
    )
    total = session.scalar(select(func.count()).select_from(entries.subquery())) or 0
    limit, offset = _window(query)
    rows = (
        session.execute(
            entries.order_by(
                InvoiceSubscription.charges_from_datetime.desc(), InvoiceSubscription.id
            )
            .limit(limit)
            .offset(offset)
        ).all()
        if total and limit
        else []
    )
    invoice_ids = list({invoice.id for _entry, invoice in rows})
    taxes = _fee_taxes(session, invoice_ids)
    fees = _charge_fees(session, invoice_ids, query.external_subscription_id or "", metric_id)
    periods = [
        UsagePeriod(entry, invoice, taxes.get(invoice.id, 0), fees.get(invoice.id, []))
        for entry, invoice in rows
    ]
    charges, metrics, charge_filters = _catalog(session, [fee for p in periods for fee in p.fees])
    return PastUsage(
        periods=periods,
        meta=_meta(limit, offset, total, query.page.per_page),
        charges=charges,
        metrics=metrics,
        charge_filters=charge_filters,
    )


def _fee_taxes(session: Session, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not invoice_ids:
        return {}
    rows = session.execute(
        select(Fee.invoice_id, func.sum(Fee.taxes_amount_cents))
        .where(Fee.invoice_id.in_(invoice_ids), Fee.deleted_at.is_(None))
        .group_by(Fee.invoice_id)
    )
    return {invoice_id: int(amount or 0) for invoice_id, amount in rows}


def _charge_fees(
    session: Session,
    invoice_ids: Sequence[uuid.UUID],
    external_subscription_id: str,
    metric_id: uuid.UUID | None,
) -> dict[uuid.UUID, list[Fee]]:
    """The invoices' charge fees of this subscription external id (and metric)."""
    if not invoice_ids:
        return {}
    query = (
        select(Fee)
        .join(Subscription, Subscription.id == Fee.subscription_id)
        .where(
            Fee.invoice_id.in_(invoice_ids),
            Fee.fee_type == "charge",
            Fee.deleted_at.is_(None),
            Subscription.external_id == external_subscription_id,
        )
        .order_by(Fee.invoice_id, Fee.position, Fee.created_at, Fee.id)
    )
    if metric_id is not None:
        query = query.join(Charge, Charge.id == Fee.charge_id).where(
            Charge.billable_metric_id == metric_id
        )
    grouped: dict[uuid.UUID, list[Fee]] = {}
    for fee in session.scalars(query):
        assert fee.invoice_id is not None
        grouped.setdefault(fee.invoice_id, []).append(fee)
    return grouped


def _catalog(
    session: Session, fees: Sequence[Fee]
) -> tuple[dict[uuid.UUID, Charge], dict[uuid.UUID, BillableMetric], dict[uuid.UUID, ChargeFilter]]:
    """The charges, metrics and filters the fees name, as they are now (Lago reads them
    live, deleted ones included, for codes and display names)."""
    charges = by_id(session, Charge, (fee.charge_id for fee in fees if fee.charge_id))
    metrics = by_id(
        session, BillableMetric, (charge.billable_metric_id for charge in charges.values())
    )
    filters = by_id(
        session, ChargeFilter, (fee.charge_filter_id for fee in fees if fee.charge_filter_id)
    )
    return charges, metrics, filters


# Serialization (Lago's PastUsageSerializer + ChargeUsageSerializer).


def _totals(fees: Sequence[Fee]) -> dict[str, Any]:
    return {
        "units": decimal_string(sum((fee.units for fee in fees), Decimal(0))),
        "total_aggregated_units": decimal_string(
            sum((fee.total_aggregated_units for fee in fees), Decimal(0))
        ),
        "events_count": sum(fee.events_count for fee in fees),
        "amount_cents": sum(fee.amount_cents for fee in fees),
        "pricing_unit_details": None,
    }


def _group(fees: Sequence[Fee], key: Any) -> list[list[Fee]]:
    """Fees grouped by `key`, groups in order of first appearance."""
    groups: dict[Any, list[Fee]] = {}
    for fee in fees:
        groups.setdefault(key(fee), []).append(fee)
    return list(groups.values())


def _filters(usage: PastUsage, charge: Charge | None, fees: Sequence[Fee]) -> list[dict[str, Any]]:
    # Only for a charge that has filters today; one entry per filter that was billed.
    if charge is None or not charge.filters:
        return []
    entries = []
    for group in _group(fees, lambda fee: fee.charge_filter_id):
        first = group[0]
        live = usage.charge_filters.get(first.charge_filter_id) if first.charge_filter_id else None
        entries.append(
            {
                **_totals(group),
                "invoice_display_name": live.invoice_display_name if live else None,
                "values": (live.values if live else first.filter_values)
                if first.charge_filter_id
                else None,
                "presentation_breakdowns": [],
            }
        )
    return entries


def _grouped_usage(usage: PastUsage, charge: Charge | None, fees: Sequence[Fee]) -> list[Any]:
    if not any(fee.grouped_by for fee in fees):
        return []
    return [
        {
            **_totals(group),
            "grouped_by": group[0].grouped_by,
            "filters": _filters(usage, charge, group),
            "presentation_breakdowns": [],
        }
        for group in _group(fees, lambda fee: json.dumps(fee.grouped_by or {}, sort_keys=True))
    ]


def _charge_usage(usage: PastUsage, fees: Sequence[Fee]) -> dict[str, Any]:
    first = fees[0]
    charge = usage.charges.get(first.charge_id) if first.charge_id else None
    metric = usage.metrics.get(charge.billable_metric_id) if charge else None
    return {
        **_totals(fees),
        "amount_currency": first.amount_currency,
        "charge": {
            "lago_id": str(first.charge_id),
            "code": charge.code if charge else None,
            "charge_model": charge.charge_model if charge else None,
            "invoice_display_name": charge.invoice_display_name if charge else None,
        },
        "billable_metric": {
            "lago_id": str(metric.id) if metric else str(first.item_id),
            "name": metric.name if metric else first.item_name,
            "code": metric.code if metric else first.item_code,
            "aggregation_type": metric.aggregation_type if metric else None,
        },
        "filters": _filters(usage, charge, fees),
        "grouped_usage": _grouped_usage(usage, charge, fees),
        "presentation_breakdowns": [],
    }


def usage_period_object(usage: PastUsage, period: UsagePeriod) -> dict[str, Any]:
    invoice = period.invoice
    return {
        "from_datetime": iso_seconds(period.entry.charges_from_datetime),
        "to_datetime": iso_seconds(period.entry.charges_to_datetime),
        "issuing_date": invoice.issuing_date.isoformat(),
        "currency": invoice.currency,
        "amount_cents": invoice.fees_amount_cents,
        "total_amount_cents": invoice.fees_amount_cents + period.taxes_amount_cents,
        "taxes_amount_cents": period.taxes_amount_cents,
        "lago_invoice_id": str(invoice.id),
        "charges_usage": [
            _charge_usage(usage, fees) for fees in _group(period.fees, lambda fee: fee.charge_id)
        ],
    }


@router.get("/customers/{external_id}/past_usage")
def get_past_usage(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    query = PastUsageQuery.from_params(external_id, params)
    with ctx.db.transaction(write=False) as session:
        usage = past_usage(session, ctx.organization_id, query)
        return ok(
            {
                "usage_periods": [usage_period_object(usage, period) for period in usage.periods],
                "meta": usage.meta,
            }
        )
