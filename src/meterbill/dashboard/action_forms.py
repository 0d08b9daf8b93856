"""The customer view's action forms, as plain data: what a submitted form asks the API's
parsers for, and the API's refusals in words under the fields that caused them.

No rule lives here: a form becomes the very body the API accepts (amounts typed in
currency units become minor units, dates become instants), and that body goes through
the API's own parser and service. Only what a browser form adds (rows of add-ons, a
date without a time) is read here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from meterbill.core.errors import MeterbillError, ValidationFailed
from meterbill.core.money import exponent

# API error codes in words (field-specific wording first, see `message`).
WORDS = {
    "value_is_mandatory": "This value is mandatory to move forward.",
    "value_is_invalid": "This value is not valid.",
    "invalid_value": "This value is not valid.",
    "invalid_date": "This date is not valid.",
    "value_is_too_long": "This value is too long.",
    "value_is_out_of_range": "This value is out of range.",
    "value_already_exist": "Value already exists, please type a new one.",
    "currencies_does_not_match": (
        "The customer's currency and this one are different: the customer's is fixed "
        "once a plan, coupon, one-off invoice or wallet is assigned."
    ),
    "coupon_is_not_reusable": (
        "This coupon is not reusable and is already applied to this customer."
    ),
    "plan_overlapping": (
        "A coupon limited to the same plans or billable metrics is already applied to "
        "this customer."
    ),
    "amount_rounds_to_zero": "These credits are worth less than the currency's smallest unit.",
    "amount_below_minimum": "This is below the wallet's minimum paid top-up.",
    "amount_above_maximum": "This is above the wallet's maximum paid top-up.",
    "wallet_is_terminated": "This wallet is terminated.",
    "wallet_not_found": "This wallet does not exist.",
    "insufficient_credits": "The wallet does not hold that many credits.",
    "invalid_limitations": "These limitations are not valid.",
    "no_active_subscription": "No active subscription.",
    "too_many_decimals": "This amount has more decimals than the currency allows.",
    "must_be_positive": "This value must be greater than 0.",
}
SPECIFIC = {
    ("ending_at", "invalid_date"): (
        "End date can't be in the past and should be greater than start date."
    ),
    ("expiration_at", "invalid_date"): "Expiration date must be in the future.",
    ("end_date", "invalid_date"): (
        "End date can't be in the past and should be greater than start date."
    ),
    ("expiration_date", "invalid_date"): "Expiration date must be in the future.",
    ("plan_code", "plan_not_found"): "Choose a plan.",
    ("coupon_code", "coupon_not_found"): "Choose a coupon.",
    ("base", "fees_not_found"): "You must add at least one item.",
}
# Where an API refusal shows on each form: the API's field name -> the form's.
NOT_FOUND_FIELDS = {
    "plan_not_found": "plan_code",
    "coupon_not_found": "coupon_code",
    "add_on_not_found": "base",
    "fees_not_found": "base",
}


def message(field_name: str, code: str) -> str:
    return (
        SPECIFIC.get((field_name, code)) or WORDS.get(code) or code.replace("_", " ").capitalize()
    )


@dataclass
class FormErrors:
    """Messages by form field; "base" is the form as a whole."""

    by_field: dict[str, str] = field(default_factory=dict)

    def add(self, field_name: str, code: str) -> None:
        self.by_field.setdefault(field_name, message(field_name, code))

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def get(self, field_name: str) -> str | None:
        return self.by_field.get(field_name)


def refusal_errors(error: MeterbillError, renames: Mapping[str, str] | None = None) -> FormErrors:
    """The service's refusal under the form's fields (`renames`: API field -> form field)."""
    renames = renames or {}
    errors = FormErrors()
    if isinstance(error, ValidationFailed):
        for api_field, codes in error.details.items():
            for code in codes if isinstance(codes, list) else [codes]:
                name = renames.get(api_field, api_field)
                errors.add(name, str(code))
    elif error.code in NOT_FOUND_FIELDS:
        errors.add(NOT_FOUND_FIELDS[error.code], error.code)
    else:
        errors.add("base", error.code or error.error)
    return errors


def money_cents(text: str, currency: str) -> int:
    """An amount typed in currency units ("12.5") as minor units; ValueError when it is
    not a number or has more decimals than the currency."""
    try:
        amount = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError("value_is_invalid") from None
    if not amount.is_finite():
        raise ValueError("value_is_invalid")
    cents = amount.scaleb(exponent(currency))
    if cents != cents.to_integral_value():
        raise ValueError("too_many_decimals")
    return int(cents)


def decimal_or_error(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError("value_is_invalid") from None
    if not value.is_finite():
        raise ValueError("value_is_invalid")
    return value


def day(text: str) -> date | None:
    """A date input's value; None when empty, ValueError when not a date."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("invalid_date") from None


def _text(form: Mapping[str, str], key: str) -> str:
    return (form.get(key) or "").strip()


# --- Assign a plan -------------------------------------------------------------------


def subscription_body(
    form: Mapping[str, str], external_customer_id: str, now: datetime
) -> tuple[dict[str, Any], FormErrors]:
    """POST /subscriptions' body. The start date is in UTC (as Lago's form says); today
    means now, so that a plan paid in advance bills its first period at once."""
    errors = FormErrors()
    body: dict[str, Any] = {
        "external_customer_id": external_customer_id,
        "plan_code": _text(form, "plan_code"),
        "external_id": _text(form, "external_id") or str(uuid.uuid4()),
        "billing_time": _text(form, "billing_time") or "calendar",
    }
    if not body["plan_code"]:
        errors.add("plan_code", "plan_not_found")
    if name := _text(form, "name"):
        body["name"] = name
    try:
        start = day(form.get("start_date") or "")
    except ValueError as error:
        errors.add("start_date", str(error))
        start = None
    if start is None and "start_date" not in errors.by_field:
        errors.add("start_date", "value_is_mandatory")
    elif start is not None:
        moment = now if start == now.date() else datetime.combine(start, time(), now.tzinfo)
        body["subscription_at"] = moment.isoformat()
    try:
        end = day(form.get("end_date") or "")
    except ValueError as error:
        errors.add("end_date", str(error))
        end = None
    if end is not None:
        body["ending_at"] = datetime.combine(end, time(23, 59, 59), now.tzinfo).isoformat()
    return body, errors


SUBSCRIPTION_FIELDS = {
    "plan_code": "plan_code",
    "external_id": "external_id",
    "name": "name",
    "billing_time": "billing_time",
    "subscription_at": "start_date",
    "ending_at": "end_date",
    "currency": "plan_code",
}


# --- Apply a coupon ------------------------------------------------------------------


def applied_coupon_body(
    form: Mapping[str, str], external_customer_id: str, currency: str | None
) -> tuple[dict[str, Any], FormErrors]:
    """POST /applied_coupons' body: the coupon and, when typed, its amount or rate and
    frequency for this customer (empty fields keep the coupon's own terms)."""
    errors = FormErrors()
    body: dict[str, Any] = {
        "external_customer_id": external_customer_id,
        "coupon_code": _text(form, "coupon_code"),
    }
    if not body["coupon_code"]:
        errors.add("coupon_code", "coupon_not_found")
    amount = _text(form, "amount")
    amount_currency = _text(form, "amount_currency").upper() or currency
    if amount and amount_currency:
        try:
            cents = money_cents(amount, amount_currency)
            if cents <= 0:
                raise ValueError("must_be_positive")
            body["amount_cents"] = cents
            body["amount_currency"] = amount_currency
        except ValueError as error:
            errors.add("amount", str(error))
    if rate := _text(form, "percentage_rate"):
        try:
            value = decimal_or_error(rate)
            if value <= 0:
                raise ValueError("must_be_positive")
            body["percentage_rate"] = format(value, "f")
        except ValueError as error:
            errors.add("percentage_rate", str(error))
    if frequency := _text(form, "frequency"):
        body["frequency"] = frequency
    if duration := _text(form, "frequency_duration"):
        body["frequency_duration"] = duration if not duration.isdigit() else int(duration)
    return body, errors


COUPON_FIELDS = {
    "coupon_code": "coupon_code",
    "coupon": "coupon_code",
    "amount_cents": "amount",
    "amount_currency": "amount",
    "currency": "coupon_code",
    "percentage_rate": "percentage_rate",
    "frequency": "frequency",
    "frequency_duration": "frequency_duration",
}


# --- One-off invoice -----------------------------------------------------------------

MAX_LINES = 50


@dataclass
class InvoiceLine:
    add_on_code: str = ""
    units: str = "1"
    unit_price: str = ""
    description: str = ""


def invoice_lines(form: Mapping[str, str]) -> list[InvoiceLine]:
    """The rows of the form (`lines-N-field`), in order; rows without an add-on dropped
    unless every row is empty (one blank row stays to be filled)."""
    indexes = sorted(
        {
            int(key.split("-")[1])
            for key in form
            if key.startswith("lines-") and key.count("-") == 2 and key.split("-")[1].isdigit()
        }
    )[:MAX_LINES]
    lines = [
        InvoiceLine(
            add_on_code=_text(form, f"lines-{index}-add_on_code"),
            units=_text(form, f"lines-{index}-units") or "1",
            unit_price=_text(form, f"lines-{index}-unit_price"),
            description=_text(form, f"lines-{index}-description"),
        )
        for index in indexes
    ]
    return [line for line in lines if line.add_on_code] or [InvoiceLine()]


def one_off_body(
    lines: list[InvoiceLine], external_customer_id: str, currency: str
) -> tuple[dict[str, Any], FormErrors]:
    """POST /invoices' body. Units must be above 0 (Lago's form); an empty unit price
    takes the add-on's."""
    errors = FormErrors()
    fees = []
    for index, line in enumerate(lines):
        if not line.add_on_code:
            continue
        fee: dict[str, Any] = {"add_on_code": line.add_on_code}
        try:
            units = decimal_or_error(line.units)
            if units <= 0:
                raise ValueError("must_be_positive")
            fee["units"] = format(units, "f")
        except ValueError as error:
            errors.add(f"lines-{index}-units", str(error))
        if line.unit_price:
            try:
                cents = money_cents(line.unit_price, currency)
                if cents < 0:
                    raise ValueError("value_is_out_of_range")
                fee["unit_amount_cents"] = cents
            except ValueError as error:
                errors.add(f"lines-{index}-unit_price", str(error))
        if line.description:
            fee["description"] = line.description
        fees.append(fee)
    if not fees:
        errors.add("base", "fees_not_found")
    return {
        "external_customer_id": external_customer_id,
        "currency": currency,
        "fees": fees,
    }, errors


# --- Wallets -------------------------------------------------------------------------


def wallet_body(
    form: Mapping[str, str], external_customer_id: str, now: datetime
) -> tuple[dict[str, Any], FormErrors]:
    """POST /wallets' body; the expiration date ends at the close of that day (UTC)."""
    errors = FormErrors()
    body: dict[str, Any] = {"external_customer_id": external_customer_id}
    for key in ("name", "currency"):
        if value := _text(form, key):
            body[key] = value.upper() if key == "currency" else value
    rate = _text(form, "rate_amount")
    if not rate:
        errors.add("rate_amount", "value_is_mandatory")
    else:
        body["rate_amount"] = rate
    for key in ("paid_credits", "granted_credits"):
        if value := _text(form, key):
            body[key] = value
    try:
        expires = day(form.get("expiration_date") or "")
    except ValueError as error:
        errors.add("expiration_date", str(error))
        expires = None
    if expires is not None:
        body["expiration_at"] = datetime.combine(expires, time(23, 59, 59), now.tzinfo).isoformat()
    return body, errors


WALLET_FIELDS = {"expiration_at": "expiration_date", "code": "name"}


def top_up_body(form: Mapping[str, str], wallet_id: str) -> dict[str, Any]:
    """POST /wallet_transactions' body."""
    body: dict[str, Any] = {"wallet_id": wallet_id}
    for key in ("paid_credits", "granted_credits"):
        if value := _text(form, key):
            body[key] = value
    return body
