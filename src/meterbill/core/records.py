"""Lookups and writes every feature does the same way."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound, ValidationFailed

T = TypeVar("T")


def flush_unique(session: Session, field: str) -> None:
    """Flush; a unique index refusing the row becomes 422 `{field: [value_already_exist]}`.

    The savepoint keeps the outer transaction usable (PostgreSQL aborts it otherwise).
    """
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise ValidationFailed.single(field, "value_already_exist") from exc


def uuid_or_none(raw: str) -> uuid.UUID | None:
    """`raw` as a UUID, or None when it is not one (it then names no record)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def key_or_not_found(raw: str, resource: str) -> uuid.UUID:
    """A path's id as a UUID; one that is not a UUID names nothing: 404 `<resource>_not_found`."""
    key = uuid_or_none(raw)
    if key is None:
        raise NotFound(resource)
    return key


def by_id(session: Session, model: type[T], ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, T]:
    """The rows of `model` with these ids, by id, in one query (none when `ids` is empty)."""
    wanted = set(ids)
    if not wanted:
        return {}
    column = model.id  # type: ignore[attr-defined]
    return {row.id: row for row in session.scalars(select(model).where(column.in_(wanted)))}  # type: ignore[attr-defined]


def find_live(
    session: Session, model: type[T], organization_id: uuid.UUID, resource: str, **match: Any
) -> T:
    """The organization's non-deleted record matching `match`, else 404 `<resource>_not_found`."""
    conditions = [
        model.organization_id == organization_id,  # type: ignore[attr-defined]
        model.deleted_at.is_(None),  # type: ignore[attr-defined]
        *(getattr(model, key) == value for key, value in match.items()),
    ]
    record = session.scalar(select(model).where(*conditions))
    if record is None:
        raise NotFound(resource)
    return record
