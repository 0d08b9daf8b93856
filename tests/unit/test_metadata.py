"""The metadata map rules shared by plans, credit notes and wallets (core.metadata)."""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.core.errors import MissingParam, NotFound, ValidationFailed
from meterbill.core.metadata import MetadataChange, body_metadata, checked, fault

CURRENT = {"a": "1", "b": None}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (MetadataChange.replacing({"c": "3"}), {"c": "3"}),
        (MetadataChange.merging({"b": "2", "c": None}), {"a": "1", "b": "2", "c": None}),
        (MetadataChange.clearing(), {}),
        (MetadataChange.removing("a"), {"b": None}),
        (MetadataChange.removing("absent"), {"a": "1", "b": None}),
    ],
)
def test_changes_leave_the_current_map_alone(
    change: MetadataChange, expected: dict[str, Any]
) -> None:
    current = dict(CURRENT)
    assert change.apply(current) == expected
    assert current == CURRENT


def test_changes_of_no_metadata() -> None:
    assert MetadataChange.merging({"a": "1"}).apply(None) == {"a": "1"}
    with pytest.raises(NotFound):
        MetadataChange.removing("a").apply(None)


def test_a_merge_is_checked_whole() -> None:
    fifty = {str(n): None for n in range(50)}
    with pytest.raises(ValidationFailed):
        MetadataChange.merging({"one_more": "x"}).apply(fifty)
    assert MetadataChange.merging({"0": "x"}).apply(fifty) == {**fifty, "0": "x"}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({"a": "1", "b": None}, None),
        ({"k" * 100: "v" * 255, **{str(n): None for n in range(49)}}, None),
        ({"a": 1}, "value_is_invalid"),
        ({"a": {"b": "c"}}, "value_is_invalid"),
        ({1: "a"}, "value_is_invalid"),
        (["a"], "value_is_invalid"),
        ("a", "value_is_invalid"),
        ({str(n): None for n in range(51)}, "too_many_keys"),
        ({"k" * 101: "v"}, "key_too_long"),
        ({"k": "v" * 256}, "value_too_long"),
    ],
)
def test_fault(value: Any, code: str | None) -> None:
    assert fault(value) == code


def test_limits_can_be_left_out() -> None:
    assert fault({"k" * 101: "v" * 256}, limits=False) is None
    assert fault({"a": 1}, limits=False) == "value_is_invalid"


def test_checked_and_body_metadata_refuse() -> None:
    with pytest.raises(ValidationFailed) as refused:
        checked({"a": 1})
    assert refused.value.details == {"metadata": ["value_is_invalid"]}
    assert body_metadata({"metadata": {"a": None}}) == {"a": None}
    for body in ({}, {"metadata": None}, {"metadata": "x"}, [1], None):
        with pytest.raises(MissingParam):
            body_metadata(body)
