"""A plan's metadata: a flat map of string keys to string (or null) values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from meterbill.core.errors import ValidationFailed
from meterbill.plans.models import Plan


def parse(raw: dict[str, Any]) -> dict[str, str | None]:
    if not all(isinstance(value, str | None) for value in raw.values()):
        raise ValidationFailed.single("metadata", "value_is_invalid")
    return dict(raw)


def replace(plan: Plan, values: dict[str, str | None], now: datetime) -> dict[str, str | None]:
    plan.plan_metadata = dict(values)
    plan.updated_at = now
    return plan.plan_metadata


def merge(plan: Plan, values: dict[str, str | None], now: datetime) -> dict[str, str | None]:
    return replace(plan, {**(plan.plan_metadata or {}), **values}, now)


def remove_key(plan: Plan, key: str, now: datetime) -> dict[str, str | None]:
    current = dict(plan.plan_metadata or {})
    current.pop(key, None)
    return replace(plan, current, now)
