"""Plan and charge rules: creation, Lago's charge replacement on update, deletion."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from meterbill.core.errors import MeterbillError, NotFound, ValidationFailed
from meterbill.core.metadata import Metadata, MetadataChange
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.records import flush_unique, key_or_not_found, uuid_or_none
from meterbill.core.text_search import name_or_code_contains
from meterbill.core.validation import Reader
from meterbill.coupons.models import CouponTarget
from meterbill.metrics.models import BillableMetric
from meterbill.plans import charge_rules
from meterbill.plans.models import (
    Charge,
    ChargeFilter,
    ChargeTax,
    CommitmentTax,
    MinimumCommitment,
    Plan,
    PlanTax,
)
from meterbill.plans.schemas import (
    ChargeFilterInput,
    ChargeInput,
    CommitmentInput,
    PlanInput,
    parse_filter,
)
from meterbill.subscriptions.lifecycle import terminate
from meterbill.subscriptions.models import Subscription
from meterbill.taxes.models import Tax
from meterbill.taxes.service import find_taxes_by_codes, taxes_by_owner

YEARLY_INTERVALS = ("yearly", "semiannual")


def find_plan(session: Session, organization_id: uuid.UUID, code: str) -> Plan:
    plan = session.scalar(
        select(Plan).where(
            Plan.organization_id == organization_id,
            Plan.code == code,
            Plan.parent_id.is_(None),
            Plan.deleted_at.is_(None),
        )
    )
    if plan is None:
        raise NotFound("plan")
    return plan


def find_plan_by_id(session: Session, organization_id: uuid.UUID, plan_id: str) -> Plan:
    """A parent plan by its lago_id (the dashboard's URLs), else 404 plan_not_found."""
    key = uuid_or_none(plan_id)
    plan = session.get(Plan, key) if key else None
    if (
        plan is None
        or plan.organization_id != organization_id
        or plan.parent_id is not None
        or plan.deleted_at is not None
    ):
        raise NotFound("plan")
    return plan


def list_plans(
    session: Session,
    organization_id: uuid.UUID,
    page: PageRequest,
    *,
    search_term: str | None = None,
) -> Page[Plan]:
    """Newest first; `search_term` narrows to plans whose name or code contains it."""
    query = (
        select(Plan)
        .where(
            Plan.organization_id == organization_id,
            Plan.parent_id.is_(None),
            Plan.deleted_at.is_(None),
        )
        .order_by(Plan.created_at.desc(), Plan.id)
    )
    if search_term:
        query = query.where(name_or_code_contains(Plan, search_term))
    return paginate(session, query, page)


@dataclass(frozen=True)
class PlanCounts:
    active_subscriptions: int
    charges: int


def plan_counts(session: Session, plan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PlanCounts]:
    """Active subscriptions (on the plan or its overridden copies) and live charges of
    each plan, in one query."""
    if not plan_ids:
        return {}
    copy = Plan.__table__.alias("copy")
    subscriptions = (
        select(func.count(Subscription.id))
        .join(copy, copy.c.id == Subscription.plan_id)
        .where(
            Subscription.status == "active",
            or_(copy.c.id == Plan.id, copy.c.parent_id == Plan.id),
        )
        .correlate(Plan)
        .scalar_subquery()
    )
    charges = (
        select(func.count(Charge.id))
        .where(Charge.plan_id == Plan.id, Charge.deleted_at.is_(None))
        .correlate(Plan)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Plan.id, subscriptions, charges).where(Plan.id.in_(plan_ids))
    ).all()
    return {plan_id: PlanCounts(subs or 0, count or 0) for plan_id, subs, count in rows}


def _normalize_billing_monthly(plan: Plan) -> None:
    # Only yearly and semiannual plans can bill their charges monthly.
    if plan.interval in YEARLY_INTERVALS:
        plan.bill_charges_monthly = bool(plan.bill_charges_monthly)
        plan.bill_fixed_charges_monthly = bool(plan.bill_fixed_charges_monthly)
    else:
        plan.bill_charges_monthly = None
        plan.bill_fixed_charges_monthly = None


def create_plan(
    session: Session, organization_id: uuid.UUID, data: PlanInput, now: datetime
) -> Plan:
    plan = Plan(
        id=uuid.uuid4(),
        organization_id=organization_id,
        created_at=now,
        updated_at=now,
        **{"pay_in_advance": False, "pending_deletion": False, **data.columns},
    )
    _normalize_billing_monthly(plan)
    session.add(plan)
    flush_unique(session, "code")
    if data.tax_codes is not None:
        _replace_plan_taxes(session, plan, data.tax_codes, now)
    if isinstance(data.minimum_commitment, CommitmentInput):
        _set_commitment(session, plan, data.minimum_commitment, now)
    _replace_charges(session, plan, data.charges or [], now)
    return plan


def update_plan(
    session: Session, organization_id: uuid.UUID, code: str, data: PlanInput, now: datetime
) -> Plan:
    plan = find_plan(session, organization_id, code)
    for key, value in data.columns.items():
        setattr(plan, key, value)
    _normalize_billing_monthly(plan)
    plan.updated_at = now
    flush_unique(session, "code")
    if data.tax_codes is not None:
        _replace_plan_taxes(session, plan, data.tax_codes, now)
    if isinstance(data.minimum_commitment, CommitmentInput):
        _set_commitment(session, plan, data.minimum_commitment, now)
    elif data.minimum_commitment is None:
        _remove_commitment(session, plan)
    if data.charges is not None:
        _replace_charges(session, plan, data.charges, now)
    session.expire(plan, ["charges"])
    return plan


def change_metadata(
    session: Session, organization_id: uuid.UUID, code: str, change: MetadataChange,
    now: datetime,
) -> Metadata:  # fmt: skip
    plan = find_plan(session, organization_id, code)
    plan.plan_metadata = change.apply(plan.plan_metadata)
    plan.updated_at = now
    return plan.plan_metadata


def delete_plan(session: Session, organization_id: uuid.UUID, code: str, now: datetime) -> Plan:
    """Soft-delete the plan and its overridden copies with their charges and filters, as
    Lago's deletion job does.

    Its active subscriptions (and those on its overridden copies) are terminated,
    pending ones canceled, then every draft invoice of its subscriptions is finalized
    (as Lago's Plans::DestroyService), and coupons stop targeting it.
    """
    plan = find_plan(session, organization_id, code)
    plan_ids = select(Plan.id).where((Plan.id == plan.id) | (Plan.parent_id == plan.id))
    for subscription in session.scalars(
        select(Subscription).where(
            Subscription.plan_id.in_(plan_ids), Subscription.status.in_(("active", "pending"))
        )
    ):
        terminate(session, subscription, now)
    session.flush()
    _finalize_drafts(session, plan_ids, now)
    # The overridden copies go with it (Lago discards them in the same job).
    plans = session.scalars(
        select(Plan).where(Plan.id.in_(plan_ids), Plan.deleted_at.is_(None))
    ).all()
    charge_ids = [charge.id for each in plans for charge in each.charges]
    for each in plans:
        each.deleted_at = now
    if charge_ids:
        session.execute(
            update(ChargeFilter)
            .where(ChargeFilter.charge_id.in_(charge_ids), ChargeFilter.deleted_at.is_(None))
            .values(deleted_at=now)
        )
        session.execute(update(Charge).where(Charge.id.in_(charge_ids)).values(deleted_at=now))
    session.execute(
        update(CouponTarget)
        .where(CouponTarget.plan_id == plan.id, CouponTarget.deleted_at.is_(None))
        .values(deleted_at=now)
    )
    session.flush()
    return plan


@dataclass(frozen=True)
class DeletionEffects:
    """What deleting a plan does right away (shown before the user confirms)."""

    subscriptions_terminated: int
    subscriptions_canceled: int
    drafts_finalized: int


def deletion_effects(session: Session, plan: Plan) -> DeletionEffects:
    """The counts `delete_plan` acts on, read the way it reads them. The drafts counted
    are those already there; terminating each active subscription may add its own
    termination invoice, finalized too."""
    from meterbill.invoices.models import Invoice, InvoiceSubscription

    plan_ids = select(Plan.id).where((Plan.id == plan.id) | (Plan.parent_id == plan.id))
    by_status = dict(
        session.execute(
            select(Subscription.status, func.count())
            .where(
                Subscription.plan_id.in_(plan_ids),
                Subscription.status.in_(("active", "pending")),
            )
            .group_by(Subscription.status)
        ).all()
    )
    drafts = session.scalar(
        select(func.count(Invoice.id)).where(
            Invoice.status == "draft",
            Invoice.id.in_(
                select(InvoiceSubscription.invoice_id)
                .join(Subscription, Subscription.id == InvoiceSubscription.subscription_id)
                .where(Subscription.plan_id.in_(plan_ids))
            ),
        )
    )
    return DeletionEffects(
        subscriptions_terminated=by_status.get("active", 0),
        subscriptions_canceled=by_status.get("pending", 0),
        drafts_finalized=drafts or 0,
    )


def _finalize_drafts(session: Session, plan_ids: Any, now: datetime) -> None:
    """Every draft invoice billing a subscription of these plans, oldest first, finalized
    now (the termination invoices just made among them)."""
    # Imported here: invoicing builds on plans, not the other way round.
    from meterbill.invoices.models import Invoice, InvoiceSubscription
    from meterbill.invoices.service import finalize_now

    drafts = session.scalars(
        select(Invoice)
        .where(
            Invoice.status == "draft",
            Invoice.id.in_(
                select(InvoiceSubscription.invoice_id)
                .join(Subscription, Subscription.id == InvoiceSubscription.subscription_id)
                .where(Subscription.plan_id.in_(plan_ids))
            ),
        )
        .order_by(Invoice.created_at, Invoice.id)
        .with_for_update()
    ).all()
    for invoice in drafts:
        finalize_now(session, invoice, now)


# Taxes -------------------------------------------------------------------------------


def _replace_plan_taxes(session: Session, plan: Plan, codes: Sequence[str], now: datetime) -> None:
    taxes = find_taxes_by_codes(session, plan.organization_id, codes)
    session.execute(PlanTax.__table__.delete().where(PlanTax.plan_id == plan.id))
    session.add_all(PlanTax(plan_id=plan.id, tax_id=tax.id, created_at=now) for tax in taxes)


def _replace_charge_taxes(
    session: Session, charge: Charge, organization_id: uuid.UUID, codes: Sequence[str],
    now: datetime,
) -> None:  # fmt: skip
    taxes = find_taxes_by_codes(session, organization_id, codes)
    session.execute(ChargeTax.__table__.delete().where(ChargeTax.charge_id == charge.id))
    session.add_all(ChargeTax(charge_id=charge.id, tax_id=tax.id, created_at=now) for tax in taxes)


def _set_commitment(session: Session, plan: Plan, data: CommitmentInput, now: datetime) -> None:
    commitment = session.scalar(
        select(MinimumCommitment).where(MinimumCommitment.plan_id == plan.id)
    )
    if commitment is None:
        commitment = MinimumCommitment(plan_id=plan.id, created_at=now, amount_cents=0)
        session.add(commitment)
    commitment.amount_cents = data.amount_cents
    commitment.invoice_display_name = data.invoice_display_name
    commitment.updated_at = now
    session.flush()
    if data.tax_codes is not None:
        taxes = find_taxes_by_codes(session, plan.organization_id, data.tax_codes)
        session.execute(
            CommitmentTax.__table__.delete().where(CommitmentTax.commitment_id == commitment.id)
        )
        session.add_all(
            CommitmentTax(commitment_id=commitment.id, tax_id=tax.id, created_at=now)
            for tax in taxes
        )


def _remove_commitment(session: Session, plan: Plan) -> None:
    session.execute(
        MinimumCommitment.__table__.delete().where(MinimumCommitment.plan_id == plan.id)
    )


# Charges ---------------------------------------------------------------------------


@contextmanager
def _located(*where: str | int) -> Iterator[None]:
    """A refusal raised inside names the nested item it concerns (see
    MeterbillError.location), so a form can show it beside that row."""
    try:
        yield
    except MeterbillError as error:
        error.location = (*where, *error.location)
        raise


def _metric(session: Session, organization_id: uuid.UUID, metric_id: str | None) -> BillableMetric:
    key = uuid_or_none(metric_id) if metric_id else None
    metric = session.get(BillableMetric, key) if key else None
    if metric is None or metric.organization_id != organization_id or metric.deleted_at:
        raise NotFound("billable_metric")
    return metric


def _unique_charge_code(session: Session, plan: Plan, base: str) -> str:
    """Lago names a charge after its metric; a second charge on it gets a suffix."""
    taken = set(
        session.scalars(
            select(Charge.code).where(Charge.plan_id == plan.id, Charge.deleted_at.is_(None))
        )
    )
    code, suffix = base, 2
    while code in taken:
        code, suffix = f"{base}_{suffix}", suffix + 1
    return code


def _replace_charges(
    session: Session, plan: Plan, inputs: Sequence[ChargeInput], now: datetime
) -> None:
    """Lago's rule: charges with a known id are updated, others created, the rest deleted."""
    existing = {str(charge.id): charge for charge in plan.charges}
    kept: set[str] = set()
    for position, item in enumerate(inputs):
        charge = existing.get(item.id) if item.id else None
        with _located("charges", position):
            if charge is not None:
                kept.add(str(charge.id))
                update_charge_fields(session, plan, charge, item, now, position=position)
            else:
                charge = add_charge(session, plan, item, now, position=position)
                kept.add(str(charge.id))
    stale = [charge for key, charge in existing.items() if key not in kept]
    for charge in stale:
        _soft_delete_charge(session, charge, now)
    session.flush()
    session.expire(plan, ["charges"])


def add_charge(
    session: Session, plan: Plan, item: ChargeInput, now: datetime, *, position: int | None = None
) -> Charge:
    metric = _metric(session, plan.organization_id, item.billable_metric_id)
    columns = {
        "pay_in_advance": False,
        "invoiceable": True,
        "prorated": False,
        "min_amount_cents": 0,
        "accepts_target_wallet": False,
        **item.columns,
    }
    if "charge_model" not in columns:
        raise ValidationFailed.single("charge_model", "value_is_mandatory")
    if position is None:
        position = len(plan.charges)
    code = columns.pop("code", None) or _unique_charge_code(session, plan, metric.code)
    charge = Charge(
        id=uuid.uuid4(),
        plan_id=plan.id,
        billable_metric_id=metric.id,
        code=code,
        position=position,
        created_at=now,
        updated_at=now,
        **columns,
    )
    charge.properties = charge_rules.checked_properties(
        charge.charge_model, item.columns.get("properties")
    )
    charge_rules.check_charge(charge, metric)
    session.add(charge)
    flush_unique(session, "code")
    if item.filters is not None:
        replace_filters(session, charge, metric, item.filters, now)
    if item.tax_codes is not None:
        _replace_charge_taxes(session, charge, plan.organization_id, item.tax_codes, now)
    session.expire(plan, ["charges"])
    return charge


def update_charge_fields(
    session: Session,
    plan: Plan,
    charge: Charge,
    item: ChargeInput,
    now: datetime,
    *,
    position: int | None = None,
) -> Charge:
    metric = session.get(BillableMetric, charge.billable_metric_id)
    assert metric is not None
    columns = dict(item.columns)
    properties = columns.pop("properties", None)
    for key, value in columns.items():
        setattr(charge, key, value)
    if properties is not None or "charge_model" in columns:
        charge.properties = charge_rules.checked_properties(
            charge.charge_model, properties if properties is not None else charge.properties
        )
    charge_rules.check_charge(charge, metric)
    if position is not None:
        charge.position = position
    charge.updated_at = now
    flush_unique(session, "code")
    if item.filters is not None:
        replace_filters(session, charge, metric, item.filters, now)
    if item.tax_codes is not None:
        _replace_charge_taxes(session, charge, plan.organization_id, item.tax_codes, now)
    session.expire(charge, ["filters"])
    return charge


def _soft_delete_charge(session: Session, charge: Charge, now: datetime) -> None:
    charge.deleted_at = now
    session.execute(
        update(ChargeFilter)
        .where(ChargeFilter.charge_id == charge.id, ChargeFilter.deleted_at.is_(None))
        .values(deleted_at=now)
    )


def find_charge(session: Session, plan: Plan, code: str) -> Charge:
    charge = session.scalar(
        select(Charge).where(
            Charge.plan_id == plan.id, Charge.code == code, Charge.deleted_at.is_(None)
        )
    )
    if charge is None:
        raise NotFound("charge")
    return charge


def delete_charge(session: Session, plan: Plan, code: str, now: datetime) -> Charge:
    charge = find_charge(session, plan, code)
    _soft_delete_charge(session, charge, now)
    session.flush()
    return charge


# Charge filters ----------------------------------------------------------------------


def replace_filters(
    session: Session,
    charge: Charge,
    metric: BillableMetric,
    inputs: Sequence[ChargeFilterInput],
    now: datetime,
) -> None:
    """Filters are matched by their values: same values update, new ones are created."""
    existing = list(charge.filters)
    kept: set[uuid.UUID] = set()
    for position, item in enumerate(inputs):
        match = next(
            (f for f in existing if f.id not in kept and _same_values(f.values, item.values)),
            None,
        )
        with _located("filters", position):
            if match is None:
                match = ChargeFilter(charge_id=charge.id, created_at=now)
                write_filter(match, charge, metric, item, now, position)
                session.add(match)
            else:
                write_filter(match, charge, metric, item, now, position)
        session.flush()
        kept.add(match.id)
    for stale in existing:
        if stale.id not in kept:
            stale.deleted_at = now
    session.flush()
    session.expire(charge, ["filters"])


def write_filter(
    charge_filter: ChargeFilter,
    charge: Charge,
    metric: BillableMetric,
    item: ChargeFilterInput,
    now: datetime,
    position: int,
) -> None:
    charge_rules.check_filter_values(metric, item.values)
    charge_filter.values = item.values
    charge_filter.invoice_display_name = item.invoice_display_name
    charge_filter.properties = charge_rules.checked_properties(charge.charge_model, item.properties)
    charge_filter.position = position
    charge_filter.updated_at = now


def _same_values(left: dict[str, list[str]], right: dict[str, list[str]]) -> bool:
    return {k: sorted(v) for k, v in left.items()} == {k: sorted(v) for k, v in right.items()}


def find_filter(session: Session, charge: Charge, filter_id: str) -> ChargeFilter:
    key = key_or_not_found(filter_id, "charge_filter")
    charge_filter = session.get(ChargeFilter, key)
    if charge_filter is None or charge_filter.charge_id != charge.id or charge_filter.deleted_at:
        raise NotFound("charge_filter")
    return charge_filter


# Views ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanView:
    """What serializing plans needs beyond their rows, loaded in a few queries."""

    metric_codes: dict[uuid.UUID, str]
    plan_taxes: dict[uuid.UUID, list[Tax]]
    charge_taxes: dict[uuid.UUID, list[Tax]]
    commitments: dict[uuid.UUID, MinimumCommitment]
    commitment_taxes: dict[uuid.UUID, list[Tax]]


def plan_view(
    session: Session, plans: Sequence[Plan], extra_charges: Sequence[Charge] = ()
) -> PlanView:
    """Load, for `plans` (and charges shown on their own), what their objects show."""
    plan_ids = [plan.id for plan in plans]
    charges = [charge for plan in plans for charge in plan.charges] + list(extra_charges)
    metric_ids = {charge.billable_metric_id for charge in charges}
    metric_codes: dict[uuid.UUID, str] = {}
    if metric_ids:
        rows = session.execute(
            select(BillableMetric.id, BillableMetric.code).where(BillableMetric.id.in_(metric_ids))
        ).all()
        metric_codes = {metric_id: code for metric_id, code in rows}
    commitments = {
        commitment.plan_id: commitment
        for commitment in session.scalars(
            select(MinimumCommitment).where(MinimumCommitment.plan_id.in_(plan_ids))
        )
    }
    return PlanView(
        metric_codes=metric_codes,
        plan_taxes=taxes_by_owner(session, PlanTax.plan_id, plan_ids),
        charge_taxes=taxes_by_owner(
            session, ChargeTax.charge_id, [charge.id for charge in charges]
        ),
        commitments=commitments,
        commitment_taxes=taxes_by_owner(
            session, CommitmentTax.commitment_id, [c.id for c in commitments.values()]
        ),
    )


def add_filter(
    session: Session, charge: Charge, item: ChargeFilterInput, now: datetime
) -> ChargeFilter:
    metric = session.get(BillableMetric, charge.billable_metric_id)
    assert metric is not None
    if any(_same_values(existing.values, item.values) for existing in charge.filters):
        raise ValidationFailed.single("values", "value_already_exist")
    charge_filter = ChargeFilter(charge_id=charge.id, created_at=now)
    write_filter(charge_filter, charge, metric, item, now, len(charge.filters))
    session.add(charge_filter)
    session.flush()
    session.expire(charge, ["filters"])
    return charge_filter


def update_filter(
    session: Session, charge: Charge, filter_id: str, raw: dict[str, Any], now: datetime
) -> ChargeFilter:
    """Partial update: only the keys present in the request change."""
    charge_filter = find_filter(session, charge, filter_id)
    merged = {
        "values": charge_filter.values,
        "properties": charge_filter.properties,
        "invoice_display_name": charge_filter.invoice_display_name,
        **raw,
    }
    reader = Reader({})
    item = parse_filter(merged, reader)
    reader.raise_if_any()
    assert item is not None
    metric = session.get(BillableMetric, charge.billable_metric_id)
    assert metric is not None
    write_filter(charge_filter, charge, metric, item, now, charge_filter.position)
    session.flush()
    return charge_filter


def delete_filter(session: Session, charge: Charge, filter_id: str, now: datetime) -> ChargeFilter:
    charge_filter = find_filter(session, charge, filter_id)
    charge_filter.deleted_at = now
    session.flush()
    return charge_filter


# Overrides -------------------------------------------------------------------------------

OVERRIDABLE = ("name", "invoice_display_name", "description", "amount_cents",
               "amount_currency", "trial_period")  # fmt: skip


def override_plan(
    session: Session, parent: Plan, data: PlanInput, now: datetime, child: Plan | None = None
) -> Plan:
    """A subscription's own copy of a plan (Lago's plan override), created or updated.

    The copy keeps the parent's code and schedule; the request may change its price,
    names, trial, taxes, commitment, and each charge's properties, filters, minimum,
    display name and taxes (charges are matched by the parent charge's id).
    """
    if child is None:
        child = Plan(
            id=uuid.uuid4(),
            organization_id=parent.organization_id,
            parent_id=parent.id,
            code=parent.code,
            interval=parent.interval,
            pay_in_advance=parent.pay_in_advance,
            bill_charges_monthly=parent.bill_charges_monthly,
            bill_fixed_charges_monthly=parent.bill_fixed_charges_monthly,
            plan_metadata=parent.plan_metadata,
            pending_deletion=False,
            created_at=now,
            updated_at=now,
            **{key: getattr(parent, key) for key in OVERRIDABLE},
        )
        session.add(child)
        session.flush()
        _copy_taxes(session, parent, child, now)
        _copy_commitment(session, parent, child, now)
        for position, charge in enumerate(parent.charges):
            _copy_charge(session, charge, child, position, now)
        session.expire(child, ["charges"])
    for key, value in data.columns.items():
        if key in OVERRIDABLE:
            setattr(child, key, value)
    child.updated_at = now
    if data.tax_codes is not None:
        _replace_plan_taxes(session, child, data.tax_codes, now)
    if isinstance(data.minimum_commitment, CommitmentInput):
        _set_commitment(session, child, data.minimum_commitment, now)
    by_parent = {str(charge.parent_id): charge for charge in child.charges}
    for item in data.charges or []:
        charge = by_parent.get(item.id or "")
        if charge is None:
            raise NotFound("charge")
        allowed = ("properties", "min_amount_cents", "invoice_display_name")
        override = ChargeInput(
            id=None,
            billable_metric_id=None,
            columns={key: value for key, value in item.columns.items() if key in allowed},
            filters=item.filters,
            tax_codes=item.tax_codes,
        )
        update_charge_fields(session, child, charge, override, now)
    session.flush()
    session.expire(child, ["charges"])
    return child


def _copy_taxes(session: Session, parent: Plan, child: Plan, now: datetime) -> None:
    for tax_id in session.scalars(select(PlanTax.tax_id).where(PlanTax.plan_id == parent.id)):
        session.add(PlanTax(plan_id=child.id, tax_id=tax_id, created_at=now))


def _copy_commitment(session: Session, parent: Plan, child: Plan, now: datetime) -> None:
    commitment = session.scalar(
        select(MinimumCommitment).where(MinimumCommitment.plan_id == parent.id)
    )
    if commitment is None:
        return
    copy = MinimumCommitment(
        plan_id=child.id,
        amount_cents=commitment.amount_cents,
        invoice_display_name=commitment.invoice_display_name,
        created_at=now,
        updated_at=now,
    )
    session.add(copy)
    session.flush()
    for tax_id in session.scalars(
        select(CommitmentTax.tax_id).where(CommitmentTax.commitment_id == commitment.id)
    ):
        session.add(CommitmentTax(commitment_id=copy.id, tax_id=tax_id, created_at=now))


def _copy_charge(
    session: Session, charge: Charge, child: Plan, position: int, now: datetime
) -> None:
    copy = Charge(
        id=uuid.uuid4(),
        plan_id=child.id,
        billable_metric_id=charge.billable_metric_id,
        parent_id=charge.id,
        code=charge.code,
        invoice_display_name=charge.invoice_display_name,
        charge_model=charge.charge_model,
        pay_in_advance=charge.pay_in_advance,
        invoiceable=charge.invoiceable,
        prorated=charge.prorated,
        regroup_paid_fees=charge.regroup_paid_fees,
        min_amount_cents=charge.min_amount_cents,
        accepts_target_wallet=charge.accepts_target_wallet,
        properties=charge.properties,
        position=position,
        created_at=now,
        updated_at=now,
    )
    session.add(copy)
    session.flush()
    for item in charge.filters:
        session.add(
            ChargeFilter(
                charge_id=copy.id,
                invoice_display_name=item.invoice_display_name,
                properties=item.properties,
                values=item.values,
                position=item.position,
                created_at=now,
                updated_at=now,
            )
        )
    for tax_id in session.scalars(select(ChargeTax.tax_id).where(ChargeTax.charge_id == charge.id)):
        session.add(ChargeTax(charge_id=copy.id, tax_id=tax_id, created_at=now))


def chargeable_metrics(session: Session, organization_id: uuid.UUID) -> list[BillableMetric]:
    """The metrics a charge can be built on, by name, with their filters (two queries)."""
    return list(
        session.scalars(
            select(BillableMetric)
            .where(
                BillableMetric.organization_id == organization_id,
                BillableMetric.deleted_at.is_(None),
            )
            .options(selectinload(BillableMetric.filters))
            .order_by(func.lower(BillableMetric.name), BillableMetric.code)
        )
    )


def assignable_plans(session: Session, organization_id: uuid.UUID) -> list[Plan]:
    """The plans a customer can be subscribed to (not overridden copies), by name."""
    return list(
        session.scalars(
            select(Plan)
            .where(
                Plan.organization_id == organization_id,
                Plan.parent_id.is_(None),
                Plan.deleted_at.is_(None),
            )
            .order_by(Plan.name, Plan.code)
        )
    )
