"""Lago's customer_usage object."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from meterbill.core.money import decimal_string
from meterbill.core.times import iso_seconds
from meterbill.usage.service import ChargeUsage, CurrentUsage, PricedBucket


def _totals(buckets: list[PricedBucket]) -> dict[str, Any]:
    units = sum((bucket.units for bucket in buckets), Decimal(0))
    return {
        "units": decimal_string(units),
        "total_aggregated_units": decimal_string(units),
        "events_count": sum(bucket.events_count for bucket in buckets),
        "amount_cents": sum(bucket.amount_cents for bucket in buckets),
        "pricing_unit_details": None,
    }


def _filters(
    usage: ChargeUsage, buckets: list[PricedBucket], *, present_only: bool = False
) -> list[dict[str, Any]]:
    """Every filter of the charge and the rest (`values: null`); within a group, only
    those the group has buckets of (Lago lists a group's fees)."""
    if not usage.charge.filters:
        return []
    entries = []
    for charge_filter in [*usage.charge.filters, None]:
        filter_id = str(charge_filter.id) if charge_filter else None
        selected = [bucket for bucket in buckets if bucket.filter_id == filter_id]
        if present_only and not selected:
            continue
        entries.append(
            {
                **_totals(selected),
                "invoice_display_name": charge_filter.invoice_display_name
                if charge_filter
                else None,
                "values": charge_filter.values if charge_filter else None,
                "presentation_breakdowns": [],
            }
        )
    return entries


def _grouped(usage: ChargeUsage) -> list[dict[str, Any]]:
    """Buckets by their grouping values; with a filter grouped by keys of its own, the
    other buckets come as the group without values (`{}`), as in Lago."""
    if not any(bucket.keys for bucket in usage.buckets):
        return []
    groups: dict[tuple[tuple[str, ...], tuple[str | None, ...]], list[PricedBucket]] = {}
    for bucket in usage.buckets:
        groups.setdefault((bucket.keys, bucket.group), []).append(bucket)
    return [
        {
            **_totals(buckets),
            "grouped_by": dict(zip(keys, group, strict=True)),
            "filters": _filters(usage, buckets, present_only=True),
            "presentation_breakdowns": [],
        }
        for (keys, group), buckets in groups.items()
    ]


def charge_usage_object(usage: ChargeUsage, currency: str) -> dict[str, Any]:
    return {
        **_totals(usage.buckets),
        "amount_currency": currency,
        "charge": {
            "lago_id": str(usage.charge.id),
            "code": usage.charge.code,
            "charge_model": usage.charge.charge_model,
            "invoice_display_name": usage.charge.invoice_display_name,
        },
        "billable_metric": {
            "lago_id": str(usage.metric.id),
            "name": usage.metric.name,
            "code": usage.metric.code,
            "aggregation_type": usage.metric.aggregation_type,
        },
        "filters": _filters(usage, usage.buckets),
        "grouped_usage": _grouped(usage),
        "presentation_breakdowns": [],
    }


def customer_usage_object(usage: CurrentUsage) -> dict[str, Any]:
    currency = usage.plan.amount_currency
    return {
        "from_datetime": iso_seconds(usage.period.start),
        "to_datetime": iso_seconds(usage.period.end),
        "issuing_date": usage.period.issuing_date.isoformat(),
        "currency": currency,
        "amount_cents": usage.amount_cents,
        "taxes_amount_cents": usage.taxes_amount_cents,
        "total_amount_cents": usage.amount_cents + usage.taxes_amount_cents,
        "lago_invoice_id": None,
        "charges_usage": [charge_usage_object(charge, currency) for charge in usage.charges],
    }
