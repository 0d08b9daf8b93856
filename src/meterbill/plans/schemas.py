"""Plan and charge requests as Lago reads them, and Lago's plan, charge and filter objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meterbill.core import fields, metadata
from meterbill.core.limits import DAYS_MAX, LONG_TEXT_MAX
from meterbill.core.times import iso_seconds
from meterbill.core.validation import INVALID, MANDATORY, MISSING, Reader
from meterbill.plans.models import Charge, ChargeFilter, MinimumCommitment, Plan
from meterbill.taxes.schemas import tax_object

INTERVALS = ("weekly", "monthly", "quarterly", "semiannual", "yearly")
CHARGE_MODELS = (
    "standard",
    "graduated",
    "graduated_percentage",
    "package",
    "percentage",
    "volume",
    "dynamic",
)
REGROUP_PAID_FEES = ("invoice",)
# Lago's value meaning "any value of this key" in a charge filter.
ALL_FILTER_VALUES = "__ALL_FILTER_VALUES__"


@dataclass
class ChargeFilterInput:
    values: dict[str, list[str]]
    properties: dict[str, Any] | None
    invoice_display_name: str | None


@dataclass
class ChargeInput:
    """One charge of a plan request; `columns` holds only what the request carried."""

    id: str | None
    billable_metric_id: str | None
    columns: dict[str, Any] = field(default_factory=dict)
    filters: list[ChargeFilterInput] | None = None
    tax_codes: list[str] | None = None


@dataclass
class CommitmentInput:
    amount_cents: int
    invoice_display_name: str | None
    tax_codes: list[str] | None


@dataclass
class PlanInput:
    columns: dict[str, Any] = field(default_factory=dict)
    charges: list[ChargeInput] | None = None
    tax_codes: list[str] | None = None
    # MISSING: untouched; None: removed; else created or updated.
    minimum_commitment: Any = MISSING


def parse_plan(data: dict[str, Any], *, creating: bool) -> PlanInput:
    reader = Reader(data)
    columns: dict[str, Any] = {
        "name": reader.string("name", required=creating),
        "code": reader.string("code", required=creating),
        "invoice_display_name": reader.string("invoice_display_name"),
        "description": reader.string("description", max_length=LONG_TEXT_MAX),
        "interval": reader.choice("interval", INTERVALS),
        "amount_cents": reader.amount_cents("amount_cents"),
        "amount_currency": fields.currency(reader, "amount_currency"),
        "trial_period": reader.decimal(
            "trial_period", minimum=Decimal(0), maximum=Decimal(DAYS_MAX)
        ),
        "pay_in_advance": fields.required_value(
            reader, "pay_in_advance", reader.boolean("pay_in_advance")
        ),
        "bill_charges_monthly": reader.boolean("bill_charges_monthly"),
        "bill_fixed_charges_monthly": reader.boolean("bill_fixed_charges_monthly"),
        "plan_metadata": metadata.read_metadata(reader),
    }
    for key, code in (("interval", INVALID), ("amount_currency", INVALID)):
        if (creating and not reader.has(key)) or (reader.has(key) and data[key] is None):
            reader.add(key, code)
    if (creating and not reader.has("amount_cents")) or (
        reader.has("amount_cents") and data["amount_cents"] is None
    ):
        reader.add("amount_cents", MANDATORY)
    charges_raw = reader.data.get("charges")
    charges = None
    if charges_raw is not None:
        if isinstance(charges_raw, list):
            charges = [
                _charge(Reader(item, reader.errors)) for item in charges_raw if _obj(reader, item)
            ]
        else:
            reader.add("charges", INVALID)
    tax_codes = reader.string_list("tax_codes")
    commitment = _commitment(reader)
    reader.raise_if_any()
    return PlanInput(
        columns={key: value for key, value in columns.items() if value is not MISSING},
        charges=charges,
        tax_codes=tax_codes if isinstance(tax_codes, list) else None,
        minimum_commitment=commitment,
    )


def _obj(reader: Reader, item: Any) -> bool:
    if isinstance(item, dict):
        return True
    reader.add("charges", INVALID)
    return False


def _commitment(reader: Reader) -> Any:
    raw = reader.obj("minimum_commitment")
    if not isinstance(raw, dict):
        return raw
    if not raw:
        # Lago removes the commitment when it is sent empty.
        return None
    nested = Reader(raw, reader.errors)
    amount = nested.amount_cents("amount_cents")
    if amount is None or amount is MISSING:
        if "amount_cents" not in reader.errors:
            nested.add("amount_cents", MANDATORY)
        return MISSING
    display = nested.string("invoice_display_name")
    tax_codes = nested.string_list("tax_codes")
    return CommitmentInput(
        amount_cents=amount,
        invoice_display_name=display if isinstance(display, str) else None,
        tax_codes=tax_codes if isinstance(tax_codes, list) else None,
    )


def parse_charge(data: dict[str, Any]) -> ChargeInput:
    """A charge sent alone (the nested /plans/{code}/charges endpoints)."""
    reader = Reader(data)
    charge = _charge(reader)
    reader.raise_if_any()
    return charge


def _charge(reader: Reader) -> ChargeInput:
    charge_id = reader.string("id")
    metric_id = reader.string("billable_metric_id")
    columns: dict[str, Any] = {
        "code": reader.string("code"),
        "invoice_display_name": reader.string("invoice_display_name"),
        "charge_model": fields.required_value(
            reader, "charge_model", reader.choice("charge_model", CHARGE_MODELS)
        ),
        "pay_in_advance": fields.required_value(
            reader, "pay_in_advance", reader.boolean("pay_in_advance")
        ),
        "invoiceable": fields.required_value(reader, "invoiceable", reader.boolean("invoiceable")),
        "prorated": fields.required_value(reader, "prorated", reader.boolean("prorated")),
        "regroup_paid_fees": reader.choice("regroup_paid_fees", REGROUP_PAID_FEES),
        "min_amount_cents": fields.required_value(
            reader, "min_amount_cents", reader.amount_cents("min_amount_cents")
        ),
        "accepts_target_wallet": fields.required_value(
            reader, "accepts_target_wallet", reader.boolean("accepts_target_wallet")
        ),
        "properties": reader.obj("properties"),
    }
    if columns["properties"] is None:
        columns["properties"] = MISSING
    filters = _filters(reader)
    tax_codes = reader.string_list("tax_codes")
    return ChargeInput(
        id=charge_id if isinstance(charge_id, str) else None,
        billable_metric_id=metric_id if isinstance(metric_id, str) else None,
        columns={key: value for key, value in columns.items() if value is not MISSING},
        filters=filters,
        tax_codes=tax_codes if isinstance(tax_codes, list) else None,
    )


def _filters(reader: Reader) -> list[ChargeFilterInput] | None:
    raw = reader.data.get("filters")
    if raw is None:
        return None
    if not isinstance(raw, list):
        reader.add("filters", INVALID)
        return None
    return [item for item in (parse_filter(entry, reader) for entry in raw) if item is not None]


def parse_filter(entry: Any, reader: Reader) -> ChargeFilterInput | None:
    if not isinstance(entry, dict):
        reader.add("filters", INVALID)
        return None
    nested = Reader(entry, reader.errors)
    values = entry.get("values")
    if (
        not isinstance(values, dict)
        or not values
        or not all(
            isinstance(key, str)
            and isinstance(items, list)
            and items
            and all(isinstance(item, str) for item in items)
            for key, items in values.items()
        )
    ):
        nested.add("values", INVALID)
        return None
    properties = nested.obj("properties")
    display = nested.string("invoice_display_name")
    return ChargeFilterInput(
        values=values,
        properties=properties if isinstance(properties, dict) else None,
        invoice_display_name=display if isinstance(display, str) else None,
    )


def filter_object(charge_filter: ChargeFilter, *, full: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "invoice_display_name": charge_filter.invoice_display_name,
        "properties": charge_filter.properties,
        "values": charge_filter.values,
    }
    if full:
        body = {"lago_id": str(charge_filter.id), **body}
        body["created_at"] = iso_seconds(charge_filter.created_at)
    return body


def charge_object(charge: Charge, metric_code: str, taxes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "lago_id": str(charge.id),
        "lago_billable_metric_id": str(charge.billable_metric_id),
        "code": charge.code,
        "invoice_display_name": charge.invoice_display_name,
        "billable_metric_code": metric_code,
        "created_at": iso_seconds(charge.created_at),
        "charge_model": charge.charge_model,
        "invoiceable": charge.invoiceable,
        "regroup_paid_fees": charge.regroup_paid_fees,
        "pay_in_advance": charge.pay_in_advance,
        "prorated": charge.prorated,
        "min_amount_cents": charge.min_amount_cents,
        "accepts_target_wallet": charge.accepts_target_wallet,
        "properties": charge.properties,
        "applied_pricing_unit": None,
        "lago_parent_id": str(charge.parent_id) if charge.parent_id else None,
        "filters": [filter_object(item) for item in charge.filters],
        "taxes": taxes,
    }


def commitment_object(
    commitment: MinimumCommitment, plan: Plan, taxes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "lago_id": str(commitment.id),
        "plan_code": plan.code,
        "invoice_display_name": commitment.invoice_display_name,
        "amount_cents": commitment.amount_cents,
        "interval": plan.interval,
        "created_at": iso_seconds(commitment.created_at),
        "updated_at": iso_seconds(commitment.updated_at),
        "taxes": taxes,
    }


def plan_object(
    plan: Plan,
    *,
    charges: list[dict[str, Any]],
    taxes: list[dict[str, Any]],
    minimum_commitment: dict[str, Any] | None,
    counts: dict[str, int],
) -> dict[str, Any]:
    return {
        "lago_id": str(plan.id),
        "name": plan.name,
        "invoice_display_name": plan.invoice_display_name,
        "created_at": iso_seconds(plan.created_at),
        "code": plan.code,
        "interval": plan.interval,
        "description": plan.description,
        "amount_cents": plan.amount_cents,
        "amount_currency": plan.amount_currency,
        # Lago stores the trial as a float number of days.
        "trial_period": float(plan.trial_period) if plan.trial_period is not None else None,
        "pay_in_advance": plan.pay_in_advance,
        "bill_charges_monthly": plan.bill_charges_monthly,
        "bill_fixed_charges_monthly": plan.bill_fixed_charges_monthly,
        "customers_count": counts.get("customers_count", 0),
        "active_subscriptions_count": counts.get("active_subscriptions_count", 0),
        "draft_invoices_count": counts.get("draft_invoices_count", 0),
        "parent_id": str(plan.parent_id) if plan.parent_id else None,
        "pending_deletion": plan.pending_deletion,
        # Lago leaves the key out for a plan without metadata.
        **({"metadata": plan.plan_metadata} if plan.plan_metadata else {}),
        "charges": charges,
        "fixed_charges": [],
        "usage_thresholds": [],
        "applicable_usage_thresholds": [],
        "taxes": taxes,
        "minimum_commitment": minimum_commitment,
        "entitlements": [],
    }


def render_plans(plans: list[Plan], view: Any, entity_code: str) -> list[dict[str, Any]]:
    """Plans with their charges, taxes and commitment, from a loaded `PlanView`."""

    def taxes(items: list[Any]) -> list[dict[str, Any]]:
        return [tax_object(tax, entity_code) for tax in items]

    rendered = []
    for plan in plans:
        commitment = view.commitments.get(plan.id)
        rendered.append(
            plan_object(
                plan,
                charges=[render_charge(charge, view, entity_code) for charge in plan.charges],
                taxes=taxes(view.plan_taxes.get(plan.id, [])),
                minimum_commitment=(
                    commitment_object(commitment, plan, taxes(view.commitment_taxes[commitment.id]))
                    if commitment
                    else None
                ),
                counts={},
            )
        )
    return rendered


def render_charge(charge: Charge, view: Any, entity_code: str) -> dict[str, Any]:
    return charge_object(
        charge,
        view.metric_codes[charge.billable_metric_id],
        [tax_object(tax, entity_code) for tax in view.charge_taxes.get(charge.id, [])],
    )
