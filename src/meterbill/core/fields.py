"""Readers for the formatted fields that customers and organizations share."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from meterbill.core import formats
from meterbill.core.money import is_currency
from meterbill.core.validation import INVALID, MISSING, Reader


def country(reader: Reader, key: str, field: str | None = None) -> Any:
    """Upper-cased ISO 3166 code; "" clears the field."""
    value = reader.string(key, empty_as_null=True, field=field)
    if isinstance(value, str):
        code = formats.normalize_country(value)
        if code is None:
            reader.add(field or key, "not_a_valid_country_code")
            return MISSING
        return code
    return value


def email(reader: Reader, key: str = "email") -> Any:
    value = reader.string(key)
    if isinstance(value, str):
        value = formats.sanitize_email(value)
        if value and not formats.is_valid_email_list(value):
            reader.add(key, "invalid_email_format")
            return MISSING
    return value


def currency(reader: Reader, key: str = "currency") -> Any:
    value = reader.string(key)
    if isinstance(value, str) and not is_currency(value):
        reader.add(key, INVALID)
        return MISSING
    return value


def timezone(reader: Reader, key: str = "timezone") -> Any:
    return reader.choice(key, formats.TIMEZONES, code="invalid_timezone")


def document_locale(reader: Reader, key: str = "document_locale") -> Any:
    return reader.choice(key, formats.DOCUMENT_LOCALES, code="not_a_valid_language_code")


# Lago's billing entity logo: a PNG or JPEG of at most 800 KB, sent as a data URL.
LOGO_MAX_BYTES = 800 * 1024
LOGO_PREFIXES = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/jpg;base64,")


def logo(reader: Reader, key: str = "logo") -> Any:
    """A data URL of a PNG or JPEG whose bytes say so; null removes the logo."""
    value = reader.string(key, max_length=LOGO_MAX_BYTES * 2)
    if not isinstance(value, str):
        return value
    prefix = next((p for p in LOGO_PREFIXES if value.startswith(p)), None)
    try:
        content = base64.b64decode(value[len(prefix) :], validate=True) if prefix else b""
    except (binascii.Error, ValueError):
        content = b""
    png, jpeg = content.startswith(b"\x89PNG\r\n\x1a\n"), content.startswith(b"\xff\xd8\xff")
    if not (png or jpeg):
        reader.add(key, "invalid_image")
        return MISSING
    if len(content) > LOGO_MAX_BYTES:
        reader.add(key, "too_big")
        return MISSING
    return f"data:image/{'png' if png else 'jpeg'};base64,{base64.b64encode(content).decode()}"


def required_value(reader: Reader, key: str, value: Any) -> Any:
    """For columns that cannot be cleared: an explicit null is refused."""
    if value is None:
        reader.add(key, INVALID)
        return MISSING
    return value
