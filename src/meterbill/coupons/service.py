"""Coupon rules: limits to plans or metrics, reuse, overlap, the currency lock, termination."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.records import find_live, flush_unique, key_or_not_found
from meterbill.core.text_search import name_or_code_contains
from meterbill.coupons.models import AppliedCoupon, Coupon, CouponTarget
from meterbill.coupons.schemas import AppliedCouponInput, CouponInput, check_coupon
from meterbill.customers.models import Customer
from meterbill.customers.service import assign_currency, find_customer, live_id
from meterbill.metrics.models import BillableMetric
from meterbill.plans.models import Plan

# Once applied to a customer, a coupon's terms are fixed; only these still change.
EDITABLE_WHEN_APPLIED = ("name", "description", "expiration", "expiration_at")


def find_coupon(session: Session, organization_id: uuid.UUID, code: str) -> Coupon:
    return find_live(session, Coupon, organization_id, "coupon", code=code)


def _set_targets(session: Session, coupon: Coupon, data: CouponInput, now: datetime) -> None:
    plan_codes, metric_codes = data.plan_codes or [], data.billable_metric_codes or []
    if plan_codes and metric_codes:
        raise ValidationFailed.single("base", "only_one_limitation_type_per_coupon_allowed")
    plans = _by_codes(session, Plan, coupon.organization_id, plan_codes, "plan")
    metrics = _by_codes(
        session, BillableMetric, coupon.organization_id, metric_codes, "billable_metric"
    )
    session.execute(
        update(CouponTarget)
        .where(CouponTarget.coupon_id == coupon.id, CouponTarget.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    session.add_all(
        CouponTarget(coupon_id=coupon.id, plan_id=plan.id, created_at=now) for plan in plans
    )
    session.add_all(
        CouponTarget(coupon_id=coupon.id, billable_metric_id=metric.id, created_at=now)
        for metric in metrics
    )
    coupon.limited_plans = bool(plans)
    coupon.limited_billable_metrics = bool(metrics)


def _by_codes(
    session: Session, model: type[Plan] | type[BillableMetric], organization_id: uuid.UUID,
    codes: Sequence[str], resource: str,
) -> list[Plan] | list[BillableMetric]:  # fmt: skip
    if not codes:
        return []
    conditions = [model.organization_id == organization_id, model.code.in_(set(codes)),
                  model.deleted_at.is_(None)]  # fmt: skip
    if model is Plan:
        conditions.append(Plan.parent_id.is_(None))
    rows = list(session.scalars(select(model).where(*conditions)))
    if len(rows) != len(set(codes)):
        raise NotFound(resource)
    return rows  # type: ignore[return-value]


def create_coupon(
    session: Session, organization_id: uuid.UUID, data: CouponInput, now: datetime
) -> Coupon:
    coupon = Coupon(
        id=uuid.uuid4(), organization_id=organization_id, status="active", created_at=now,
        updated_at=now, **{"reusable": True, **data.columns},
    )  # fmt: skip
    check_coupon(coupon, now, creating=True)
    session.add(coupon)
    flush_unique(session, "code")
    _set_targets(session, coupon, data, now)
    session.flush()
    return coupon


def _is_applied(session: Session, coupon: Coupon) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(AppliedCoupon)
            .where(AppliedCoupon.coupon_id == coupon.id)
        )
    )


def update_coupon(
    session: Session, organization_id: uuid.UUID, code: str, data: CouponInput, now: datetime
) -> Coupon:
    coupon = find_coupon(session, organization_id, code)
    applied = _is_applied(session, coupon)
    for key, value in data.columns.items():
        if not applied or key in EDITABLE_WHEN_APPLIED:
            setattr(coupon, key, value)
    check_coupon(coupon, now, creating=False)
    coupon.updated_at = now
    flush_unique(session, "code")
    if not applied and (data.plan_codes is not None or data.billable_metric_codes is not None):
        _set_targets(session, coupon, data, now)
    session.flush()
    return coupon


def delete_coupon(session: Session, organization_id: uuid.UUID, code: str, now: datetime) -> Coupon:
    """Soft delete; every active application of the coupon is terminated."""
    coupon = find_coupon(session, organization_id, code)
    coupon.deleted_at = now
    coupon.status = "terminated"
    coupon.terminated_at = coupon.terminated_at or now
    session.execute(
        update(AppliedCoupon)
        .where(AppliedCoupon.coupon_id == coupon.id, AppliedCoupon.status == "active")
        .values(status="terminated", terminated_at=now, updated_at=now)
    )
    session.flush()
    return coupon


def terminate_coupon(
    session: Session, organization_id: uuid.UUID, code: str, now: datetime
) -> Coupon:
    """Lago's "Terminate coupon": it can no longer be applied; customers who have it keep
    it until their application ends (as when it expires)."""
    coupon = find_coupon(session, organization_id, code)
    if coupon.status == "active":
        coupon.status = "terminated"
        coupon.terminated_at = now
        coupon.updated_at = now
        session.flush()
    return coupon


def list_coupons(
    session: Session,
    organization_id: uuid.UUID,
    page: PageRequest,
    *,
    search_term: str | None = None,
) -> Page[Coupon]:
    """Newest first; `search_term` narrows to coupons whose name or code contains it."""
    query = (
        select(Coupon)
        .where(Coupon.organization_id == organization_id, Coupon.deleted_at.is_(None))
        .order_by(Coupon.created_at.desc(), Coupon.id)
    )
    if search_term:
        query = query.where(name_or_code_contains(Coupon, search_term))
    return paginate(session, query, page)


def customers_counts(session: Session, coupon_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Customers each coupon is applied to (active applications), in one query."""
    if not coupon_ids:
        return {}
    rows = session.execute(
        select(AppliedCoupon.coupon_id, func.count(func.distinct(AppliedCoupon.customer_id)))
        .where(AppliedCoupon.coupon_id.in_(coupon_ids), AppliedCoupon.status == "active")
        .group_by(AppliedCoupon.coupon_id)
    ).all()
    return {coupon_id: count for coupon_id, count in rows}


def coupon_targets(session: Session, coupon: Coupon) -> tuple[list[str], list[str]]:
    """The codes of the plans and of the metrics the coupon is limited to."""
    rows = session.execute(
        select(Plan.code, BillableMetric.code)
        .select_from(CouponTarget)
        .outerjoin(Plan, Plan.id == CouponTarget.plan_id)
        .outerjoin(BillableMetric, BillableMetric.id == CouponTarget.billable_metric_id)
        .where(CouponTarget.coupon_id == coupon.id, CouponTarget.deleted_at.is_(None))
    ).all()
    return (
        sorted(plan for plan, _ in rows if plan),
        sorted(metric for _, metric in rows if metric),
    )


# Applied coupons ------------------------------------------------------------------------


def _targets(session: Session, coupon_id: uuid.UUID) -> set[uuid.UUID]:
    return {
        target
        for plan, metric in session.execute(
            select(CouponTarget.plan_id, CouponTarget.billable_metric_id).where(
                CouponTarget.coupon_id == coupon_id, CouponTarget.deleted_at.is_(None)
            )
        ).all()
        for target in (plan, metric)
        if target
    }


def apply_coupon(
    session: Session, organization_id: uuid.UUID, data: AppliedCouponInput, now: datetime
) -> AppliedCoupon:
    customer = find_customer(session, organization_id, data.external_customer_id)
    coupon = find_coupon(session, organization_id, data.coupon_code)
    if coupon.status != "active" or (coupon.expiration_at and coupon.expiration_at <= now):
        raise NotFound("coupon")
    already = session.scalar(
        select(func.count())
        .select_from(AppliedCoupon)
        .where(AppliedCoupon.coupon_id == coupon.id, AppliedCoupon.customer_id == customer.id)
    )
    if already and not coupon.reusable:
        raise ValidationFailed.single("coupon", "coupon_is_not_reusable")
    if coupon.limited_plans or coupon.limited_billable_metrics:
        _check_overlap(session, customer, coupon)

    terms = {
        "amount_cents": coupon.amount_cents,
        "amount_currency": coupon.amount_currency,
        "percentage_rate": coupon.percentage_rate,
        "frequency": coupon.frequency,
        "frequency_duration": coupon.frequency_duration,
    }
    for key, value in data.overrides.items():
        if key in ("amount_cents", "amount_currency") and coupon.coupon_type != "fixed_amount":
            continue
        if key == "percentage_rate" and coupon.coupon_type != "percentage":
            continue
        terms[key] = value
    if terms["frequency"] != "recurring":
        terms["frequency_duration"] = None
    applied = AppliedCoupon(
        organization_id=organization_id,
        coupon_id=coupon.id,
        customer_id=customer.id,
        status="active",
        frequency_duration_remaining=terms["frequency_duration"],
        created_at=now,
        updated_at=now,
        **terms,
    )
    if applied.amount_currency is not None:
        # A fixed amount is money in one currency: it locks the customer's currency.
        assign_currency(session, customer, applied.amount_currency)
    session.add(applied)
    session.flush()
    return applied


def _check_overlap(session: Session, customer: Customer, coupon: Coupon) -> None:
    """Two active limited coupons of a customer may not target the same plan or metric."""
    wanted = _targets(session, coupon.id)
    others = session.scalars(
        select(AppliedCoupon.coupon_id).where(
            AppliedCoupon.customer_id == customer.id, AppliedCoupon.status == "active"
        )
    ).all()
    for other in others:
        if wanted & _targets(session, other):
            raise MethodNotAllowed("plan_overlapping")


@dataclass(frozen=True)
class AppliedCouponFilters:
    status: str | None = None
    external_customer_id: str | None = None
    coupon_codes: Sequence[str] = ()


def list_applied_coupons(
    session: Session, organization_id: uuid.UUID, filters: AppliedCouponFilters, page: PageRequest
) -> Page[AppliedCoupon]:
    query = select(AppliedCoupon).where(AppliedCoupon.organization_id == organization_id)
    if filters.status:
        query = query.where(AppliedCoupon.status == filters.status)
    if filters.external_customer_id:
        query = query.where(
            AppliedCoupon.customer_id.in_(live_id(organization_id, filters.external_customer_id))
        )
    if filters.coupon_codes:
        query = query.join(Coupon, Coupon.id == AppliedCoupon.coupon_id).where(
            Coupon.code.in_(filters.coupon_codes)
        )
    return paginate(
        session, query.order_by(AppliedCoupon.created_at.desc(), AppliedCoupon.id), page
    )


def terminate_applied_coupon(
    session: Session, organization_id: uuid.UUID, external_customer_id: str, applied_id: str,
    now: datetime,
) -> AppliedCoupon:  # fmt: skip
    customer = find_customer(session, organization_id, external_customer_id)
    key = key_or_not_found(applied_id, "applied_coupon")
    applied = session.get(AppliedCoupon, key)
    if applied is None or applied.customer_id != customer.id or applied.status != "active":
        raise NotFound("applied_coupon")
    applied.status = "terminated"
    applied.terminated_at = now
    applied.updated_at = now
    session.flush()
    return applied


def amount_cents_remaining(session: Session, applied: AppliedCoupon) -> int | None:
    """What a fixed coupon can still take off invoices: its amount less what standing
    invoices consumed (a `once` coupon carries its leftover forward)."""
    if applied.amount_cents is None:
        return None
    # Imported here: invoices build on coupons, not the other way round.
    from meterbill.invoices.computation import consumed_cents

    return max(applied.amount_cents - consumed_cents(session, applied.id), 0)


def applicable_coupons(
    session: Session, organization_id: uuid.UUID, customer: Customer, now: datetime
) -> list[Coupon]:
    """The coupons `apply_coupon` would accept for `customer` on currency and reuse: active,
    not expired, a fixed amount only in the customer's currency (when it has one), a
    coupon that is not reusable only if never applied to it. (An overlap of limited
    coupons is still found by `apply_coupon` itself.)"""
    applied = select(AppliedCoupon.coupon_id).where(AppliedCoupon.customer_id == customer.id)
    query = select(Coupon).where(
        Coupon.organization_id == organization_id,
        Coupon.deleted_at.is_(None),
        Coupon.status == "active",
        or_(Coupon.expiration_at.is_(None), Coupon.expiration_at > now),
        or_(Coupon.reusable.is_(True), Coupon.id.not_in(applied)),
    )
    if customer.currency is not None:
        query = query.where(
            or_(Coupon.amount_currency.is_(None), Coupon.amount_currency == customer.currency)
        )
    return list(session.scalars(query.order_by(Coupon.name, Coupon.code)))
