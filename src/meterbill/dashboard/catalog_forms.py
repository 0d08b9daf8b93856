"""The catalogue's forms (billable metrics, coupons, add-ons, taxes): their values as
typed, the API body each becomes, and the API's refusals in words.

Each form is turned into the body the API's POST/PUT takes and parsed by the API's own
parser, so the dashboard applies exactly the API's rules; what is checked here is only
what a form adds (a typed amount in currency units, a date input, Lago's front-end rule
that a tax rate is at most 100 %).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from meterbill.add_ons.models import AddOn
from meterbill.core.errors import MeterbillError, ValidationFailed
from meterbill.coupons.models import Coupon
from meterbill.dashboard import action_forms
from meterbill.dashboard.formats import CURRENCY_OPTIONS, typed_amount
from meterbill.dashboard.web import FormData
from meterbill.metrics.models import BillableMetric
from meterbill.metrics.schemas import AGGREGATION_TYPES, ROUNDING_FUNCTIONS
from meterbill.taxes.models import Tax

AGGREGATION_LABELS = {
    "count_agg": "Count",
    "unique_count_agg": "Count unique",
    "sum_agg": "Sum",
    "max_agg": "Max",
    "latest_agg": "Latest",
    "weighted_sum_agg": "Weighted sum",
}
AGGREGATION_OPTIONS = [("", "Select an aggregation")] + [
    (name, AGGREGATION_LABELS[name]) for name in AGGREGATION_TYPES
]
ROUNDING_OPTIONS = [("", "No rounding")] + [
    (name, name.capitalize()) for name in ROUNDING_FUNCTIONS
]
COUPON_TYPE_OPTIONS = [("fixed_amount", "Fixed amount"), ("percentage", "Percentage")]
FREQUENCY_OPTIONS = [("once", "Once"), ("recurring", "Recurring"), ("forever", "Forever")]
EXPIRATION_OPTIONS = [("no_expiration", "No expiration"), ("time_limit", "Valid until a date")]
# The select options every catalogue form template may use.
OPTIONS = {
    "aggregation_options": AGGREGATION_OPTIONS,
    "rounding_options": ROUNDING_OPTIONS,
    "coupon_type_options": COUPON_TYPE_OPTIONS,
    "frequency_options": FREQUENCY_OPTIONS,
    "expiration_options": EXPIRATION_OPTIONS,
    "currency_options": CURRENCY_OPTIONS,
}
# Lago's form refuses a rate above 100 % (the API accepts up to 1000 %).
TAX_RATE_MAX = Decimal(100)
# A metric's form shows the filters it has plus this many blank rows (no JavaScript
# needed to add one; blank rows are ignored).
BLANK_FILTER_ROWS = 2

MESSAGES = {
    ("code", "value_already_exist"): "Code already exists, please type a new one.",
    ("code", "value_is_mandatory"): "The code is required.",
    ("name", "value_is_mandatory"): "The name is required.",
    ("aggregation_type", "value_is_invalid"): "Choose an aggregation type.",
    ("field_name", "value_is_mandatory"): "This aggregation needs the property to read.",
    ("expression", "invalid_expression"): (
        "This expression is not valid: check the functions, the properties and the brackets."
    ),
    ("recurring", "value_is_invalid"): "This aggregation cannot be recurring.",
    ("rate", "value_is_out_of_range"): "Tax rate value can not exceed 100%",
    ("rate", "value_is_mandatory"): "The rate is required.",
    ("amount_cents", "value_is_out_of_range"): "Enter an amount greater than 0.",
    ("amount_cents", "value_is_mandatory"): "The amount is required.",
    ("percentage_rate", "value_is_out_of_range"): "Enter a rate greater than 0.",
    ("frequency_duration", "value_is_out_of_range"): "Enter a number of months, 1 or more.",
    ("expiration_at", "invalid_date"): "The expiration date must be in the future.",
    ("plan_codes", "plan_not_found"): "One of these plans no longer exists.",
    ("billable_metric_codes", "billable_metric_not_found"): (
        "One of these billable metrics no longer exists."
    ),
    ("tax_codes", "tax_not_found"): "One of these taxes no longer exists.",
    ("test_properties", "invalid_json"): 'Type the properties as JSON, e.g. {"amount": 12}.',
    ("filters", "filter_incomplete"): (
        "Each filter needs a key and at least one value (values separated by commas)."
    ),
    ("filters", "value_is_invalid"): "These filters are not valid.",
    ("filters", "value_already_exist"): "Each filter key may appear once.",
    ("amount", "value_is_out_of_range"): "Enter an amount greater than 0.",
    ("amount", "value_is_mandatory"): "The amount is required.",
}
# An API error field -> the form input it shows under.
RENAMES = {"values": "filters", "key": "filters", "amount_cents": "amount"}


def message(name: str, code: str) -> str:
    return MESSAGES.get((name, code)) or action_forms.message(name, code)


@dataclass
class CatalogForm:
    """A form as typed (to render again), its errors by input name, and for a metric
    its filter rows and the expression check's result."""

    values: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)
    filters: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    check_result: str | None = None

    def refuse(self, name: str, code: str) -> None:
        self.errors.setdefault(name, message(name, code))

    def explain(self, error: MeterbillError) -> None:
        """The API's refusal under the inputs it concerns."""
        if isinstance(error, ValidationFailed):
            for api_field, codes in error.details.items():
                for code in codes if isinstance(codes, list) else [codes]:
                    self.refuse(RENAMES.get(api_field, api_field), str(code))
        elif error.code == "plan_not_found":
            self.refuse("plan_codes", error.code)
        elif error.code == "billable_metric_not_found":
            self.refuse("billable_metric_codes", error.code)
        elif error.code == "tax_not_found":
            self.refuse("tax_codes", error.code)
        else:
            self.refuse("base", error.code or error.error)


def _text(form: FormData, name: str) -> str:
    return form.get(name).strip()


def _plain_decimal(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


# --- billable metrics -------------------------------------------------------------------


def metric_form_of(metric: BillableMetric, filters: dict[str, list[str]]) -> CatalogForm:
    values = {
        "name": metric.name,
        "code": metric.code,
        "description": metric.description or "",
        "aggregation_type": metric.aggregation_type,
        "field_name": metric.field_name or "",
        "recurring": bool(metric.recurring),
        "rounding_function": metric.rounding_function or "",
        "rounding_precision": (
            "" if metric.rounding_precision is None else str(metric.rounding_precision)
        ),
        "expression": metric.expression or "",
        "test_properties": "",
    }
    rows = [{"key": key, "values": ", ".join(found)} for key, found in filters.items()]
    return CatalogForm(values=values, filters=_padded(rows))


def empty_metric_form() -> CatalogForm:
    return CatalogForm(values={"aggregation_type": "count_agg"}, filters=_padded([]))


def _padded(rows: list[dict[str, str]], extra: int = BLANK_FILTER_ROWS) -> list[dict[str, str]]:
    return rows + [{"key": "", "values": ""} for _ in range(extra)]


def read_metric_form(form: FormData) -> CatalogForm:
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in (
            "name", "code", "description", "aggregation_type", "field_name",
            "rounding_function", "rounding_precision", "expression", "test_properties",
        )
    }  # fmt: skip
    values["recurring"] = form.get("recurring") == "on"
    keys, found = form.getlist("filter_key"), form.getlist("filter_values")
    rows = [
        {"key": key.strip(), "values": (found[i] if i < len(found) else "").strip()}
        for i, key in enumerate(keys)
    ]
    kept = [row for row in rows if row["key"] or row["values"]]
    extra = BLANK_FILTER_ROWS + (1 if form.get("action") == "add_filter" else 0)
    return CatalogForm(values=values, filters=_padded(kept, extra))


def metric_body(draft: CatalogForm) -> dict[str, Any]:
    """The body of POST/PUT /billable_metrics this form stands for."""
    values = draft.values
    aggregation = values["aggregation_type"] or None
    body: dict[str, Any] = {
        "name": values["name"],
        "code": values["code"],
        "description": values["description"] or None,
        "aggregation_type": aggregation,
        "field_name": values["field_name"] or None,
        "recurring": bool(values["recurring"]),
        "rounding_function": values["rounding_function"] or None,
        "rounding_precision": None,
        "expression": values["expression"],
        "weighted_interval": "seconds" if aggregation == "weighted_sum_agg" else None,
        "filters": [],
    }
    precision = values["rounding_precision"]
    if precision:
        try:
            body["rounding_precision"] = int(precision)
        except ValueError:
            draft.refuse("rounding_precision", "value_is_invalid")
    for row in draft.filters:
        if not row["key"] and not row["values"]:
            continue
        found = [value.strip() for value in row["values"].split(",") if value.strip()]
        if not row["key"] or not found:
            draft.refuse("filters", "filter_incomplete")
            continue
        body["filters"].append({"key": row["key"], "values": found})
    return body


def test_event(draft: CatalogForm) -> dict[str, Any] | None:
    """The event the expression is checked on: the metric's code and the typed
    properties (a JSON object); None (and an error) when they are not one."""
    text = draft.values.get("test_properties") or "{}"
    try:
        properties = json.loads(text)
    except ValueError:
        properties = None
    if not isinstance(properties, dict):
        draft.refuse("test_properties", "invalid_json")
        return None
    return {"code": draft.values.get("code") or "", "properties": properties}


# --- coupons ----------------------------------------------------------------------------


def coupon_form_of(coupon: Coupon, plan_codes: list[str], metric_codes: list[str]) -> CatalogForm:
    currency = coupon.amount_currency or "USD"
    values = {
        "name": coupon.name,
        "code": coupon.code,
        "description": coupon.description or "",
        "coupon_type": coupon.coupon_type,
        "amount": typed_amount(coupon.amount_cents, coupon.amount_currency),
        "amount_currency": currency,
        "percentage_rate": _plain_decimal(coupon.percentage_rate),
        "frequency": coupon.frequency,
        "frequency_duration": (
            "" if coupon.frequency_duration is None else str(coupon.frequency_duration)
        ),
        "reusable": bool(coupon.reusable),
        "expiration": coupon.expiration,
        "expiration_at": coupon.expiration_at.date().isoformat() if coupon.expiration_at else "",
    }
    return CatalogForm(
        values=values, choices={"plan_codes": plan_codes, "billable_metric_codes": metric_codes}
    )


def empty_coupon_form(currency: str) -> CatalogForm:
    return CatalogForm(
        values={
            "coupon_type": "fixed_amount",
            "amount_currency": currency,
            "frequency": "once",
            "expiration": "no_expiration",
            "reusable": True,
        },
        choices={"plan_codes": [], "billable_metric_codes": []},
    )


def read_coupon_form(form: FormData) -> CatalogForm:
    values: dict[str, Any] = {
        name: _text(form, name)
        for name in (
            "name", "code", "description", "coupon_type", "amount", "amount_currency",
            "percentage_rate", "frequency", "frequency_duration", "expiration", "expiration_at",
        )
    }  # fmt: skip
    values["reusable"] = form.get("reusable") == "on"
    choices = {
        "plan_codes": [code for code in form.getlist("plan_codes") if code],
        "billable_metric_codes": [code for code in form.getlist("billable_metric_codes") if code],
    }
    return CatalogForm(values=values, choices=choices)


def coupon_body(draft: CatalogForm) -> dict[str, Any]:
    values = draft.values
    body: dict[str, Any] = {
        "name": values["name"],
        "code": values["code"],
        "description": values["description"] or None,
        "coupon_type": values["coupon_type"] or None,
        "frequency": values["frequency"] or None,
        "expiration": values["expiration"] or None,
        "reusable": bool(values["reusable"]),
        "applies_to": {
            "plan_codes": draft.choices.get("plan_codes", []),
            "billable_metric_codes": draft.choices.get("billable_metric_codes", []),
        },
    }
    if values["coupon_type"] == "fixed_amount":
        currency = values["amount_currency"]
        body["amount_currency"] = currency or None
        if values["amount"]:
            try:
                body["amount_cents"] = action_forms.money_cents(values["amount"], currency)
            except ValueError as error:
                draft.refuse("amount", str(error))
            except LookupError:
                draft.refuse("amount_currency", "value_is_invalid")
        else:
            draft.refuse("amount", "value_is_mandatory")
    elif values["coupon_type"] == "percentage":
        body["percentage_rate"] = values["percentage_rate"] or None
    if values["frequency"] == "recurring":
        try:
            body["frequency_duration"] = int(values["frequency_duration"])
        except ValueError:
            draft.refuse("frequency_duration", "value_is_out_of_range")
    if values["expiration"] == "time_limit":
        try:
            day = action_forms.day(values["expiration_at"])
        except ValueError:
            day = None
        if day is None:
            draft.refuse("expiration_at", "invalid_date")
        else:
            # Valid through the chosen day, as Lago's date picker means it.
            body["expiration_at"] = (
                datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
                .isoformat()
                .replace("+00:00", "Z")
            )
    return body


# --- add-ons ----------------------------------------------------------------------------


def add_on_form_of(add_on: AddOn, tax_codes: list[str]) -> CatalogForm:
    values = {
        "name": add_on.name,
        "code": add_on.code,
        "invoice_display_name": add_on.invoice_display_name or "",
        "description": add_on.description or "",
        "amount": typed_amount(add_on.amount_cents, add_on.amount_currency),
        "amount_currency": add_on.amount_currency,
    }
    return CatalogForm(values=values, choices={"tax_codes": tax_codes})


def empty_add_on_form(currency: str) -> CatalogForm:
    return CatalogForm(values={"amount_currency": currency}, choices={"tax_codes": []})


def read_add_on_form(form: FormData) -> CatalogForm:
    values = {
        name: _text(form, name)
        for name in (
            "name", "code", "invoice_display_name", "description", "amount", "amount_currency",
        )
    }  # fmt: skip
    return CatalogForm(
        values=values, choices={"tax_codes": [code for code in form.getlist("tax_codes") if code]}
    )


def add_on_body(draft: CatalogForm) -> dict[str, Any]:
    values = draft.values
    body: dict[str, Any] = {
        "name": values["name"],
        "code": values["code"],
        "invoice_display_name": values["invoice_display_name"] or None,
        "description": values["description"] or None,
        "amount_currency": values["amount_currency"] or None,
        "tax_codes": draft.choices.get("tax_codes", []),
    }
    if not values["amount"]:
        draft.refuse("amount", "value_is_mandatory")
    else:
        try:
            body["amount_cents"] = action_forms.money_cents(
                values["amount"], values["amount_currency"]
            )
        except ValueError as error:
            draft.refuse("amount", str(error))
        except LookupError:
            draft.refuse("amount_currency", "value_is_invalid")
    return body


# --- taxes ------------------------------------------------------------------------------


def tax_form_of(tax: Tax) -> CatalogForm:
    values = {
        "name": tax.name,
        "code": tax.code,
        "description": tax.description or "",
        "rate": _plain_decimal(tax.rate),
    }
    return CatalogForm(values=values)


def empty_tax_form() -> CatalogForm:
    return CatalogForm(values={})


def read_tax_form(form: FormData) -> CatalogForm:
    return CatalogForm(
        values={name: _text(form, name) for name in ("name", "code", "description", "rate")}
    )


def tax_body(draft: CatalogForm) -> dict[str, Any]:
    values = draft.values
    body: dict[str, Any] = {
        "name": values["name"],
        "code": values["code"],
        "description": values["description"] or None,
    }
    if not values["rate"]:
        draft.refuse("rate", "value_is_mandatory")
        return body
    try:
        rate = action_forms.decimal_or_error(values["rate"])
    except ValueError:
        draft.refuse("rate", "value_is_invalid")
        return body
    if rate < 0 or rate > TAX_RATE_MAX:
        draft.refuse("rate", "value_is_out_of_range")
    body["rate"] = str(rate)
    return body
