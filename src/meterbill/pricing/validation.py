"""Checks shared by the charge models' validators.

Every validator returns field -> Lago error codes ({} when valid); the codes of one field
are listed once each, in the order they were found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from meterbill.core.limits import LARGEST_DECIMAL, PRICE_MAX

Errors = dict[str, list[str]]


class ErrorBag:
    def __init__(self) -> None:
        self.errors: Errors = {}

    def add(self, field: str, code: str) -> None:
        codes = self.errors.setdefault(field, [])
        if code not in codes:
            codes.append(code)

    def merge(self, errors: Errors) -> None:
        for field, codes in errors.items():
            for code in codes:
                self.add(field, code)


def is_amount(value: Any) -> bool:
    """A non-negative finite decimal written as a string.

    Lago refuses JSON numbers for prices so that no float parsing ever touches them.
    """
    if not isinstance(value, str):
        return False
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return False
    return number.is_finite() and 0 <= number <= PRICE_MAX


def is_count(value: Any, *, minimum: int) -> bool:
    """A JSON integer (not a boolean, not a float, not a string) of at least `minimum`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def is_blank(value: Any) -> bool:
    """Rails' `blank?`: None, False, an empty or whitespace string, an empty collection."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, Mapping | Sequence):
        return len(value) == 0
    return False


def _bound(value: Any) -> Decimal | None:
    """A tier bound: a JSON number, or a string holding one (Lago reads `to_s`)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() and number.copy_abs() < LARGEST_DECIMAL else None


def validate_ranges(
    properties: Mapping[str, Any], key: str, price_key: str, price_code: str
) -> Errors:
    """Tier lists (billing.md §2.3 tier rules).

    The first tier starts at 0; each next one starts at the previous `to_value` (adjacent
    style) or one after it (classic style); every tier but the last ends after it starts;
    only the last is open-ended. Prices and flat amounts are amount strings.
    """
    bag = ErrorBag()
    ranges = properties.get(key)
    if is_blank(ranges):
        bag.add(key, f"missing_{key}")
        return bag.errors
    if not isinstance(ranges, Sequence) or isinstance(ranges, str):
        bag.add(key, f"invalid_{key}")
        return bag.errors
    previous_to: Decimal | None = None
    for index, item in enumerate(ranges):
        if not isinstance(item, Mapping):
            bag.add(key, f"invalid_{key}")
            continue
        if not is_amount(item.get(price_key)):
            bag.add(price_key, price_code)
        if not is_amount(item.get("flat_amount")):
            bag.add("flat_amount", "invalid_amount")
        if not _bounds_are_valid(item, index == len(ranges) - 1, index == 0, previous_to):
            bag.add(key, f"invalid_{key}")
        # Like Lago, the next tier is checked against this tier's end even if this tier
        # was wrong, so one bad bound is reported once rather than for every tier after.
        previous_to = _bound(item.get("to_value")) or Decimal(0)
    return bag.errors


def _bounds_are_valid(
    item: Mapping[str, Any], last: bool, first: bool, previous_to: Decimal | None
) -> bool:
    start = _bound(item.get("from_value"))
    if start is None:
        return False
    if first:
        if start != 0:
            return False
    elif previous_to is None or start not in (previous_to, previous_to + 1):
        return False
    end_raw = item.get("to_value")
    if last:
        return end_raw is None
    end = _bound(end_raw)
    return end is not None and end > start


def validate_group_keys(properties: Mapping[str, Any]) -> Errors:
    """pricing_group_keys (alias grouped_by) and presentation_group_keys, valid for every
    charge model (Lago's Charges::Validators::BaseService)."""
    bag = ErrorBag()
    # The deprecated alias is the one checked only when the new name is absent.
    field = "grouped_by" if properties.get("pricing_group_keys") is None else "pricing_group_keys"
    keys = properties.get(field)
    if keys is not None and not _is_key_list(keys):
        bag.add(field, "invalid_type")

    raw = properties.get("presentation_group_keys")
    if is_blank(raw):
        return bag.errors
    values: list[str] = []
    well_formed = isinstance(raw, list)
    if well_formed:
        for entry in raw:
            value, entry_ok = _presentation_entry(entry)
            if value is not None:
                values.append(value)
            if not entry_ok:
                # Lago stops at the first malformed entry (Array#all?), so duplicates are
                # only looked for up to it.
                well_formed = False
                break
    if not well_formed:
        bag.add("presentation_group_keys", "invalid_type")
    if isinstance(raw, list | str | Mapping) and len(raw) > 2:
        bag.add("presentation_group_keys", "too_many_keys")
    if len(values) != len(set(values)):
        bag.add("presentation_group_keys", "value_is_duplicated")
    return bag.errors


def _is_key_list(keys: Any) -> bool:
    """A list of non-blank strings; an empty list counts as no grouping."""
    return isinstance(keys, list) and all(isinstance(k, str) and k.strip() for k in keys)


def _presentation_entry(entry: Any) -> tuple[str | None, bool]:
    """The entry's `value` if it is a non-blank string, and whether the whole entry is
    `{value, options?: {display_in_invoice: bool}}`."""
    if not isinstance(entry, Mapping):
        return None, False
    raw_value = entry.get("value")
    value = raw_value if isinstance(raw_value, str) and raw_value.strip() else None
    ok = value is not None and set(entry) <= {"value", "options"}
    if ok and "options" in entry:
        options = entry["options"]
        ok = (
            isinstance(options, Mapping)
            and list(options) == ["display_in_invoice"]
            and isinstance(options["display_in_invoice"], bool)
        )
    return value, ok
