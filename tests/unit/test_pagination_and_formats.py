"""Pure pieces of the customer API: pagination meta, formats, field readers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.core.errors import MissingParam, ValidationFailed
from meterbill.core.formats import is_valid_email_list, normalize_country, sanitize_email
from meterbill.core.http import without_nul
from meterbill.core.pagination import PageRequest, build_meta
from meterbill.core.validation import MISSING, Reader, root_object


@given(st.integers(1, 50), st.integers(1, 200), st.integers(1, 10_000))
def test_meta_is_consistent(page: int, per_page: int, total: int) -> None:
    meta = build_meta(page, per_page, total)
    assert meta["total_pages"] == math.ceil(total / per_page)
    assert meta["current_page"] == page
    assert meta["prev_page"] == (page - 1 if page > 1 else None)
    assert (meta["next_page"] is None) == (page >= meta["total_pages"])


def test_empty_meta_has_page_zero() -> None:
    assert build_meta(3, 10, 0)["current_page"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (1, 100)),
        ({"page": "2", "per_page": "7"}, (2, 7)),
        ({"page": "0"}, (1, 100)),
        ({"page": "abc", "per_page": "-1"}, (1, 25)),
        ({"per_page": "0"}, (1, 25)),
        ({"per_page": "1000"}, (1, 1000)),
        # A page of more than 1,000 rows serves 1,000.
        ({"page": "2147483647", "per_page": "99999999999999999999"}, (2**31 - 1, 1000)),
    ],
)
def test_page_request(params: dict[str, str], expected: tuple[int, int]) -> None:
    request = PageRequest.from_query(params)
    assert (request.page, request.per_page) == expected


def test_email_rules() -> None:
    assert sanitize_email(" a\u2013b@x.io\ufeff ") == "a-b@x.io"
    assert is_valid_email_list("a@b.com, c@d.com")
    assert not is_valid_email_list("a@b.com,,c@d.com")
    assert not is_valid_email_list("no-at-sign")


def test_country_rules() -> None:
    assert normalize_country("xk") == "XK"
    assert normalize_country("fr") == "FR"
    assert normalize_country("FRA") is None


def test_reader_distinguishes_missing_from_null() -> None:
    reader = Reader({"a": None, "b": "xy", "n": "12", "bad": True, "big": 2**31})
    assert reader.string("missing") is MISSING
    assert reader.string("a") is None
    assert reader.string("b") == "xy"
    assert reader.integer("n") == 12
    assert reader.integer("bad") is MISSING
    assert reader.integer("big") is MISSING
    assert reader.errors == {"bad": ["value_is_invalid"], "big": ["value_is_out_of_range"]}


def test_nul_bytes_are_stripped_from_body_strings_and_refused_in_keys() -> None:
    body = {"event": {"code": "a\x00", "properties": {"k": ["\x00", {"v": "x\x00y"}]}}}
    assert without_nul(body) == {"event": {"code": "a", "properties": {"k": ["", {"v": "xy"}]}}}
    with pytest.raises(ValidationFailed) as refused:
        without_nul({"event": {"code": "c", "properties": {"k\x00": "v"}}})
    assert refused.value.details == {"properties": ["value_is_invalid"]}
    with pytest.raises(ValidationFailed) as at_root:
        without_nul({"\x00": 1, "b": 2})
    assert at_root.value.details == {"base": ["value_is_invalid"]}


@pytest.mark.parametrize("body", [{}, [], "x", {"customer": "customer"}, {"customer": {}}])
def test_root_object_refuses_missing_roots(body: object) -> None:
    with pytest.raises(MissingParam):
        root_object(body, "customer")
