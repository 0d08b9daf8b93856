"""Charge models as pure functions: aggregated usage and `properties` in, an amount out.

No database and no clock: the caller aggregates the events, then `compute` prices them,
`fee_amounts` turns the result into fee cents, and `validate_properties` /
`default_properties` serve the catalog API.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from meterbill.pricing import (
    dynamic,
    graduated,
    graduated_percentage,
    package,
    percentage,
    standard,
    volume,
)
from meterbill.pricing.min_amount import (
    TrueUp,
    prorated_min_amount_cents,
    true_up,
    true_up_cents,
)
from meterbill.pricing.result import ZERO, ChargeAmount, FeeAmounts, Usage, fee_amounts
from meterbill.pricing.validation import ErrorBag, Errors, validate_group_keys


@dataclass(frozen=True)
class ChargeModel:
    compute: Callable[[Mapping[str, Any], Usage], ChargeAmount]
    validate: Callable[[Mapping[str, Any]], Errors]
    default_properties: Callable[[], dict[str, Any]]


MODELS: Mapping[str, ChargeModel] = {
    module.__name__.rsplit(".", 1)[-1]: ChargeModel(
        module.compute, module.validate, module.default_properties
    )
    for module in (standard, package, graduated, graduated_percentage, volume, percentage, dynamic)
}


def _model(charge_model: str) -> ChargeModel:
    try:
        return MODELS[charge_model]
    except KeyError:
        raise ValueError(f"unknown charge model: {charge_model!r}") from None


def compute(charge_model: str, properties: Mapping[str, Any], usage: Usage) -> ChargeAmount:
    """The charge's amount for this usage.

    Negative units or a negative amount bill nothing: Lago forces amount and unit amount
    to 0 at fee creation (and keeps the details the model produced).
    """
    result = _model(charge_model).compute(properties, usage)
    if usage.units < 0 or result.amount < 0:
        return ChargeAmount(amount=ZERO, unit_amount=ZERO, amount_details=result.amount_details)
    return result


def validate_properties(charge_model: str, properties: Mapping[str, Any]) -> Errors:
    """field -> Lago error codes for a charge's (or charge filter's) properties; {} if valid.

    Covers the model's own keys and the grouping keys every model accepts. Checks that
    need the billable metric (latest_agg with percentage models) are the caller's.
    """
    if not isinstance(properties, Mapping):
        properties = {}
    bag = ErrorBag()
    bag.merge(_model(charge_model).validate(properties))
    bag.merge(validate_group_keys(properties))
    return bag.errors


def default_properties(charge_model: str) -> dict[str, Any]:
    """What Lago stores for a charge created without properties (a fresh copy)."""
    return copy.deepcopy(_model(charge_model).default_properties())


__all__ = [
    "MODELS",
    "ChargeAmount",
    "ChargeModel",
    "Errors",
    "FeeAmounts",
    "TrueUp",
    "Usage",
    "compute",
    "default_properties",
    "fee_amounts",
    "prorated_min_amount_cents",
    "true_up",
    "true_up_cents",
    "validate_properties",
]
