"""The customer form: its fields, the API body it becomes, and errors in words.

The form is turned into the body POST /customers takes and parsed by the API's own
parser (`parse_customer`), so the dashboard applies exactly the API's rules; only the
wording of the errors is the dashboard's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meterbill.core import formats as core_formats
from meterbill.core.errors import ValidationFailed
from meterbill.customers.models import Customer
from meterbill.customers.schemas import (
    METADATA_KEY_MAX,
    METADATA_MAX_ITEMS,
    METADATA_VALUE_MAX,
    NAME_MAX,
    PAYMENT_PROVIDERS,
    CustomerInput,
    parse_customer,
)
from meterbill.dashboard import formats
from meterbill.dashboard.web import FormData

TEXT = (
    "name", "legal_name", "legal_number", "tax_identification_number", "email", "phone", "url",
)  # fmt: skip
ADDRESS = ("address_line1", "address_line2", "zipcode", "city", "state", "country")
BILLING = ("invoice_grace_period", "document_locale", "payment_provider", "provider_customer_id")
INTEGERS = ("net_payment_term", "invoice_grace_period")

CUSTOMER_TYPE_OPTIONS = [("", "Not set"), ("company", "Company"), ("individual", "Individual")]
CURRENCY_OPTIONS = [("", "Select a currency"), *formats.CURRENCY_OPTIONS]
LOCALE_NAMES = {
    "en": "English", "fr": "French", "de": "German", "nb": "Norwegian (Bokmål)",
    "it": "Italian", "es": "Spanish", "sv": "Swedish", "pt-BR": "Portuguese (Brazil)",
    "zh-TW": "Chinese (Taiwan)",
}  # fmt: skip
LOCALE_OPTIONS = [("", "Organization's default")] + [
    (code, LOCALE_NAMES.get(code, code)) for code in sorted(core_formats.DOCUMENT_LOCALES)
]
PROVIDER_OPTIONS = [("", "None")] + [(name, name.capitalize()) for name in PAYMENT_PROVIDERS]
TIMEZONES = sorted(core_formats.TIMEZONES)

# Messages under the fields, by (field, code) and then by code alone.
MESSAGES: dict[tuple[str, str], str] = {
    ("external_id", "value_is_mandatory"): "External ID is required",
    ("external_id", "value_already_exist"): "ID already existing on another customer",
    ("email", "invalid_email_format"): (
        "This value is not an email address, please enter a valid email."
    ),
    ("currency", "currencies_does_not_match"): (
        "The currency cannot change once a plan, coupon, one-off invoice or wallet is "
        "assigned to this customer."
    ),
    ("currency", "value_is_invalid"): "Choose a currency from the list.",
    ("name", "value_is_too_long"): f"The name is {NAME_MAX} characters at most.",
    ("key", "value_is_mandatory"): "Metadata key is required",
    ("value", "value_is_mandatory"): "Metadata value is required",
    ("key", "value_is_too_long"): f"Key must be a string under {METADATA_KEY_MAX} characters",
    ("value", "value_is_too_long"): (
        f"Value must be a string of {METADATA_VALUE_MAX} characters maximum"
    ),
    ("key", "value_already_exist"): (
        "Keys should be unique; please differentiate them to move forward."
    ),
    ("metadata", "invalid_count"): f"A customer has {METADATA_MAX_ITEMS} metadata at most.",
    ("tax_codes", "tax_not_found"): "One of these taxes no longer exists.",
}
CODE_MESSAGES = {
    "invalid_timezone": "Choose a timezone from the list.",
    "not_a_valid_country_code": "Use a two-letter country code, such as FR or US.",
    "not_a_valid_language_code": "Choose a language from the list.",
    "value_is_out_of_range": "Enter a whole number of days, 0 or more.",
    "value_is_invalid": "This value is not valid.",
    "value_is_mandatory": "This field is required.",
    "value_is_too_long": "This value is too long.",
}
INTEGER_INVALID = "Enter a whole number of days, 0 or more."


def message(field: str, code: str) -> str:
    if field in INTEGERS and code == "value_is_invalid":
        return INTEGER_INVALID
    return MESSAGES.get((field, code)) or CODE_MESSAGES.get(code) or code.replace("_", " ")


@dataclass
class CustomerForm:
    """The form's values as typed (to render again) and its errors by input name."""

    values: dict[str, Any]
    metadata: list[dict[str, Any]]
    tax_codes: list[str]
    errors: dict[str, str] = field(default_factory=dict)


def empty_form() -> CustomerForm:
    return CustomerForm(values={}, metadata=_padded([]), tax_codes=[])


def form_of(customer: Customer, tax_codes: list[str]) -> CustomerForm:
    """The edit form filled with the customer's values."""
    values: dict[str, Any] = {
        key: getattr(customer, key) or ""
        for key in (
            "external_id", *TEXT, *ADDRESS, "customer_type", "timezone", "currency",
            "document_locale", "payment_provider", "provider_customer_id",
        )
    }  # fmt: skip
    for key in ADDRESS:
        values[f"shipping_{key}"] = getattr(customer, f"shipping_{key}") or ""
    for key in INTEGERS:
        value = getattr(customer, key)
        values[key] = "" if value is None else str(value)
    values["sync_with_provider"] = bool(customer.sync_with_provider)
    rows = [
        {
            "id": str(item.id),
            "key": item.key,
            "value": item.value,
            "display": item.display_in_invoice,
        }
        for item in customer.metadata_items
    ]
    return CustomerForm(values=values, metadata=_padded(rows), tax_codes=tax_codes)


def _padded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Without JavaScript there is no "Add metadata" button: the form always has the
    # five rows a customer may hold, blank ones ignored.
    blank = {"id": "", "key": "", "value": "", "display": False}
    return rows + [dict(blank) for _ in range(METADATA_MAX_ITEMS - len(rows))]


def read_form(form: FormData) -> CustomerForm:
    values: dict[str, Any] = {
        key: form.get(key).strip() if key != "name" else form.get(key)
        for key in (
            *TEXT, *ADDRESS, "customer_type", "timezone", *BILLING, "net_payment_term",
        )
    }  # fmt: skip
    for key in ("external_id", "currency"):
        # A disabled input is not sent: the field then stays as it is.
        if key in form:
            values[key] = form.get(key).strip()
    values["shipping_same"] = form.get("shipping_same") == "on"
    for key in ADDRESS:
        values[f"shipping_{key}"] = (
            values[key] if values["shipping_same"] else form.get(f"shipping_{key}").strip()
        )
    values["sync_with_provider"] = form.get("sync_with_provider") == "on"
    rows = []
    for index in range(METADATA_MAX_ITEMS + 5):
        prefix = f"metadata-{index}-"
        if f"{prefix}key" not in form and f"{prefix}value" not in form:
            continue
        rows.append(
            {
                "id": form.get(f"{prefix}id"),
                "key": form.get(f"{prefix}key").strip(),
                "value": form.get(f"{prefix}value").strip(),
                "display": form.get(f"{prefix}display") == "on",
            }
        )
    return CustomerForm(values=values, metadata=rows, tax_codes=form.getlist("tax_codes"))


def api_body(data: CustomerForm, *, editing: bool, external_id: str | None = None) -> dict:
    """The POST /customers body the form stands for. Creating, a blank input is left
    out; editing, it clears the field (null)."""
    values = data.values
    blank: Any = None

    def put(target: dict[str, Any], key: str, value: Any) -> None:
        if value == "" or value is None:
            if editing:
                target[key] = blank
        else:
            target[key] = value

    body: dict[str, Any] = {"external_id": values.get("external_id", external_id)}
    for key in (*TEXT, *ADDRESS, "customer_type", "timezone", "net_payment_term"):
        put(body, key, values.get(key))
    if "currency" in values:
        put(body, "currency", values["currency"])
    shipping: dict[str, Any] = {}
    for key in ADDRESS:
        put(shipping, key, values.get(f"shipping_{key}"))
    if shipping:
        body["shipping_address"] = shipping
    billing: dict[str, Any] = {}
    for key in BILLING:
        put(billing, key, values.get(key))
    if values.get("payment_provider"):
        billing["sync_with_provider"] = bool(values.get("sync_with_provider"))
    if billing:
        body["billing_configuration"] = billing
    items = [row for row in data.metadata if row["key"] or row["value"]]
    if items or editing:
        body["metadata"] = [_metadata_item(row) for row in items]
    if data.tax_codes or editing:
        body["tax_codes"] = list(data.tax_codes)
    return body


def _metadata_item(row: dict[str, Any]) -> dict[str, Any]:
    item = {"key": row["key"], "value": row["value"], "display_in_invoice": row["display"]}
    if row.get("id"):
        item["id"] = row["id"]
    return item


def parse(data: CustomerForm, *, editing: bool, external_id: str | None = None) -> CustomerInput:
    """The API's parse of the form; on refusal, ValidationFailed with the form's errors
    already attached to `data.errors`."""
    try:
        return parse_customer(api_body(data, editing=editing, external_id=external_id))
    except ValidationFailed as exc:
        explain(data, exc)
        raise


def explain(data: CustomerForm, exc: ValidationFailed) -> None:
    """Put the refusal's codes under the inputs they are about, in words."""
    for field_name, codes in exc.details.items():
        if not isinstance(codes, list) or not codes:
            continue
        if field_name in ("key", "value"):
            _explain_metadata(data, field_name, str(codes[0]))
            continue
        name = field_name if field_name != "shipping_address" else "shipping_country"
        data.errors[name] = message(field_name, str(codes[0]))


def _explain_metadata(data: CustomerForm, field_name: str, code: str) -> None:
    """Point at the rows a metadata refusal is about: each row is parsed alone by the
    same parser, and rows sharing a key are flagged when keys must be unique."""
    if code == "value_already_exist":
        keys = [row["key"] for row in data.metadata]
        for index, row in enumerate(data.metadata):
            if row["key"] and keys.count(row["key"]) > 1:
                data.errors[f"metadata-{index}-key"] = message("key", code)
        data.errors.setdefault("metadata", message("key", code))
        return
    for index, row in enumerate(data.metadata):
        if not (row["key"] or row["value"]):
            continue
        try:
            parse_customer({"external_id": "-", "metadata": [_metadata_item(row)]})
        except ValidationFailed as exc:
            for key, codes in exc.details.items():
                if key in ("key", "value"):
                    data.errors[f"metadata-{index}-{key}"] = message(key, str(codes[0]))
    data.errors.setdefault("metadata", "Some metadata rows need changes.")
