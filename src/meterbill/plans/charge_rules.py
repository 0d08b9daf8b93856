"""Which charges Lago accepts: properties per charge model, timing flags, filter values."""

from __future__ import annotations

from typing import Any

from meterbill import pricing
from meterbill.core.errors import ValidationFailed
from meterbill.metrics.models import BillableMetric
from meterbill.plans.models import Charge
from meterbill.plans.schemas import ALL_FILTER_VALUES

MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "standard": ("amount",),
    "graduated": ("graduated_ranges",),
    "graduated_percentage": ("graduated_percentage_ranges",),
    "package": ("amount", "package_size", "free_units"),
    "percentage": (
        "rate",
        "fixed_amount",
        "free_units_per_events",
        "free_units_per_total_aggregation",
        "per_transaction_max_amount",
        "per_transaction_min_amount",
    ),
    "volume": ("volume_ranges",),
    "dynamic": (),
}
GROUPING_KEYS = ("pricing_group_keys", "grouped_by")
PAYABLE_IN_ADVANCE = ("count_agg", "sum_agg", "unique_count_agg", "custom_agg")


def checked_properties(charge_model: str, properties: dict[str, Any] | None) -> dict[str, Any]:
    """Keep the model's keys (plus grouping keys), default when absent, and validate."""
    if not properties:
        return dict(pricing.default_properties(charge_model))
    kept = {key: properties[key] for key in MODEL_KEYS[charge_model] if key in properties}
    group_keys = properties.get("pricing_group_keys", properties.get("grouped_by"))
    if group_keys is not None:
        if not isinstance(group_keys, list) or not all(isinstance(k, str) for k in group_keys):
            raise ValidationFailed.single("properties", "invalid_pricing_group_keys")
        # Lago shows both the key and its deprecated alias whenever either is set.
        kept["pricing_group_keys"] = group_keys
        kept["grouped_by"] = group_keys
    if "presentation_group_keys" in properties:
        kept["presentation_group_keys"] = properties["presentation_group_keys"]
    errors = pricing.validate_properties(charge_model, kept)
    if errors:
        codes = [code for field_codes in errors.values() for code in field_codes]
        raise ValidationFailed({"properties": list(dict.fromkeys(codes))})
    return kept


def check_charge(charge: Charge, metric: BillableMetric) -> None:
    """Lago's charge validations that depend on the flags and the metric."""
    errors: dict[str, list[str]] = {}
    if charge.pay_in_advance and (
        charge.charge_model == "volume" or metric.aggregation_type not in PAYABLE_IN_ADVANCE
    ):
        errors["pay_in_advance"] = ["invalid_aggregation_type_or_charge_model"]
    if not charge.invoiceable and not charge.pay_in_advance:
        errors["invoiceable"] = ["must_be_true_unless_pay_in_advance"]
    if charge.regroup_paid_fees is not None and not (
        charge.pay_in_advance and not charge.invoiceable
    ):
        errors["regroup_paid_fees"] = ["only_compatible_with_pay_in_advance_and_non_invoiceable"]
    if charge.pay_in_advance and charge.min_amount_cents > 0:
        errors["min_amount_cents"] = ["not_compatible_with_pay_in_advance"]
    if charge.prorated and not _can_prorate(charge, metric):
        errors["prorated"] = ["invalid_billable_metric_or_charge_model"]
    if charge.charge_model == "dynamic" and metric.aggregation_type != "sum_agg":
        errors["charge_model"] = ["invalid_aggregation_type_or_charge_model"]
    if charge.charge_model == "percentage" and metric.aggregation_type == "latest_agg":
        errors["billable_metric"] = ["invalid_value"]
    if errors:
        raise ValidationFailed(errors)


def _can_prorate(charge: Charge, metric: BillableMetric) -> bool:
    # Weighted sums are already time-weighted; proration needs a recurring metric.
    if metric.aggregation_type == "weighted_sum_agg" or not metric.recurring:
        return False
    if charge.pay_in_advance:
        return charge.charge_model == "standard"
    return charge.charge_model in ("standard", "volume", "graduated")


def check_filter_values(metric: BillableMetric, values: dict[str, list[str]]) -> None:
    """Every key must be a filter of the metric, with values it declares (or "all")."""
    declared = {metric_filter.key: metric_filter.values for metric_filter in metric.filters}
    for key, items in values.items():
        if key not in declared:
            raise ValidationFailed.single("values", "value_is_invalid")
        if items == [ALL_FILTER_VALUES]:
            continue
        if not all(item in declared[key] for item in items):
            raise ValidationFailed.single("values", "value_is_invalid")
