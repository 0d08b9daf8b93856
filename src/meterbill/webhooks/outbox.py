"""The outbox: a webhook is a row written in the transaction of the change it reports.

A change that rolls back takes its webhooks with it; one that commits has them stored
before anyone could be told, and the delivery loop sends them from the table. Services
call `enqueue` where the change happens, one line each.
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction

from meterbill.core.db import inside_transaction
from meterbill.webhooks.models import Webhook, WebhookEndpoint

logger = logging.getLogger("meterbill.webhooks")

_ENDPOINTS = "meterbill.webhooks.endpoints"
_ORDINAL = "meterbill.webhooks.ordinal"
_PENDING = "meterbill.webhooks.pending"


def _endpoints(session: Session, organization_id: uuid.UUID) -> list[tuple[uuid.UUID, Any]]:
    """The organization's endpoints (id, event_types), read once per transaction: a
    billing run enqueues thousands of webhooks."""
    cache: dict[uuid.UUID, list[tuple[uuid.UUID, Any]]] = session.info.setdefault(_ENDPOINTS, {})
    if organization_id not in cache:
        cache[organization_id] = [
            (row.id, row.event_types)
            for row in session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
                    WebhookEndpoint.organization_id == organization_id
                )
            )
        ]
    return cache[organization_id]


def subscribed(session: Session, organization_id: uuid.UUID, webhook_type: str) -> bool:
    """Whether any endpoint of the organization receives this type (checked before
    work done only to report it)."""
    return any(
        types is None or webhook_type in types
        for _id, types in _endpoints(session, organization_id)
    )


def subscribed_organizations(session: Session, webhook_type: str) -> list[uuid.UUID]:
    """The organizations with an endpoint receiving this type: a clock job that only
    reports reads this small table first, and nothing else when it is empty."""
    rows = session.execute(select(WebhookEndpoint.organization_id, WebhookEndpoint.event_types))
    return sorted(
        {organization for organization, types in rows if types is None or webhook_type in types}
    )


def forget_endpoints(session: Session) -> None:
    """After a change of endpoints in this transaction."""
    session.info.pop(_ENDPOINTS, None)


def render(
    session: Session, object_type: str, objs: list[Any], now: datetime, *, fresh: bool = False
) -> list[dict[str, Any]]:
    """The objects as the API's GET renders them. The renderers live beside each
    feature's routes; they are looked up when webhooks are due, so that the features'
    services can call `enqueue` without importing their own routes."""
    payloads = importlib.import_module("meterbill.webhooks.payloads")
    return payloads.render(session, object_type, objs, now, fresh=fresh)  # type: ignore[no-any-return]


def next_ordinal(session: Session) -> int:
    """A number that grows with every enqueue: changes of one transaction share its
    `now`, and tests run many transactions at one `now`. The process's nanosecond
    clock orders them (an ordering key, not a business time), never going backwards
    within a transaction."""
    ordinal = max(time.time_ns(), session.info.get(_ORDINAL, 0) + 1)
    session.info[_ORDINAL] = ordinal
    return ordinal


@dataclass(frozen=True)
class _Pending:
    organization_id: uuid.UUID
    webhook_type: str
    object_type: str
    obj: Any
    now: datetime
    ordinal: int
    endpoints: list[uuid.UUID]
    # The (sub)transaction it was enqueued in: rolled back, it takes the webhook along.
    transaction: SessionTransaction | None
    # Stored without its payload, rendered later (see `materialize`).
    deferred: bool = False


def enqueue(
    session: Session,
    organization_id: uuid.UUID,
    webhook_type: str,
    object_type: str,
    obj: Any,
    now: datetime,
    *,
    deferred: bool = False,
) -> None:
    """Store one delivery of this webhook per endpoint subscribed to its type.

    `obj` is an already rendered dict, or a record: a record is rendered as the API
    renders it when the transaction commits, once the work that changed it is written
    whole (a billing run writes its invoices in batches), and not at all if the
    savepoint it was enqueued in rolls back. Nothing is rendered or stored for an
    organization without a subscribed endpoint.

    `deferred` (a billing run's thousands of invoices): the rows are stored at commit
    without their payload, which is rendered when the delivery is claimed, or earlier
    by `materialize` when anything is about to change the object: the payload shows
    the object as this transaction left it, and the run does not pay for rendering.
    """
    endpoints = [
        endpoint_id
        for endpoint_id, types in _endpoints(session, organization_id)
        if types is None or webhook_type in types
    ]
    if not endpoints:
        return
    ordinal = next_ordinal(session)
    if isinstance(obj, dict):
        _store(
            session,
            _rows(organization_id, webhook_type, object_type, obj, now, ordinal, endpoints),
        )
        return
    transaction = session.get_nested_transaction() or session.get_transaction()
    pending = _Pending(
        organization_id,
        webhook_type,
        object_type,
        obj,
        now,
        ordinal,
        endpoints,
        transaction,
        deferred,
    )
    session.info.setdefault(_PENDING, []).append(pending)


def emit(
    session: Session, webhook_type: str, record: Any, now: datetime, *, deferred: bool = False
) -> None:
    """`enqueue` for a record of the organization: its object key is the type's first
    word (`invoice.created` carries an `invoice`)."""
    object_type = webhook_type.split(".", 1)[0]
    enqueue(
        session, record.organization_id, webhook_type, object_type, record, now, deferred=deferred
    )


def envelope(
    organization_id: uuid.UUID, webhook_type: str, object_type: str, body: dict[str, Any]
) -> dict[str, Any]:
    return {
        "webhook_type": webhook_type,
        "object_type": object_type,
        "organization_id": str(organization_id),
        object_type: body,
    }


def _rows(
    organization_id: uuid.UUID,
    webhook_type: str,
    object_type: str,
    body: dict[str, Any] | None,
    now: datetime,
    ordinal: int,
    endpoints: list[uuid.UUID],
    object_id: str | None = None,
) -> list[dict[str, Any]]:
    """The outbox rows of one webhook: one delivery per endpoint, one shared envelope
    (none yet for a deferred one)."""
    payload = None
    if body is not None:
        payload = envelope(organization_id, webhook_type, object_type, body)
        object_id = body.get("lago_id") if isinstance(body.get("lago_id"), str) else None
    return [
        {
            "id": uuid.uuid4(),
            "organization_id": organization_id,
            "webhook_endpoint_id": endpoint_id,
            "webhook_type": webhook_type,
            "object_type": object_type,
            "object_id": object_id,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "ordinal": ordinal,
            "updated_at": now,
        }
        for endpoint_id in endpoints
    ]


def _store(session: Session, rows: list[dict[str, Any]]) -> None:
    """Written in one multi-row statement: a billing run stores thousands at its commit."""
    if rows:
        session.execute(insert(Webhook), rows)


@event.listens_for(Session, "before_commit")
def _render_pending(session: Session) -> None:
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    # Items rendered early by `materialize` carry their body already.
    bodies = _render_items(
        session, [item for item in pending if not item.deferred and not isinstance(item.obj, dict)]
    )
    if any(item.deferred for item in pending):
        session.flush()  # the deferred objects' ids
    rows: list[dict[str, Any]] = []
    for item in pending:
        body: dict[str, Any] | None = None
        object_id = None
        if item.deferred:
            object_id = str(item.obj.id)
        else:
            rendered = bodies.get((item.object_type, id(item.obj)))
            body = item.obj if isinstance(item.obj, dict) else rendered
            if body is None:
                continue  # not rendered (logged)
        rows += _rows(
            item.organization_id,
            item.webhook_type,
            item.object_type,
            body,
            item.now,
            item.ordinal,
            item.endpoints,
            object_id,
        )
    _store(session, rows)


def _render_items(session: Session, items: list[_Pending]) -> dict[tuple[str, int], dict[str, Any]]:
    """One render per object, per kind and organization all at once."""
    groups: dict[tuple[str, uuid.UUID, datetime], dict[int, Any]] = {}
    for item in items:
        key = (item.object_type, item.organization_id, item.now)
        groups.setdefault(key, {})[id(item.obj)] = item.obj
    bodies: dict[tuple[str, int], dict[str, Any]] = {}
    for (object_type, _organization, now), objs in groups.items():
        for obj, body in _rendered(session, object_type, list(objs.values()), now):
            bodies[(object_type, id(obj))] = body
    return bodies


def materialize(
    session: Session,
    *,
    object_ids: Iterable[uuid.UUID] | None = None,
    webhook_ids: Iterable[uuid.UUID] | None = None,
) -> None:
    """Render the deferred webhooks of these objects (or these deliveries) now, as the
    objects stand: called before anything changes an object that may have one, and
    by the delivery loop before sending."""
    table = Webhook.__table__
    query = select(
        table.c.id,
        table.c.organization_id,
        table.c.webhook_type,
        table.c.object_type,
        table.c.object_id,
        table.c.created_at,
    ).where(table.c.payload.is_(None))
    if object_ids is not None:
        wanted = {str(key) for key in object_ids}
        if not wanted:
            return
        _render_enqueued_now(session, wanted)
        query = query.where(table.c.object_id.in_(sorted(wanted)))
    if webhook_ids is not None:
        rows = list(webhook_ids)
        if not rows:
            return
        query = query.where(table.c.id.in_(rows))
    _fill_payloads(session, list(session.execute(query)))


def _render_enqueued_now(session: Session, object_ids: set[str]) -> None:
    """Deferred webhooks of these objects enqueued in this transaction and not stored
    yet: rendered now, as the objects stand, and stored at commit like any other."""
    pending: list[_Pending] = session.info.get(_PENDING, [])
    due = [
        item for item in pending if item.deferred and str(getattr(item.obj, "id", "")) in object_ids
    ]
    if not due:
        return
    bodies = _render_items(session, due)
    chosen = {id(item) for item in due}
    session.info[_PENDING] = [
        replace(item, obj=bodies[(item.object_type, id(item.obj))], deferred=False)
        if id(item) in chosen and (item.object_type, id(item.obj)) in bodies
        else item
        for item in pending
    ]


def _fill_payloads(session: Session, rows: list[Any]) -> None:
    """Render stored deferred rows, each object once, and write their envelopes."""
    if not rows:
        return
    payloads = importlib.import_module("meterbill.webhooks.payloads")
    groups: dict[tuple[uuid.UUID, str, datetime], list[Any]] = {}
    for row in rows:
        groups.setdefault((row.organization_id, row.object_type, row.created_at), []).append(row)
    parameters: list[dict[str, Any]] = []
    for (organization_id, object_type, now), group in groups.items():
        model = payloads.MODELS[object_type]
        keys = {uuid.UUID(row.object_id) for row in group}
        # Read as a GET reads it (every relationship current), so rendered as read.
        objs = list(
            session.scalars(
                select(model).where(model.id.in_(keys)).execution_options(populate_existing=True)
            )
        )
        rendered = _rendered(session, object_type, objs, now, fresh=True)
        bodies = {str(obj.id): body for obj, body in rendered}
        for row in group:
            # Gone, or its renderer failed (logged): sent as what is known of it.
            body = bodies.get(row.object_id) or {"lago_id": row.object_id}
            envelope_ = envelope(organization_id, row.webhook_type, object_type, body)
            parameters.append({"b_id": row.id, "b_payload": envelope_})
    table = Webhook.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.payload.is_(None))
        .values(payload=bindparam("b_payload", type_=table.c.payload.type)),
        parameters,
    )


def _rendered(
    session: Session, object_type: str, objs: list[Any], now: datetime, *, fresh: bool = False
) -> list[tuple[Any, dict[str, Any]]]:
    """Rendered together; if that fails, one by one, so that only what cannot be
    rendered is lost."""
    try:
        return list(zip(objs, render(session, object_type, objs, now, fresh=fresh), strict=True))
    except DBAPIError:
        raise  # the transaction is broken: the change itself cannot commit
    except Exception:
        if len(objs) > 1:
            return [
                pair
                for obj in objs
                for pair in _rendered(session, object_type, [obj], now, fresh=fresh)
            ]
        # A renderer's bug must not refuse the change (a billing batch would fail
        # again at every tick): the webhook is lost, loudly.
        logger.exception("%s webhook not rendered", object_type)
        return []


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    pending: list[_Pending] | None = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            item for item in pending if not inside_transaction(item.transaction, previous)
        ]
