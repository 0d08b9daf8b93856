"""Search conditions that each database runs at its best: a case-insensitive
"contains", and a column in a subquery's rows.

SQLAlchemy's `ilike` becomes `lower(column) LIKE lower(pattern)` on SQLite: a function
call per row that costs a third of a scan of 100,000 invoice numbers. SQLite's own LIKE
already ignores ASCII case, and PostgreSQL has ILIKE: each gets its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler


def escape_like(term: str) -> str:
    """The term as a LIKE pattern's literal part (escape character: backslash)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ContainsIgnoringCase(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], term: str) -> None:
        self.column = column
        self.pattern = literal(f"%{escape_like(term.lower())}%")


def contains_ignoring_case(column: ColumnElement[Any], term: str) -> ColumnElement[bool]:
    """`column` contains `term`, whatever the case (ASCII case only on SQLite)."""
    return ContainsIgnoringCase(column, term)


def name_or_code_contains(model: Any, term: str) -> ColumnElement[bool]:
    """The catalogue lists' search: the term in a record's name or code."""
    return or_(contains_ignoring_case(model.name, term), contains_ignoring_case(model.code, term))


def _parts(element: ContainsIgnoringCase, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    return compiler.process(element.column, **kw), compiler.process(element.pattern, **kw)


@compiles(ContainsIgnoringCase)
def _default(element: ContainsIgnoringCase, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _parts(element, compiler, **kw)
    return f"lower({column}) LIKE {pattern} ESCAPE '\\'"


@compiles(ContainsIgnoringCase, "sqlite")
def _sqlite(element: ContainsIgnoringCase, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _parts(element, compiler, **kw)
    return f"{column} LIKE {pattern} ESCAPE '\\'"


@compiles(ContainsIgnoringCase, "postgresql")
def _postgresql(element: ContainsIgnoringCase, compiler: SQLCompiler, **kw: Any) -> str:
    column, pattern = _parts(element, compiler, **kw)
    return f"{column} ILIKE {pattern} ESCAPE '\\'"


class InSelection(ColumnElement[bool]):
    inherit_cache = True
    type = Boolean()

    def __init__(self, column: ColumnElement[Any], query: Select[Any]) -> None:
        self.column = column
        self.query = query.scalar_subquery()


def in_selection(column: ColumnElement[Any], query: Select[Any]) -> ColumnElement[bool]:
    """`column IN (query)`; on PostgreSQL `column = ANY(ARRAY(query))`, which the planner
    can serve from an index inside an OR (a bitmap of both sides), where an IN subquery
    becomes a test of every row."""
    return InSelection(column, query)


@compiles(InSelection)
def _in_default(element: InSelection, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.query, **kw)}"


@compiles(InSelection, "postgresql")
def _in_postgresql(element: InSelection, compiler: SQLCompiler, **kw: Any) -> str:
    column, query = compiler.process(element.column, **kw), compiler.process(element.query, **kw)
    return f"{column} = ANY(ARRAY{query})"
