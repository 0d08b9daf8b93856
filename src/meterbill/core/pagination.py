"""Lago's page/per_page pagination and its `meta` object."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

DEFAULT_PER_PAGE = 100
# Kaminari's own default, which Lago falls back to for an unusable per_page.
FALLBACK_PER_PAGE = 25
# A larger page or per_page is read as this: (page - 1) * per_page stays a 64-bit
# OFFSET, and the meta's numbers stay within the 64 bits orjson writes.
LARGEST = 2**31 - 1

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> PageRequest:
        return cls(page=_page(params.get("page")), per_page=_per_page(params.get("per_page")))


def _as_int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return min(int(raw.strip()), LARGEST)
    except ValueError:
        return None


def _page(raw: str | None) -> int:
    value = _as_int(raw)
    return value if value is not None and value > 0 else 1


def _per_page(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PER_PAGE
    value = _as_int(raw)
    # Lago divides by zero on per_page=0; the fallback is the sane reading of it.
    return value if value is not None and value > 0 else FALLBACK_PER_PAGE


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    meta: dict[str, Any]


def build_meta(page: int, per_page: int, total_count: int) -> dict[str, Any]:
    if total_count == 0:
        return {
            "current_page": 0,
            "next_page": None,
            "prev_page": None,
            "total_pages": 0,
            "total_count": 0,
        }
    total_pages = math.ceil(total_count / per_page)
    return {
        "current_page": page,
        "next_page": page + 1 if page < total_pages else None,
        "prev_page": page - 1 if page > 1 else None,
        "total_pages": total_pages,
        "total_count": total_count,
    }


def paginate(session: Session, query: Select[tuple[T]], request: PageRequest) -> Page[T]:
    """Run `query` (already ordered) for one page and count the whole result."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = (
        session.scalars(query.limit(request.per_page).offset((request.page - 1) * request.per_page))
        .unique()
        .all()
        if total
        else []
    )
    return Page(items=items, meta=build_meta(request.page, request.per_page, total))


def page_of(items: Sequence[T], request: PageRequest) -> Page[T]:
    """One page of an already loaded list (a plan's charges, a charge's filters)."""
    start = (request.page - 1) * request.per_page
    return Page(
        items=items[start : start + request.per_page],
        meta=build_meta(request.page, request.per_page, len(items)),
    )
