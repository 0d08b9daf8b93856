"""Readers for the formatted fields that customers and organizations share."""

from __future__ import annotations

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


def required_value(reader: Reader, key: str, value: Any) -> Any:
    """For columns that cannot be cleared: an explicit null is refused."""
    if value is None:
        reader.add(key, INVALID)
        return MISSING
    return value
