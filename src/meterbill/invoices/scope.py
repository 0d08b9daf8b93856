"""Which customer a clock run is limited to: a preview rehearses one customer's billing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, true


@dataclass(frozen=True)
class Scope:
    customer_id: uuid.UUID
    organization_id: uuid.UUID
    # Only these subscriptions (by external id) of the customer, when set.
    external_ids: frozenset[str] | None = None


def within(scope: Scope | None, customer_column: Any) -> ColumnElement[bool]:
    """The condition keeping rows of the scope's customer (everything without a scope)."""
    return true() if scope is None else customer_column == scope.customer_id


def within_subscriptions(scope: Scope | None, model: Any) -> ColumnElement[bool]:
    """The condition keeping the scope's subscriptions (all of them without a scope)."""
    if scope is None:
        return true()
    if scope.external_ids is None:
        return model.customer_id == scope.customer_id
    return and_(model.customer_id == scope.customer_id, model.external_id.in_(scope.external_ids))
