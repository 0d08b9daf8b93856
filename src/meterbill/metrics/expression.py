"""Lago's metric expressions: arithmetic over an event, evaluated at ingestion.

Grammar: numbers, 'strings', event.properties.<name>, event.timestamp, event.code,
+ - * / with the usual precedence, parentheses, unary minus, and the functions
round(x[, digits]), ceil(x), floor(x) and concat(a, b, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Decimal,
    DecimalException,
    InvalidOperation,
)
from typing import Any

from meterbill.core.limits import LARGEST_DECIMAL

Value = Decimal | str
TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<string>'[^']*'|\"[^\"]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(?P<op>[-+*/(),]))"
)


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class EventView:
    code: str
    timestamp: Decimal
    properties: Mapping[str, Any]


Node = Callable[[EventView], Value]


def _tokens(text: str) -> list[tuple[str, str]]:
    position, found = 0, []
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"unexpected character at {position}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def _number(value: Value) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise ExpressionError(f"{value!r} is not a number") from exc
    if not number.is_finite() or number.copy_abs() >= LARGEST_DECIMAL:
        # Nothing could store or bill it; Decimal would also spend its time on it.
        raise ExpressionError(f"{value!r} is out of range")
    return number


def _variable(name: str) -> Node:
    if name == "event.timestamp":
        return lambda event: event.timestamp
    if name == "event.code":
        return lambda event: event.code
    if name.startswith("event.properties.") and name.count(".") == 2:
        key = name.split(".", 2)[2]

        def read(event: EventView) -> Value:
            if key not in event.properties or event.properties[key] is None:
                raise ExpressionError(f"missing variable event.properties.{key}")
            raw = event.properties[key]
            return raw if isinstance(raw, str) else _number(str(raw))

        return read
    raise ExpressionError(f"unknown variable {name}")


def _round(args: list[Value]) -> Value:
    digits = int(_number(args[1])) if len(args) > 1 else 0
    return _number(args[0]).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


FUNCTIONS: dict[str, tuple[int, int, Callable[[list[Value]], Value]]] = {
    "round": (1, 2, _round),
    "ceil": (1, 1, lambda a: _number(a[0]).to_integral_value(rounding=ROUND_CEILING)),
    "floor": (1, 1, lambda a: _number(a[0]).to_integral_value(rounding=ROUND_FLOOR)),
    "concat": (1, 99, lambda a: "".join(str(item) for item in a)),
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value or 'a value'}")
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.sum()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def sum(self) -> Node:
        node = self.product()
        while (token := self.peek()) and token[1] in "+-" and token[0] == "op":
            self.take()
            node = _binary(token[1], node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (token := self.peek()) and token[1] in "*/" and token[0] == "op":
            self.take()
            node = _binary(token[1], node, self.unary())
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token == ("op", "-"):
            self.take()
            inner = self.unary()
            return lambda event: -_number(inner(event))
        return self.atom()

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "number":
            number = Decimal(value)
            return lambda _event: number
        if kind == "string":
            text = value[1:-1]
            return lambda _event: text
        if value == "(":
            node = self.sum()
            self.take(")")
            return node
        if kind == "name" and self.peek() == ("op", "("):
            return self.call(value)
        if kind == "name":
            return _variable(value)
        raise ExpressionError(f"unexpected {value!r}")

    def call(self, name: str) -> Node:
        if name not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name}")
        low, high, function = FUNCTIONS[name]
        self.take("(")
        args = [self.sum()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.sum())
        self.take(")")
        if not low <= len(args) <= high:
            raise ExpressionError(f"{name} takes {low} to {high} arguments")
        return lambda event: function([arg(event) for arg in args])


def _binary(operator: str, left: Node, right: Node) -> Node:
    def apply(event: EventView) -> Value:
        a, b = _number(left(event)), _number(right(event))
        if operator == "+":
            return a + b
        if operator == "-":
            return a - b
        if operator == "*":
            return a * b
        if b == 0:
            raise ExpressionError("division by zero")
        return a / b

    return apply


def compile_expression(text: str) -> Node:
    """Parse once; raises ExpressionError when the text is not a valid expression."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty expression")
    return _Parser(text).parse()


def evaluate(text: str, event: EventView) -> Value:
    try:
        value = compile_expression(text)(event)
    except DecimalException as exc:  # overflow, or a quantize beyond the precision
        raise ExpressionError(str(exc)) from exc
    if isinstance(value, Decimal) and value.copy_abs() >= LARGEST_DECIMAL:
        raise ExpressionError("the result is out of range")
    return value
