"""The settings forms as plain data: each block's fields, the body of PUT
/api/v1/organizations it becomes, and the API's refusals in words.

No rule lives here: a block's form becomes the very body the API accepts and goes
through the API's parser (`parse_organization_update`) and service, so a value the API
refuses is refused here with the same code; only the wording is the dashboard's.
The logo arrives as a file in a multipart form, read here with the standard library
(the dashboard's other forms are urlencoded).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fastapi import Request

from meterbill.core import formats as core_formats
from meterbill.core.errors import ValidationFailed
from meterbill.core.fields import LOGO_MAX_BYTES
from meterbill.dashboard.customer_form import LOCALE_NAMES
from meterbill.dashboard.formats import (
    CURRENCY_OPTIONS as CURRENCY_OPTIONS,  # the template reads it here
)
from meterbill.dashboard.web import FormData
from meterbill.organizations.models import Organization
from meterbill.organizations.schemas import GRACE_PERIOD_MAX, INVOICE_FOOTER_MAX, PREFIX_MAX

INFORMATION = (
    "name", "legal_name", "legal_number", "tax_identification_number", "email",
    "address_line1", "address_line2", "zipcode", "city", "state", "country",
)  # fmt: skip
# Fields under the API's `billing_configuration`.
BILLING = ("invoice_grace_period", "document_locale", "invoice_footer")

# Each block of the two settings pages: its form's fields (the API's names).
BLOCKS: dict[str, tuple[str, ...]] = {
    "information": INFORMATION,
    "timezone": ("timezone",),
    "currency": ("default_currency",),
    "locale": ("document_locale",),
    "grace-period": ("invoice_grace_period",),
    "net-payment-term": ("net_payment_term",),
    "footer": ("invoice_footer",),
    "numbering": ("document_numbering", "document_number_prefix"),
}
INVOICE_BLOCKS = ("currency", "locale", "grace-period", "net-payment-term", "footer", "numbering")

# Lago's nine document locales, in its order.
LOCALE_OPTIONS = [
    (code, LOCALE_NAMES[code])
    for code in ("fr", "en", "de", "nb", "it", "es", "sv", "pt-BR", "zh-TW")
    if code in core_formats.DOCUMENT_LOCALES
]
TIMEZONE_OPTIONS = [(zone, zone) for zone in sorted(core_formats.TIMEZONES)]
NUMBERING_OPTIONS = [
    ("per_customer", "Sequentially for each customer"),
    ("per_organization", "Sequentially across your organization"),
]
LIMITS = {
    "grace_period_max": GRACE_PERIOD_MAX,
    "footer_max": INVOICE_FOOTER_MAX,
    "prefix_max": PREFIX_MAX,
    "logo_max_kb": LOGO_MAX_BYTES // 1024,
}

DAYS = f"Enter a whole number of days from 0 to {GRACE_PERIOD_MAX}."
MESSAGES: dict[tuple[str, str], str] = {
    ("name", "value_is_mandatory"): "The organization needs a name.",
    ("email", "invalid_email_format"): (
        "This value is not an email address, please enter a valid email."
    ),
    ("invoice_grace_period", "value_is_out_of_range"): DAYS,
    ("invoice_grace_period", "value_is_invalid"): DAYS,
    ("net_payment_term", "value_is_out_of_range"): "Enter a whole number of days, 0 or more.",
    ("net_payment_term", "value_is_invalid"): "Enter a whole number of days, 0 or more.",
    ("invoice_footer", "value_is_too_long"): (
        f"You can't use more than {INVOICE_FOOTER_MAX} characters."
    ),
    ("document_number_prefix", "value_is_too_long"): (
        f"The prefix is {PREFIX_MAX} characters at most."
    ),
    ("document_number_prefix", "value_is_too_short"): "The prefix needs at least 1 character.",
    ("document_number_prefix", "value_is_invalid"): "The prefix needs at least 1 character.",
    ("default_currency", "value_is_invalid"): "Choose a currency from the list.",
    ("logo", "invalid_image"): "Upload a PNG or JPG image.",
    ("logo", "too_big"): f"The logo must weigh {LOGO_MAX_BYTES // 1024} KB at most.",
    ("logo", "value_is_too_long"): f"The logo must weigh {LOGO_MAX_BYTES // 1024} KB at most.",
}
CODE_MESSAGES = {
    "invalid_timezone": "Choose a timezone from the list.",
    "not_a_valid_country_code": "Use a two-letter country code, such as FR or US.",
    "not_a_valid_language_code": "Choose a language from the list.",
    "value_is_invalid": "This value is not valid.",
    "value_is_mandatory": "This field is required.",
    "value_is_too_long": "This value is too long.",
}


def message(field_name: str, code: str) -> str:
    return (
        MESSAGES.get((field_name, code))
        or CODE_MESSAGES.get(code)
        or code.replace("_", " ").capitalize()
    )


@dataclass
class BlockForm:
    """One block as submitted (to render again) and its errors by field."""

    block: str
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


def current_values(organization: Organization) -> dict[str, str]:
    """Every block's fields as the organization holds them, as form values."""
    numbering = organization.document_numbering
    values: dict[str, Any] = {key: getattr(organization, key) for key in INFORMATION}
    values.update(
        timezone=organization.timezone,
        default_currency=organization.default_currency,
        document_locale=organization.document_locale,
        invoice_grace_period=organization.invoice_grace_period,
        net_payment_term=organization.net_payment_term,
        invoice_footer=organization.invoice_footer,
        document_numbering="per_organization" if numbering == "per_billing_entity" else numbering,
        document_number_prefix=organization.document_number_prefix,
    )
    return {key: "" if value is None else str(value) for key, value in values.items()}


def read_block(block: str, form: FormData) -> BlockForm:
    return BlockForm(block, {name: form.get(name).strip() for name in BLOCKS[block]})


def api_body(data: BlockForm) -> dict[str, Any]:
    """The block as the body of PUT /api/v1/organizations (an empty optional text
    clears it; integers go as typed, for the API to judge)."""
    body: dict[str, Any] = {}
    billing: dict[str, Any] = {}
    for name, value in data.values.items():
        sent: Any = value
        if value == "" and name in INFORMATION and name != "name":
            sent = None
        if name == "invoice_footer" and value == "":
            sent = None
        (billing if name in BILLING else body)[name] = sent
    if billing:
        body["billing_configuration"] = billing
    return body


def explain(data: BlockForm, error: ValidationFailed) -> None:
    """The API's refusal under the block's fields (the first code of each)."""
    for name, codes in error.details.items():
        code = codes[0] if isinstance(codes, list) and codes else str(codes)
        data.errors.setdefault(name, message(name, str(code)))


# --- the logo: a file in a multipart form ----------------------------------------------

# A request larger than this cannot hold a logo the API would accept (the API refuses
# above LOGO_MAX_BYTES anyway); it is not read further.
UPLOAD_MAX_BYTES = LOGO_MAX_BYTES * 3 // 2
DATA_URL_PREFIXES = {
    "image/png": "data:image/png;base64,",
    "image/jpeg": "data:image/jpeg;base64,",
    "image/jpg": "data:image/jpeg;base64,",
}


class UploadTooLarge(Exception):
    """The request's body is larger than any acceptable logo."""


@dataclass(frozen=True)
class Upload:
    """A multipart form: its text fields and its one file (content type and bytes)."""

    fields: dict[str, str]
    content_type: str
    content: bytes


async def read_upload(request: Request, file_field: str) -> Upload:
    """The multipart body, read up to UPLOAD_MAX_BYTES (UploadTooLarge beyond)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > UPLOAD_MAX_BYTES:
            raise UploadTooLarge()
        chunks.append(chunk)
    header = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message_ = BytesParser(policy=HTTP).parsebytes(header + b"".join(chunks))
    fields: dict[str, str] = {}
    content_type, content = "", b""
    parts = message_.iter_parts() if message_.is_multipart() else iter(())
    for part in parts:
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == file_field and part.get_filename() is not None:
            content_type, content = part.get_content_type(), data
        elif isinstance(name, str):
            fields[name] = data.decode(errors="replace").replace("\x00", "")
    return Upload(fields, content_type, content)


def logo_body(upload: Upload) -> dict[str, Any]:
    """The file as the API's `logo`: a data URL of the type the browser declared (the
    API checks the bytes, the type and the size)."""
    prefix = DATA_URL_PREFIXES.get(upload.content_type, "data:application/octet-stream;base64,")
    return {"logo": prefix + base64.b64encode(upload.content).decode()}
