"""Metadata maps as Lago keeps them on plans, credit notes and wallets (its item metadata):
string keys to string-or-null values, and the four changes the `/metadata` routes make."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meterbill.core.errors import MissingParam, NotFound, ValidationFailed
from meterbill.core.validation import INVALID, MISSING, Reader, _Missing

Metadata = dict[str, str | None]

# Lago's limits on one record's metadata (Metadata::ItemMetadata).
MAX_KEYS = 50
MAX_KEY_LENGTH = 100
MAX_VALUE_LENGTH = 255


def fault(value: Any, *, limits: bool = True) -> str | None:
    """The error code of what keeps `value` from being a metadata map; None if it is one."""
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and (item is None or isinstance(item, str))
        for key, item in value.items()
    ):
        return INVALID
    if not limits:
        return None
    if len(value) > MAX_KEYS:
        return "too_many_keys"
    if any(len(key) > MAX_KEY_LENGTH for key in value):
        return "key_too_long"
    if any(item is not None and len(item) > MAX_VALUE_LENGTH for item in value.values()):
        return "value_too_long"
    return None


def checked(value: Any, *, limits: bool = True) -> Metadata:
    """`value` as a metadata map, else 422 on `metadata`."""
    code = fault(value, limits=limits)
    if code is not None:
        raise ValidationFailed.single("metadata", code)
    return dict(value)


def read_metadata(reader: Reader) -> Metadata | _Missing | None:
    """The `metadata` field of a request body: MISSING when absent (or refused, with its
    error added to `reader`), None when null, else the map."""
    value = reader.obj("metadata")
    if not isinstance(value, dict):
        return value
    code = fault(value)
    if code is not None:
        reader.add("metadata", code)
        return MISSING
    return dict(value)


def body_metadata(body: Any, *, limits: bool = True) -> Metadata:
    """The map of a `/metadata` request, `{"metadata": {...}}`.

    Rails' strong parameters drop a `metadata` that is absent, null or not an object, and
    Lago then changes nothing and answers 200; a caller is better told, so that is 400.
    """
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
        raise MissingParam("metadata")
    return checked(body["metadata"], limits=limits)


@dataclass(frozen=True)
class MetadataChange:
    """One of the four `/metadata` changes: replace, merge, clear, or remove one key."""

    values: Metadata = field(default_factory=dict)
    merges: bool = False
    removed_key: str | None = None

    @classmethod
    def replacing(cls, values: Metadata) -> MetadataChange:
        return cls(values=dict(values))

    @classmethod
    def merging(cls, values: Metadata) -> MetadataChange:
        return cls(values=dict(values), merges=True)

    @classmethod
    def clearing(cls) -> MetadataChange:
        return cls()

    @classmethod
    def removing(cls, key: str) -> MetadataChange:
        return cls(removed_key=key)

    def apply(self, current: Metadata | None) -> Metadata:
        """The map after the change; `current` itself is left as it was. A merge is
        checked whole, as Lago validates the record: it may not exceed the key count.
        Removing a key where there is no metadata is "not found", as in Lago."""
        current = current or {}
        if self.removed_key is not None:
            if not current:
                raise NotFound("metadata")
            return {key: value for key, value in current.items() if key != self.removed_key}
        if self.merges:
            return checked({**current, **self.values})
        return dict(self.values)


def metadata_response(values: Metadata | None) -> dict[str, Metadata | None]:
    """What the /metadata routes answer: Lago's null stands for no metadata."""
    return {"metadata": values or None}
