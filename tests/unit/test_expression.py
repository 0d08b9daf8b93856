"""Metric expressions: Lago's grammar, evaluated exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.metrics.expression import EventView, ExpressionError, compile_expression, evaluate

EVENT = EventView(code="api", timestamp=Decimal(1704067200), properties={"a": 5, "b": "2.5"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("event.properties.a * event.properties.b + 1", Decimal("13.5")),
        ("(event.properties.a + 1) / 4", Decimal("1.5")),
        ("round(event.properties.b / 3, 2)", Decimal("0.83")),
        ("round(2.5)", Decimal(3)),
        ("ceil(1.2) + floor(1.8)", Decimal(3)),
        ("-event.properties.a", Decimal(-5)),
        ("concat(event.code, '-', event.properties.a)", "api-5"),
        ("event.timestamp", Decimal(1704067200)),
    ],
)
def test_evaluation(text: str, value: object) -> None:
    assert evaluate(text, EVENT) == value


@pytest.mark.parametrize(
    "text", ["", "1 +", "(1", "1 2", "foo(1)", "event.props.a", "round()", "import os", "1; 2"]
)
def test_invalid_expressions(text: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(text)


def test_missing_variable_and_division_by_zero_fail_at_evaluation() -> None:
    for text in ("event.properties.c + 1", "1 / 0"):
        node = compile_expression(text)
        with pytest.raises(ExpressionError):
            node(EVENT)


@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6), st.integers(1, 10**6))
def test_arithmetic_matches_decimal(a: int, b: int, c: int) -> None:
    event = EventView("x", Decimal(0), {"a": a, "b": b, "c": c})
    expected = (Decimal(a) + Decimal(b)) * Decimal(c) - Decimal(a) / Decimal(c)
    result = evaluate(
        "(event.properties.a + event.properties.b) * event.properties.c - "
        "event.properties.a / event.properties.c",
        event,
    )
    assert result == expected
