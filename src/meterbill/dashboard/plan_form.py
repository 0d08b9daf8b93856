"""The plan form as plain data: the form's rows ⇄ the body POST/PUT /plans takes, and the
API's refusals in words beside the row that caused them.

No rule lives here. A submitted form becomes the very body the API accepts (amounts typed
in currency units become minor units; tier bounds become numbers) and goes through the
API's parser and plan service. What the form adds is its shape: rows of charges, of
tiers and of filters, added and removed by submit buttons (`action`) so that the editor
works without JavaScript.

Input names: plan fields by their API name (`amount` in currency units); charge `i` as
`c{i}.<field>`; its properties as `c{i}.<property>` and its tiers as
`c{i}.t{k}.<bound or price>`; its filter `j` as `c{i}.f{j}.<...>` with the same
properties below it (`c{i}.f{j}.amount`, `c{i}.f{j}.t{k}.from_value`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meterbill.core.errors import MeterbillError, NotFound, ValidationFailed
from meterbill.core.money import CURRENCIES
from meterbill.dashboard import action_forms
from meterbill.dashboard.action_forms import money_cents
from meterbill.dashboard.formats import (
    CURRENCY_OPTIONS as CURRENCY_OPTIONS,  # the template reads it here
)
from meterbill.dashboard.formats import typed_amount
from meterbill.dashboard.web import FormData
from meterbill.plans.models import Charge, ChargeFilter, MinimumCommitment, Plan
from meterbill.plans.schemas import CHARGE_MODELS, INTERVALS

MODEL_LABELS = {
    "standard": "Standard",
    "graduated": "Graduated",
    "graduated_percentage": "Graduated percentage",
    "package": "Package",
    "percentage": "Percentage",
    "volume": "Volume",
    "dynamic": "Dynamic",
}
MODEL_OPTIONS = [(model, MODEL_LABELS[model]) for model in CHARGE_MODELS]
INTERVAL_OPTIONS = [(interval, interval.capitalize()) for interval in INTERVALS]
# Tier models: the properties key of their rows and the price column of a row.
TIERS = {
    "graduated": ("graduated_ranges", "per_unit_amount"),
    "volume": ("volume_ranges", "per_unit_amount"),
    "graduated_percentage": ("graduated_percentage_ranges", "rate"),
}
# The plain properties each model's editor shows (tier models show rows instead).
SIMPLE = {
    "standard": ("amount",),
    "package": ("amount", "package_size", "free_units"),
    "percentage": (
        "rate",
        "fixed_amount",
        "free_units_per_events",
        "free_units_per_total_aggregation",
        "per_transaction_min_amount",
        "per_transaction_max_amount",
    ),
    "dynamic": (),
}
# Properties sent as JSON integers (Lago refuses them as strings).
COUNTS = ("package_size", "free_units", "free_units_per_events")
# Optional percentage options: left out of the body when blank.
OPTIONAL = (
    "fixed_amount",
    "free_units_per_events",
    "free_units_per_total_aggregation",
    "per_transaction_min_amount",
    "per_transaction_max_amount",
)
# Which input a properties error code is shown under, per model ("tiers": the rows).
PROPERTY_CODES = {
    "invalid_amount": {"standard": "amount", "package": "amount",
                       "percentage": "per_transaction_min_amount"},
    "invalid_package_size": {"package": "package_size"},
    "invalid_free_units": {"package": "free_units"},
    "invalid_rate": {"percentage": "rate"},
    "invalid_fixed_amount": {"percentage": "fixed_amount"},
    "invalid_free_units_per_events": {"percentage": "free_units_per_events"},
    "invalid_free_units_per_total_aggregation": {
        "percentage": "free_units_per_total_aggregation"},
    "per_transaction_max_lower_than_per_transaction_min": {
        "percentage": "per_transaction_max_amount"},
    "invalid_type": {},
    "invalid_pricing_group_keys": {},
}  # fmt: skip

# The editor's own codes in words; the others are the dashboard's (action_forms).
WORDS = {
    "invalid_amount": "Enter an amount of 0 or more, such as 0.50.",
    "invalid_rate": "Enter a rate of 0 or more, in percent, such as 1.5.",
    "invalid_package_size": "Enter a whole number of units of 1 or more.",
    "invalid_free_units": "Enter a whole number of free units, 0 or more.",
    "invalid_fixed_amount": "Enter an amount of 0 or more, such as 0.50.",
    "invalid_free_units_per_events": "Enter a whole number of events of 1 or more.",
    "invalid_free_units_per_total_aggregation": "Enter a number of units of 0 or more.",
    "per_transaction_max_lower_than_per_transaction_min": (
        "The maximum per transaction must not be lower than the minimum."
    ),
    "invalid_type": "List property names separated by commas.",
    "invalid_pricing_group_keys": "List property names separated by commas.",
    "invalid_aggregation_type_or_charge_model": (
        "Pay in advance needs a count, sum, unique count or custom metric, and a model "
        "other than volume."
    ),
    "must_be_true_unless_pay_in_advance": (
        "Only a charge paid in advance can be left off the invoice."
    ),
    "not_compatible_with_pay_in_advance": (
        "A charge paid in advance cannot have a minimum amount."
    ),
    "invalid_billable_metric_or_charge_model": (
        "Only a recurring metric can be prorated, with the standard, volume or graduated "
        "model (standard only when paid in advance)."
    ),
    "billable_metric_not_found": "Choose a billable metric.",
    "tax_not_found": "One of these taxes no longer exists.",
    "filter_without_values": "Choose at least one value.",
    "model_changed": "The model changed: fill in its prices, then save.",
}
SPECIFIC = {
    ("code", "value_already_exist"): "A plan with this code already exists.",
    ("charge.code", "value_already_exist"): "Another charge of this plan has this code.",
    ("charge_model", "invalid_aggregation_type_or_charge_model"): (
        "The dynamic model needs a sum metric."
    ),
    ("billable_metric", "invalid_value"): (
        "The percentage model cannot price a metric aggregated by its latest value."
    ),
    ("values", "value_is_invalid"): "Choose values the metric declares.",
    ("values", "value_already_exist"): "Another filter of this charge has the same values.",
    ("interval", "value_is_invalid"): "Choose an interval.",
    ("amount_currency", "value_is_invalid"): "Choose a currency.",
    ("name", "value_is_mandatory"): "Name is required.",
    ("code", "value_is_mandatory"): "Code is required.",
    ("amount", "value_is_mandatory"): "Base amount is required (0 for none).",
    ("trial_period", "value_is_invalid"): "Enter a number of days, such as 14.",
    ("trial_period", "value_is_out_of_range"): "Enter a number of days, 0 or more.",
}
RANGE_WORDS = {
    "missing": "Add at least one tier.",
    "invalid": (
        "Tiers must follow each other: the first starts at 0, each next one starts at the "
        "previous tier's end (or one after it), every tier ends after it starts, and only "
        "the last one is left open (no end)."
    ),
}
# The API's field of a charge -> the charge row's input.
CHARGE_FIELDS = {
    "min_amount_cents": "min_amount",
    "billable_metric": "charge_model",
    "billable_metric_id": "billable_metric_id",
    "tax_codes": "tax_codes",
    "regroup_paid_fees": "pay_in_advance",
}
PLAN_FIELDS = {
    "amount_cents": "amount",
    "minimum_commitment": "commitment_amount",
}
# The plan's inputs; a refusal of anything else is shown above the form.
PLAN_INPUTS = ("name", "code", "invoice_display_name", "description", "interval",
               "amount_currency", "amount", "trial_period", "commitment_amount", "tax_codes",
               "pay_in_advance", "bill_charges_monthly")  # fmt: skip


def message(field_name: str, code: str) -> str:
    return (
        SPECIFIC.get((field_name, code))
        or WORDS.get(code)
        or action_forms.message(field_name, code)
    )


# --- the form's rows -------------------------------------------------------------------


@dataclass
class PropertiesDraft:
    """A charge's (or filter's) prices as typed: plain inputs and tier rows."""

    values: dict[str, str] = field(default_factory=dict)
    tiers: list[dict[str, str]] = field(default_factory=list)


@dataclass
class FilterDraft:
    values: dict[str, list[str]] = field(default_factory=dict)
    invoice_display_name: str = ""
    properties: PropertiesDraft = field(default_factory=PropertiesDraft)


@dataclass
class ChargeDraft:
    id: str = ""
    billable_metric_id: str = ""
    charge_model: str = "standard"
    # The model whose inputs are on the page (changing the model swaps them).
    shown_model: str = "standard"
    invoice_display_name: str = ""
    pay_in_advance: bool = False
    invoiceable: bool = True
    prorated: bool = False
    min_amount: str = ""
    grouped_by: str = ""
    tax_codes: list[str] = field(default_factory=list)
    properties: PropertiesDraft = field(default_factory=PropertiesDraft)
    filters: list[FilterDraft] = field(default_factory=list)


@dataclass
class PlanDraft:
    values: dict[str, str] = field(default_factory=dict)
    pay_in_advance: bool = False
    bill_charges_monthly: bool = False
    tax_codes: list[str] = field(default_factory=list)
    charges: list[ChargeDraft] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def error(self, name: str, code: str, label: str | None = None) -> None:
        self.errors.setdefault(name, message(label or name, code))


PLAN_TEXT = ("name", "code", "invoice_display_name", "description", "interval",
             "amount_currency", "amount", "trial_period", "commitment_amount")  # fmt: skip


def empty_form(currency: str = "USD") -> PlanDraft:
    values = {key: "" for key in PLAN_TEXT}
    values.update(interval="monthly", amount_currency=currency, amount="0")
    return PlanDraft(values=values)


def default_properties(model: str) -> PropertiesDraft:
    """What the editor shows for a model just chosen (Lago's defaults: one open tier)."""
    if model in TIERS:
        return PropertiesDraft(tiers=[_tier("0", "", "0", "0")])
    values = {key: "" for key in SIMPLE[model]}
    if model == "standard" or model == "package":
        values["amount"] = "0"
    if model == "package":
        values.update(package_size="1", free_units="0")
    if model == "percentage":
        values["rate"] = "0"
    return PropertiesDraft(values=values)


def _tier(start: str, end: str, price: str, flat: str) -> dict[str, str]:
    return {"from_value": start, "to_value": end, "price": price, "flat_amount": flat}


def options_open(draft: PlanDraft) -> set[int]:
    """The charges whose options (timing, minimum, grouping, taxes) are shown unfolded:
    those with one set, or with an error among them."""
    shown = set()
    for index, charge in enumerate(draft.charges):
        prefix = f"c{index}."
        in_error = any(
            name.startswith(prefix) and name.removeprefix(prefix) in OPTION_INPUTS
            for name in draft.errors
        )
        if in_error or charge.pay_in_advance or not charge.invoiceable or charge.prorated or (
            charge.min_amount or charge.grouped_by or charge.tax_codes
            or charge.invoice_display_name
        ):  # fmt: skip
            shown.add(index)
    return shown


OPTION_INPUTS = ("pay_in_advance", "invoiceable", "prorated", "min_amount", "grouped_by",
                 "tax_codes", "invoice_display_name")  # fmt: skip


# --- a plan as the form shows it ---------------------------------------------------------


def form_of(
    plan: Plan, commitment: MinimumCommitment | None, plan_tax_codes: list[str],
    charge_tax_codes: dict[Any, list[str]],
) -> PlanDraft:  # fmt: skip
    """The edit form filled with the plan's values."""
    currency = plan.amount_currency
    values = {
        "name": plan.name,
        "code": plan.code,
        "invoice_display_name": plan.invoice_display_name or "",
        "description": plan.description or "",
        "interval": plan.interval,
        "amount_currency": currency,
        "amount": typed_amount(plan.amount_cents, currency),
        "trial_period": _plain(plan.trial_period),
        "commitment_amount": typed_amount(commitment.amount_cents, currency) if commitment else "",
    }
    charges = [
        ChargeDraft(
            id=str(charge.id),
            billable_metric_id=str(charge.billable_metric_id),
            charge_model=charge.charge_model,
            shown_model=charge.charge_model,
            invoice_display_name=charge.invoice_display_name or "",
            pay_in_advance=charge.pay_in_advance,
            invoiceable=charge.invoiceable,
            prorated=charge.prorated,
            min_amount=typed_amount(charge.min_amount_cents, currency)
            if charge.min_amount_cents
            else "",
            grouped_by=", ".join(charge.properties.get("pricing_group_keys") or []),
            tax_codes=charge_tax_codes.get(charge.id, []),
            properties=_properties_draft(charge.charge_model, charge.properties),
            filters=[_filter_draft(charge, item) for item in charge.filters],
        )
        for charge in plan.charges
    ]
    return PlanDraft(
        values=values,
        pay_in_advance=plan.pay_in_advance,
        bill_charges_monthly=bool(plan.bill_charges_monthly),
        tax_codes=plan_tax_codes,
        charges=charges,
    )


def _filter_draft(charge: Charge, item: ChargeFilter) -> FilterDraft:
    return FilterDraft(
        values={key: list(values) for key, values in item.values.items()},
        invoice_display_name=item.invoice_display_name or "",
        properties=_properties_draft(charge.charge_model, item.properties),
    )


def _properties_draft(model: str, properties: dict[str, Any]) -> PropertiesDraft:
    if model in TIERS:
        key, price = TIERS[model]
        return PropertiesDraft(
            tiers=[
                _tier(
                    _plain(row.get("from_value")),
                    _plain(row.get("to_value")),
                    _plain(row.get(price)),
                    _plain(row.get("flat_amount")),
                )
                for row in properties.get(key) or []
            ]
        )
    return PropertiesDraft(values={key: _plain(properties.get(key)) for key in SIMPLE[model]})


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


# --- a submitted form ---------------------------------------------------------------------

_CHARGE = re.compile(r"^c([0-9]{1,4})\.billable_metric_id$")


def _indexes(form: FormData, pattern: re.Pattern[str]) -> list[int]:
    """The row numbers present in the form, by the input every such row carries."""
    names = form.keys()
    return sorted({int(match.group(1)) for name in names if (match := pattern.match(name))})


def read_form(form: FormData) -> PlanDraft:
    values = {key: form.get(key).strip() for key in PLAN_TEXT}
    values["name"] = form.get("name")
    charges = [_read_charge(form, f"c{index}") for index in _indexes(form, _CHARGE)]
    return PlanDraft(
        values=values,
        pay_in_advance=form.get("pay_in_advance") == "on",
        bill_charges_monthly=form.get("bill_charges_monthly") == "on",
        tax_codes=[code for code in form.getlist("tax_codes") if code],
        charges=charges,
    )


def _read_charge(form: FormData, prefix: str) -> ChargeDraft:
    def text(name: str) -> str:
        return form.get(f"{prefix}.{name}").strip()

    model = text("charge_model") if text("charge_model") in CHARGE_MODELS else "standard"
    shown = text("shown_model") if text("shown_model") in CHARGE_MODELS else model
    filters = re.compile(rf"^{re.escape(prefix)}\.f([0-9]{{1,4}})\.shown$")
    return ChargeDraft(
        id=text("id"),
        billable_metric_id=text("billable_metric_id"),
        charge_model=model,
        shown_model=shown,
        invoice_display_name=text("invoice_display_name"),
        pay_in_advance=text("pay_in_advance") == "on",
        invoiceable=text("invoiceable") == "on",
        prorated=text("prorated") == "on",
        min_amount=text("min_amount"),
        grouped_by=text("grouped_by"),
        tax_codes=[code for code in form.getlist(f"{prefix}.tax_codes") if code],
        properties=_read_properties(form, prefix, shown),
        filters=[_read_filter(form, f"{prefix}.f{j}", shown) for j in _indexes(form, filters)],
    )


def _read_filter(form: FormData, prefix: str, model: str) -> FilterDraft:
    values: dict[str, list[str]] = {}
    names = form.keys()
    for key in names:
        if key.startswith(f"{prefix}.key."):
            chosen = [value for value in form.getlist(key) if value]
            if chosen:
                values[key.removeprefix(f"{prefix}.key.")] = chosen
    return FilterDraft(
        values=values,
        invoice_display_name=form.get(f"{prefix}.invoice_display_name").strip(),
        properties=_read_properties(form, prefix, model),
    )


def _read_properties(form: FormData, prefix: str, model: str) -> PropertiesDraft:
    if model in TIERS:
        tiers = []
        index = 0
        while f"{prefix}.t{index}.from_value" in form:
            tiers.append(
                {
                    name: form.get(f"{prefix}.t{index}.{name}").strip()
                    for name in ("from_value", "to_value", "price", "flat_amount")
                }
            )
            index += 1
        return PropertiesDraft(tiers=tiers)
    return PropertiesDraft(
        values={key: form.get(f"{prefix}.{key}").strip() for key in SIMPLE[model]}
    )


# --- the editor's buttons -------------------------------------------------------------------


BUTTONS = ("add_charge", "remove_charge", "add_filter", "remove_filter", "add_tier",
           "remove_tier", "refresh")  # fmt: skip


def apply_action(draft: PlanDraft, action: str, new_metric: str) -> bool:
    """Change the rows as the pressed button asks; False when `action` is no such button
    (then the form is being saved). Models changed in their select get their inputs."""
    name, _, target = action.partition(":")
    if name not in BUTTONS:
        return False
    for charge in draft.charges:
        _swap_model(charge)
    if name == "add_charge":
        model = "standard"
        draft.charges.append(
            ChargeDraft(
                billable_metric_id=new_metric, charge_model=model, shown_model=model,
                properties=default_properties(model),
            )
        )  # fmt: skip
    elif name == "remove_charge":
        index = _index(target)
        if index is not None and index < len(draft.charges):
            del draft.charges[index]
    elif name == "add_filter":
        charge = _charge_at(draft, target)
        if charge is not None:
            charge.filters.append(FilterDraft(properties=default_properties(charge.charge_model)))
    elif name == "remove_filter":
        charge_index, _, filter_index = target.partition(":")
        charge = _charge_at(draft, charge_index)
        index = _index(filter_index)
        if charge is not None and index is not None and index < len(charge.filters):
            del charge.filters[index]
    elif name in ("add_tier", "remove_tier"):
        where, _, row = target.partition(":")
        properties = _properties_at(draft, where)
        if properties is not None:
            _change_tiers(properties, name, row)
    return True


def _swap_model(charge: ChargeDraft) -> None:
    if charge.charge_model != charge.shown_model:
        charge.shown_model = charge.charge_model
        charge.properties = default_properties(charge.charge_model)
        for item in charge.filters:
            item.properties = default_properties(charge.charge_model)


def _change_tiers(properties: PropertiesDraft, name: str, row: str) -> None:
    tiers = properties.tiers
    if name == "remove_tier":
        index = _index(row)
        if index is not None and index < len(tiers) and len(tiers) > 1:
            del tiers[index]
        return
    # A new last tier starts one after the previous one's end (Lago's classic style).
    start = ""
    if tiers and _is_whole(tiers[-1]["to_value"]):
        start = str(int(tiers[-1]["to_value"]) + 1)
    tiers.append(_tier(start, "", "", "0"))


def _index(text: str) -> int | None:
    return int(text) if _is_whole(text) else None


def _charge_at(draft: PlanDraft, text: str) -> ChargeDraft | None:
    index = _index(text)
    return draft.charges[index] if index is not None and index < len(draft.charges) else None


def _properties_at(draft: PlanDraft, prefix: str) -> PropertiesDraft | None:
    """The properties an input prefix names: "c1" (a charge) or "c1.f0" (its filter)."""
    match = re.fullmatch(r"c([0-9]{1,4})(?:\.f([0-9]{1,4}))?", prefix)
    if not match:
        return None
    charge = _charge_at(draft, match.group(1))
    if charge is None:
        return None
    if match.group(2) is None:
        return charge.properties
    index = int(match.group(2))
    return charge.filters[index].properties if index < len(charge.filters) else None


# --- the API's body --------------------------------------------------------------------------


def plan_body(draft: PlanDraft, *, creating: bool) -> dict[str, Any]:
    """The `plan` object POST/PUT /plans takes. What cannot become a body value (an
    amount that is no number) is recorded in `draft.errors` under its input."""
    values = draft.values
    currency = values.get("amount_currency", "")
    body: dict[str, Any] = {
        "name": values.get("name", ""),
        "code": values.get("code", ""),
        "invoice_display_name": values.get("invoice_display_name") or None,
        "description": values.get("description") or None,
        "interval": values.get("interval") or None,
        "amount_currency": currency or None,
        "pay_in_advance": draft.pay_in_advance,
        # Kept by the service for yearly and semiannual plans only.
        "bill_charges_monthly": draft.bill_charges_monthly,
        "trial_period": values.get("trial_period") or None,
        "tax_codes": list(draft.tax_codes),
    }
    body["amount_cents"] = _cents(draft, "amount", values.get("amount", ""), currency)
    commitment = values.get("commitment_amount", "")
    if commitment:
        body["minimum_commitment"] = {
            "amount_cents": _cents(draft, "commitment_amount", commitment, currency)
        }
    elif not creating:
        # Lago removes the commitment when it is sent empty.
        body["minimum_commitment"] = {}
    body["charges"] = [
        _charge_body(draft, charge, f"c{index}", currency)
        for index, charge in enumerate(draft.charges)
    ]
    return body


def _cents(draft: PlanDraft, name: str, text: str, currency: str) -> int | None:
    if not text:
        return None
    if currency not in CURRENCIES:
        return 0  # the currency's own error is the API's
    try:
        return money_cents(text, currency)
    except ValueError as error:
        draft.error(name, str(error))
    except ArithmeticError:  # beyond what a Decimal holds, e.g. 1e999999
        draft.error(name, "value_is_out_of_range")
    return 0


def _charge_body(
    draft: PlanDraft, charge: ChargeDraft, prefix: str, currency: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "billable_metric_id": charge.billable_metric_id,
        "charge_model": charge.charge_model,
        "invoice_display_name": charge.invoice_display_name or None,
        "pay_in_advance": charge.pay_in_advance,
        "invoiceable": charge.invoiceable,
        "prorated": charge.prorated,
        "min_amount_cents": (
            _cents(draft, f"{prefix}.min_amount", charge.min_amount, currency) or 0
        ),
        "tax_codes": list(charge.tax_codes),
        "properties": _properties_body(charge.shown_model, charge.properties),
        "filters": [],
    }
    if charge.id:
        body["id"] = charge.id
    keys = [key.strip() for key in charge.grouped_by.split(",") if key.strip()]
    if keys:
        body["properties"]["pricing_group_keys"] = keys
    for index, item in enumerate(charge.filters):
        if not item.values:
            draft.error(f"{prefix}.f{index}.values", "filter_without_values")
        body["filters"].append(
            {
                "values": item.values,
                "invoice_display_name": item.invoice_display_name or None,
                "properties": _properties_body(charge.shown_model, item.properties),
            }
        )
    if charge.charge_model != charge.shown_model:
        # Saved only once its prices are typed: the form comes back with its inputs.
        draft.error(f"{prefix}.charge_model", "model_changed")
        _swap_model(charge)
    return body


def _properties_body(model: str, draft: PropertiesDraft) -> dict[str, Any]:
    if model in TIERS:
        key, price = TIERS[model]
        return {
            key: [
                {
                    "from_value": _number(row["from_value"]),
                    "to_value": _number(row["to_value"]),
                    price: row["price"],
                    "flat_amount": row["flat_amount"] or "0",
                }
                for row in draft.tiers
            ]
        }
    body: dict[str, Any] = {}
    for key in SIMPLE[model]:
        text = draft.values.get(key, "")
        if key in OPTIONAL and not text:
            continue
        body[key] = _number(text) if key in COUNTS else text
    return body


def _number(text: str) -> int | str | None:
    """A bound or count as the API wants it: blank is none, a whole number an integer;
    anything else is passed on for the API's validator to refuse."""
    if not text:
        return None
    return int(text) if _is_whole(text) else text


def _is_whole(text: str) -> bool:
    """Digits only, and few enough to be a count (longer ones are passed on as text,
    for the API's validator to refuse)."""
    return text.isascii() and text.isdigit() and len(text) <= WHOLE_DIGITS_MAX


WHOLE_DIGITS_MAX = 30


# --- the API's refusal, under its row ----------------------------------------------------------


def explain(draft: PlanDraft, error: MeterbillError) -> None:
    """Put the service's refusal under the input (or row) it concerns."""
    prefix, model = _row_of(draft, error.location)
    if isinstance(error, NotFound):
        code = error.code or ""
        if code == "billable_metric_not_found" and prefix:
            draft.error(f"{prefix}.billable_metric_id", code)
        elif code == "tax_not_found":
            draft.error(f"{prefix}.tax_codes" if prefix else "tax_codes", code)
        else:
            draft.error("base", code)
        return
    if not isinstance(error, ValidationFailed):
        draft.error("base", error.code or error.error)
        return
    for api_field, codes in error.details.items():
        for code in codes if isinstance(codes, list) else [codes]:
            _place(draft, prefix, model, api_field, str(code))


def _row_of(draft: PlanDraft, location: tuple[str | int, ...]) -> tuple[str, str]:
    """The input prefix of the charge (or filter) a location names, and its model."""
    if len(location) >= 2 and location[0] == "charges" and isinstance(location[1], int):
        index = location[1]
        model = draft.charges[index].shown_model if index < len(draft.charges) else "standard"
        prefix = f"c{index}"
        if len(location) >= 4 and location[2] == "filters":
            prefix += f".f{location[3]}"
        return prefix, model
    return "", ""


def _place(draft: PlanDraft, prefix: str, model: str, api_field: str, code: str) -> None:
    if not prefix:
        name = PLAN_FIELDS.get(api_field, api_field)
        draft.error(name if name in PLAN_INPUTS else "base", code, api_field)
        return
    if api_field == "properties":
        if model in TIERS and code != "invalid_type" and code != "invalid_pricing_group_keys":
            kind = "missing" if code.startswith("missing_") else "invalid"
            if code in ("invalid_amount", "invalid_rate"):
                draft.errors.setdefault(
                    f"{prefix}.tiers", "Every tier needs a price and a flat amount of 0 or more."
                )
            else:
                draft.errors.setdefault(f"{prefix}.tiers", RANGE_WORDS[kind])
            return
        target = PROPERTY_CODES.get(code, {}).get(model)
        if target is None:
            target = "grouped_by" if code in ("invalid_type", "invalid_pricing_group_keys") else ""
        draft.error(f"{prefix}.{target}" if target else f"{prefix}.base", code)
        return
    if api_field == "code":
        draft.error(f"{prefix}.base", code, "charge.code")
        return
    name = CHARGE_FIELDS.get(api_field, api_field)
    draft.error(f"{prefix}.{name}", code, api_field)
