"""Reading untrusted JSON objects field by field, collecting Lago error codes.

Lago distinguishes a key that is absent (leave the field alone) from a key whose
value is null (clear the field), so readers return MISSING for an absent key.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Final

from meterbill.core.dates import parse_instant
from meterbill.core.errors import MissingParam, ValidationFailed


class _Missing(Enum):
    MISSING = "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing.MISSING
# Decimals are stored as NUMERIC(38, 15): 23 digits before the point at most.
LARGEST_DECIMAL: Final = Decimal(10) ** 23
# Codes, external ids and other identifiers: at most this many characters (they are
# indexed, and PostgreSQL refuses an index entry over 2704 bytes).
IDENTIFIER_MAX_LENGTH: Final = 255

INVALID = "value_is_invalid"
MANDATORY = "value_is_mandatory"
TOO_LONG = "value_is_too_long"
OUT_OF_RANGE = "value_is_out_of_range"

_INTEGER = re.compile(r"^-?\d+$")


def root_object(body: Any, root: str) -> dict[str, Any]:
    """The `{root: {...}}` wrapper every Lago write request uses; else Rails' 400."""
    if not isinstance(body, dict):
        raise MissingParam(root)
    value = body.get(root)
    if not isinstance(value, dict) or not value:
        raise MissingParam(root)
    return value


def strip_null_bytes(value: str) -> str:
    return value.replace("\x00", "")


class Reader:
    """Reads typed values out of one JSON object and collects errors by field."""

    def __init__(self, data: Mapping[str, Any], errors: dict[str, Any] | None = None) -> None:
        self.data = data
        self.errors: dict[str, Any] = errors if errors is not None else {}

    def has(self, key: str) -> bool:
        return key in self.data

    def add(self, field: str, code: str) -> None:
        codes = self.errors.setdefault(field, [])
        if code not in codes:
            codes.append(code)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)

    def string(
        self,
        key: str,
        *,
        max_length: int | None = None,
        empty_as_null: bool = False,
        required: bool = False,
        field: str | None = None,
    ) -> str | _Missing | None:
        field = field or key
        if key not in self.data:
            if required:
                self.add(field, MANDATORY)
            return MISSING
        value = self.data[key]
        if value is None:
            if required:
                self.add(field, MANDATORY)
            return None
        if not isinstance(value, str):
            self.add(field, INVALID)
            return MISSING
        value = strip_null_bytes(value)
        if required and not value.strip():
            self.add(field, MANDATORY)
            return MISSING
        if max_length is not None and len(value) > max_length:
            self.add(field, TOO_LONG)
            return MISSING
        if empty_as_null and value == "":
            return None
        return value

    def integer(
        self, key: str, *, minimum: int | None = None, field: str | None = None
    ) -> int | _Missing | None:
        field = field or key
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None:
            return None
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(field, INVALID)
            return MISSING
        if minimum is not None and value < minimum:
            self.add(field, OUT_OF_RANGE)
            return MISSING
        return value

    def decimal(
        self, key: str, *, minimum: Decimal | None = None, field: str | None = None
    ) -> Decimal | _Missing | None:
        field = field or key
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.add(field, INVALID)
            return MISSING
        try:
            # str() first: a JSON float must not bring binary noise into the Decimal.
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.add(field, INVALID)
            return MISSING
        if not number.is_finite():
            self.add(field, INVALID)
            return MISSING
        if abs(number) >= LARGEST_DECIMAL:
            # No column holds it (NUMERIC(38, 15)): refused, not a database error.
            self.add(field, OUT_OF_RANGE)
            return MISSING
        if minimum is not None and number < minimum:
            self.add(field, OUT_OF_RANGE)
            return MISSING
        return number

    def boolean(self, key: str, *, field: str | None = None) -> bool | _Missing | None:
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None or isinstance(value, bool):
            return value
        self.add(field or key, INVALID)
        return MISSING

    def choice(
        self,
        key: str,
        choices: Collection[str],
        *,
        code: str = INVALID,
        field: str | None = None,
    ) -> str | _Missing | None:
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None:
            return None
        if not isinstance(value, str) or value not in choices:
            self.add(field or key, code)
            return MISSING
        return value

    def string_list(self, key: str, *, field: str | None = None) -> list[str] | _Missing | None:
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.add(field or key, INVALID)
            return MISSING
        return value

    def instant(self, key: str) -> datetime | _Missing | None:
        """An ISO 8601 instant (UTC when it has no offset), else `invalid_date`."""
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None:
            return None
        parsed = parse_instant(value)
        if parsed is None:
            self.add(key, "invalid_date")
            return MISSING
        return parsed

    def obj(self, key: str, *, field: str | None = None) -> dict[str, Any] | _Missing | None:
        if key not in self.data:
            return MISSING
        value = self.data[key]
        if value is None or isinstance(value, dict):
            return value
        self.add(field or key, INVALID)
        return MISSING
