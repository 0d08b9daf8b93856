"""Invoice previews: what the clock would bill, rehearsed and rolled back.

A preview writes what the request describes (a customer, a subscription, coupons, a
plan change or a termination) and runs the clock for that customer up to the next
billing day, all inside one transaction that is then rolled back (`rehearse`). So a
preview goes through exactly the code that bills for real, and leaves nothing behind;
its ids (which the official client requires) name records that never existed, and its
invoices keep their draft number (a rehearsal numbers nothing, as Lago's preview).

Many previews and real billing run side by side (core/rehearsal.py): a rehearsal takes
no row lock, gives way to real writers, and rehearsals of one customer run one after
another (`Rehearsal.one_at_a_time`, taken before the first write).

`POST /invoices/preview` is Lago's; `forecast` (beyond Lago) walks the next N billing
periods of one subscription the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.clock import tick
from meterbill.core.dates import parse_instant
from meterbill.core.db import Database
from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, page_of
from meterbill.core.periods import local_date
from meterbill.core.rehearsal import Rehearsal, rehearse
from meterbill.core.validation import Reader
from meterbill.coupons.models import AppliedCoupon, Coupon
from meterbill.coupons.schemas import parse_applied_coupon, parse_coupon
from meterbill.coupons.service import apply_coupon, create_coupon
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone, parse_customer
from meterbill.customers.service import upsert_customer
from meterbill.invoices import entries
from meterbill.invoices.lifecycle import finalize
from meterbill.invoices.models import Invoice
from meterbill.invoices.scope import Scope
from meterbill.organizations.models import Organization
from meterbill.plans.models import Plan
from meterbill.plans.service import find_plan
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription, terminate_subscription

Render = Callable[[Session, list[Invoice]], list[dict[str, Any]]]
FORECAST_MAX_PERIODS = 24
# Far enough to reach the next billing day of any plan interval (yearly included).
HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class PreviewInput:
    customer: dict[str, Any]
    plan_code: str | None
    billing_time: str | None
    subscription_at: datetime | None
    coupons: list[dict[str, Any]]
    external_ids: list[str]
    new_plan_code: str | None
    terminated_at: datetime | None


def _text(reader: Reader, key: str) -> str | None:
    value = reader.string(key)
    return value if isinstance(value, str) else None


def _instant(reader: Reader, data: dict[str, Any], key: str) -> datetime | None:
    raw = data.get(key)
    if raw is None:
        return None
    moment = parse_instant(raw) if isinstance(raw, str) else None
    if moment is None:
        reader.add(key, "invalid_date")
    return moment


def parse_preview(data: dict[str, Any]) -> PreviewInput:
    reader = Reader(data)
    customer = data.get("customer")
    if not isinstance(customer, dict):
        raise ValidationFailed.single("customer", "value_is_mandatory")
    plan_code = _text(reader, "plan_code")
    billing_time = _text(reader, "billing_time")
    if billing_time not in (None, "calendar", "anniversary"):
        reader.add("billing_time", "value_is_invalid")
    subscription_at = _instant(reader, data, "subscription_at")
    coupons = data.get("coupons") or []
    if not isinstance(coupons, list) or not all(
        isinstance(item, dict) and isinstance(item.get("code"), str) for item in coupons
    ):
        reader.add("coupons", "value_is_invalid")
        coupons = []
    subscriptions = data.get("subscriptions") or {}
    external_ids: list[str] = []
    new_plan_code = None
    terminated_at = None
    if not isinstance(subscriptions, dict):
        reader.add("subscriptions", "value_is_invalid")
    elif subscriptions:
        raw_ids = subscriptions.get("external_ids")
        if (
            not isinstance(raw_ids, list)
            or not raw_ids
            or not all(isinstance(item, str) for item in raw_ids)
        ):
            reader.add("external_ids", "value_is_invalid")
        else:
            external_ids = raw_ids
        new_plan_code = _text(Reader(subscriptions, reader.errors), "plan_code")
        terminated_at = _instant(reader, subscriptions, "terminated_at")
    if not external_ids and not plan_code and not reader.has("external_ids"):
        reader.add("plan_code", "value_is_mandatory")
    reader.raise_if_any()
    return PreviewInput(
        customer=customer,
        plan_code=plan_code,
        billing_time=billing_time,
        subscription_at=subscription_at,
        coupons=coupons,
        external_ids=external_ids,
        new_plan_code=new_plan_code,
        terminated_at=terminated_at,
    )


def _customer(rehearsal: Rehearsal, organization_id: uuid.UUID, fields: dict[str, Any],
              now: datetime) -> Customer:  # fmt: skip
    """The live customer with that external id (no other rehearsal of it runs from then
    on), or one made up for the preview (which no other rehearsal can see)."""
    session = rehearsal.session
    external_id = fields.get("external_id")
    if isinstance(external_id, str) and external_id:
        found = session.scalar(
            select(Customer).where(
                Customer.organization_id == organization_id,
                Customer.external_id == external_id,
                Customer.deleted_at.is_(None),
            )
        )
        if found is not None:
            rehearsal.one_at_a_time(found.id)
            return found
    body = {**fields, "external_id": external_id or f"preview-{uuid.uuid4()}"}
    customer, _created = upsert_customer(session, organization_id, parse_customer(body), now)
    return customer


def _use_coupons(session: Session, customer: Customer, coupons: list[dict[str, Any]],
                 now: datetime) -> None:  # fmt: skip
    """The request's coupons replace the customer's for this preview (as in Lago)."""
    if not coupons:
        return
    for applied in session.scalars(
        select(AppliedCoupon).where(
            AppliedCoupon.customer_id == customer.id, AppliedCoupon.status == "active"
        )
    ):
        applied.status = "terminated"
    for given in coupons:
        # The official client sends every field, unset ones as null.
        item = {key: value for key, value in given.items() if value is not None}
        exists = session.scalar(
            select(Coupon.id).where(
                Coupon.organization_id == customer.organization_id,
                Coupon.code == item["code"],
                Coupon.deleted_at.is_(None),
                Coupon.status == "active",
            )
        )
        if exists is None:
            body = {"name": item.get("name") or item["code"], "expiration": "no_expiration",
                    "frequency": "once", **item}  # fmt: skip
            create_coupon(session, customer.organization_id, parse_coupon(body, creating=True), now)
        applied = {"external_customer_id": customer.external_id, "coupon_code": item["code"]}
        apply_coupon(session, customer.organization_id, parse_applied_coupon(applied), now)
    session.flush()


def _subscriptions(
    session: Session, customer: Customer, data: PreviewInput, now: datetime
) -> list[Subscription]:
    organization_id = customer.organization_id
    if not data.external_ids:
        assert data.plan_code is not None
        body: dict[str, Any] = {
            "external_customer_id": customer.external_id,
            "plan_code": data.plan_code,
            "external_id": f"preview-{uuid.uuid4()}",
            "billing_time": data.billing_time or "calendar",
        }
        if data.subscription_at is not None:
            body["subscription_at"] = data.subscription_at.isoformat()
        return [
            create_subscription(
                session, organization_id, parse_subscription(body, creating=True), now
            )
        ]
    found = []
    for external_id in data.external_ids:
        subscription = session.scalar(
            select(Subscription).where(
                Subscription.customer_id == customer.id,
                Subscription.external_id == external_id,
                Subscription.status == "active",
            )
        )
        if subscription is None:
            raise NotFound("subscription")
        found.append(subscription)
    if data.new_plan_code is not None:
        find_plan(session, organization_id, data.new_plan_code)
        return [
            create_subscription(
                session,
                organization_id,
                parse_subscription(
                    {
                        "external_customer_id": customer.external_id,
                        "plan_code": data.new_plan_code,
                        "external_id": item.external_id,
                    },
                    creating=True,
                ),
                now,
            )
            for item in found
        ]
    return found


def _written(
    session: Session,
    customer: Customer,
    since: datetime,
    external_ids: set[str],
    seen: set[uuid.UUID],
) -> list[Invoice]:
    """The customer's invoices for those subscriptions that the rehearsal wrote (stamped
    `since` or later) and that are not in `seen` yet, drafts finalized; adds them to it."""
    invoices = []
    for invoice in session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer.id, Invoice.created_at >= since)
        .order_by(Invoice.billing_date, Invoice.created_at)
    ):
        if invoice.id in seen:
            continue
        billed = {
            session.get(Subscription, entry.subscription_id) for entry in invoice.billing_periods
        }
        if not any(item is not None and item.external_id in external_ids for item in billed):
            continue
        if invoice.status == "draft":
            # As the clock will finalize it: on the last day of its grace period.
            due = invoice.expected_finalization_date or invoice.billing_date
            finalize(session, invoice, invoice.created_at, today=due)
        seen.add(invoice.id)
        invoices.append(invoice)
    return invoices


def _next_billing_instant(session: Session, subscriptions: list[Subscription],
                          now: datetime) -> datetime | None:  # fmt: skip
    """The first instant after `now` at which one of the subscriptions is billed."""
    instants = []
    for subscription in subscriptions:
        if subscription.status not in ("active", "pending"):
            continue
        customer = session.get(Customer, subscription.customer_id)
        organization = session.get(Organization, subscription.organization_id)
        plan = session.get(Plan, subscription.plan_id)
        assert customer is not None and organization is not None and plan is not None
        timezone = applicable_timezone(customer, organization)
        today = local_date(now, timezone)
        if subscription.status == "pending":
            day = local_date(subscription.subscription_at, timezone)
        else:
            days = entries.billing_days(
                subscription, plan, timezone, today, local_date(now + HORIZON, timezone)
            )
            if not days:
                continue
            day = days[0]
        instants.append(_local_midnight(day, timezone))
        if subscription.ending_at is not None and subscription.ending_at > now:
            instants.append(subscription.ending_at)
    return min(instants) if instants else None


def _local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone)).astimezone(UTC)


def _scope(customer: Customer, external_ids: set[str]) -> Scope:
    return Scope(customer.id, customer.organization_id, frozenset(external_ids))


def preview_invoice(
    db: Database, organization_id: uuid.UUID, data: PreviewInput, now: datetime, render: Render
) -> dict[str, Any]:
    """The customer's next invoice for what `data` describes, nothing written."""

    def act(rehearsal: Rehearsal) -> dict[str, Any]:
        session = rehearsal.session
        customer = _customer(rehearsal, organization_id, data.customer, now)
        _use_coupons(session, customer, data.coupons, now)
        subscriptions = _subscriptions(session, customer, data, now)
        if data.terminated_at is not None:
            if data.terminated_at < now:
                raise ValidationFailed.single("terminated_at", "invalid_date")
            for subscription in subscriptions:
                terminate_subscription(
                    session, organization_id, subscription.external_id, "active",
                    data.terminated_at,
                )  # fmt: skip
        session.flush()
        external_ids = {subscription.external_id for subscription in subscriptions}
        seen: set[uuid.UUID] = set()
        invoices = _written(session, customer, now, external_ids, seen)
        if not invoices:
            # Nothing billed at once (in arrears, or a downgrade): the next billing day.
            instant = _next_billing_instant(session, subscriptions, now)
            if instant is not None:
                tick(rehearsal, instant, _scope(customer, external_ids))
                invoices = _written(session, customer, now, external_ids, seen)
        if not invoices:
            raise NotFound("invoice")
        return render(session, invoices[:1])[0]

    return rehearse(db, act)


def forecast(
    db: Database,
    organization_id: uuid.UUID,
    external_subscription_id: str,
    periods: int,
    now: datetime,
    render: Render,
    page: PageRequest,
) -> Page[dict[str, Any]]:
    """Every invoice of the subscription's next `periods` billing days, nothing written,
    one page of them.

    Usage already sent counts; no further usage is assumed. Drafts are shown finalized.
    """
    if not 1 <= periods <= FORECAST_MAX_PERIODS:
        raise ValidationFailed.single("periods", "value_is_out_of_range")

    def act(rehearsal: Rehearsal) -> Page[dict[str, Any]]:
        session = rehearsal.session
        subscription = session.scalar(
            select(Subscription)
            .where(
                Subscription.organization_id == organization_id,
                Subscription.external_id == external_subscription_id,
                Subscription.status.in_(("active", "pending")),
            )
            .order_by(Subscription.created_at.desc())
        )
        if subscription is None:
            raise NotFound("subscription")
        customer = session.get(Customer, subscription.customer_id)
        assert customer is not None
        rehearsal.one_at_a_time(customer.id)
        forecasted: list[Invoice] = []
        seen: set[uuid.UUID] = set()
        moment = now
        for _period in range(periods):
            current = _live(session, organization_id, external_subscription_id)
            instant = _next_billing_instant(session, current, moment)
            if instant is None:
                break
            tick(rehearsal, instant, _scope(customer, {external_subscription_id}))
            forecasted.extend(_written(session, customer, now, {external_subscription_id}, seen))
            moment = instant
        shown = page_of(forecasted, page)
        return Page(items=render(session, list(shown.items)), meta=shown.meta)

    return rehearse(db, act)


def _live(session: Session, organization_id: uuid.UUID, external_id: str) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription).where(
                Subscription.organization_id == organization_id,
                Subscription.external_id == external_id,
                Subscription.status.in_(("active", "pending")),
            )
        )
    )
