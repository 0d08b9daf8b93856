"""The catalogue lists' search: a term found in a record's name or code."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_


def name_or_code_contains(model: Any, term: str) -> ColumnElement[bool]:
    """Case-insensitive; `%` and `_` in the term are matched as themselves."""
    term = term.lower()
    return or_(
        func.lower(model.name).contains(term, autoescape=True),
        func.lower(model.code).contains(term, autoescape=True),
    )
