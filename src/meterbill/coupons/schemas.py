"""Coupon and applied-coupon requests, and Lago's objects for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterbill.core import fields
from meterbill.core.limits import LONG_TEXT_MAX
from meterbill.core.money import decimal_string
from meterbill.core.times import iso_seconds
from meterbill.core.validation import INVALID, MISSING, Reader
from meterbill.coupons.models import AppliedCoupon, Coupon

COUPON_TYPES = ("fixed_amount", "percentage")
FREQUENCIES = ("once", "recurring", "forever")
EXPIRATIONS = ("no_expiration", "time_limit")


@dataclass
class CouponInput:
    columns: dict[str, Any] = field(default_factory=dict)
    plan_codes: list[str] | None = None
    billable_metric_codes: list[str] | None = None


@dataclass
class AppliedCouponInput:
    external_customer_id: str
    coupon_code: str
    overrides: dict[str, Any] = field(default_factory=dict)


def _rate(reader: Reader, key: str = "percentage_rate") -> Any:
    return reader.decimal(key)


def parse_coupon(data: dict[str, Any], *, creating: bool) -> CouponInput:
    reader = Reader(data)
    columns = {
        "name": reader.string("name", required=creating),
        "code": reader.string("code", required=creating),
        "description": reader.string("description", max_length=LONG_TEXT_MAX),
        "coupon_type": reader.choice("coupon_type", COUPON_TYPES),
        "amount_cents": reader.amount_cents("amount_cents", minimum=None),
        "amount_currency": fields.currency(reader, "amount_currency"),
        "percentage_rate": _rate(reader),
        "frequency": reader.choice("frequency", FREQUENCIES),
        "frequency_duration": reader.integer("frequency_duration"),
        "expiration": reader.choice("expiration", EXPIRATIONS),
        "expiration_at": reader.instant("expiration_at"),
        "reusable": reader.boolean("reusable"),
    }
    for key in ("coupon_type", "frequency", "expiration", "reusable"):
        if (creating and key not in ("reusable",) and not reader.has(key)) or (
            reader.has(key) and data[key] is None
        ):
            reader.add(key, INVALID)
    plan_codes = billable_metric_codes = None
    applies_to = reader.obj("applies_to")
    if isinstance(applies_to, dict):
        nested = Reader(applies_to, reader.errors)
        plans = nested.string_list("plan_codes")
        metrics = nested.string_list("billable_metric_codes")
        plan_codes = plans if isinstance(plans, list) else None
        billable_metric_codes = metrics if isinstance(metrics, list) else None
    reader.raise_if_any()
    return CouponInput(
        columns={key: value for key, value in columns.items() if value is not MISSING},
        plan_codes=plan_codes,
        billable_metric_codes=billable_metric_codes,
    )


def check_coupon(coupon: Coupon, now: datetime, *, creating: bool) -> None:
    """Rules across fields, on the coupon as it would be saved."""
    reader = Reader({})
    if coupon.coupon_type == "fixed_amount":
        if coupon.amount_cents is None or coupon.amount_cents <= 0:
            reader.add("amount_cents", "value_is_out_of_range")
        if coupon.amount_currency is None:
            reader.add("amount_currency", INVALID)
        coupon.percentage_rate = None
    else:
        if coupon.percentage_rate is None or coupon.percentage_rate <= 0:
            reader.add("percentage_rate", "value_is_out_of_range")
        coupon.amount_cents = None
        coupon.amount_currency = None
    if coupon.frequency == "recurring":
        if coupon.frequency_duration is None or coupon.frequency_duration <= 0:
            reader.add("frequency_duration", "value_is_out_of_range")
    else:
        coupon.frequency_duration = None
    if coupon.expiration == "time_limit":
        if coupon.expiration_at is None or (creating and coupon.expiration_at <= now):
            reader.add("expiration_at", "invalid_date")
    else:
        coupon.expiration_at = None
    reader.raise_if_any()


def parse_applied_coupon(data: dict[str, Any]) -> AppliedCouponInput:
    reader = Reader(data)
    customer = reader.string("external_customer_id", required=True)
    code = reader.string("coupon_code", required=True)
    overrides = {
        "amount_cents": reader.amount_cents("amount_cents", minimum=1),
        "amount_currency": fields.currency(reader, "amount_currency"),
        "percentage_rate": _rate(reader),
        "frequency": reader.choice("frequency", FREQUENCIES),
        "frequency_duration": reader.integer("frequency_duration", minimum=1),
    }
    reader.raise_if_any()
    assert isinstance(customer, str) and isinstance(code, str)
    return AppliedCouponInput(
        external_customer_id=customer,
        coupon_code=code,
        overrides={key: value for key, value in overrides.items() if value not in (MISSING, None)},
    )


def _rate_string(rate: Decimal | None) -> str | None:
    return decimal_string(rate) if rate is not None else None


def coupon_object(
    coupon: Coupon, plan_codes: list[str], billable_metric_codes: list[str]
) -> dict[str, Any]:
    return {
        "lago_id": str(coupon.id),
        "name": coupon.name,
        "code": coupon.code,
        "description": coupon.description,
        "coupon_type": coupon.coupon_type,
        "amount_cents": coupon.amount_cents,
        "amount_currency": coupon.amount_currency,
        "percentage_rate": _rate_string(coupon.percentage_rate),
        "frequency": coupon.frequency,
        "frequency_duration": coupon.frequency_duration,
        "reusable": coupon.reusable,
        "limited_plans": coupon.limited_plans,
        "plan_codes": plan_codes,
        "limited_billable_metrics": coupon.limited_billable_metrics,
        "billable_metric_codes": billable_metric_codes,
        "expiration": coupon.expiration,
        "expiration_at": iso_seconds(coupon.expiration_at),
        "status": coupon.status,
        "created_at": iso_seconds(coupon.created_at),
        "terminated_at": iso_seconds(coupon.terminated_at),
    }


def applied_coupon_object(
    applied: AppliedCoupon, coupon: Coupon, external_customer_id: str, remaining: int | None
) -> dict[str, Any]:
    return {
        "lago_id": str(applied.id),
        "lago_coupon_id": str(coupon.id),
        "coupon_code": coupon.code,
        "coupon_name": coupon.name,
        "lago_customer_id": str(applied.customer_id),
        "external_customer_id": external_customer_id,
        "status": applied.status,
        "amount_cents": applied.amount_cents,
        "amount_cents_remaining": remaining,
        "amount_currency": applied.amount_currency,
        "percentage_rate": _rate_string(applied.percentage_rate),
        "frequency": applied.frequency,
        "frequency_duration": applied.frequency_duration,
        "frequency_duration_remaining": applied.frequency_duration_remaining,
        "expiration_at": iso_seconds(coupon.expiration_at),
        "created_at": iso_seconds(applied.created_at),
        "terminated_at": iso_seconds(applied.terminated_at),
        "credits": [],
    }
