"""Webhook endpoints (Lago's rules), the delivery log, manual retry and retention."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, false, func, or_, select
from sqlalchemy.orm import Session

from meterbill.core.db import Database
from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.records import flush_unique, uuid_or_none
from meterbill.webhooks.models import Webhook, WebhookEndpoint
from meterbill.webhooks.outbox import forget_endpoints, materialize

Shown = TypeVar("Shown")

# Lago's WebhookEndpoint::LIMIT.
MAX_ENDPOINTS = 10
# Lago's message, a sentence rather than a code (config/locales/en/webhook_endpoint.yml).
LIMIT_REACHED = "Maximum number of webhook endpoints was reached"
DEFAULT_RETENTION = timedelta(days=90)


def find_endpoint(session: Session, organization_id: uuid.UUID, lago_id: str) -> WebhookEndpoint:
    key = uuid_or_none(lago_id)
    endpoint = session.get(WebhookEndpoint, key) if key else None
    if endpoint is None or endpoint.organization_id != organization_id:
        raise NotFound("webhook_endpoint")
    return endpoint


def create_endpoint(
    session: Session, organization_id: uuid.UUID, values: dict[str, Any], now: datetime
) -> WebhookEndpoint:
    count = session.scalar(
        select(func.count()).where(WebhookEndpoint.organization_id == organization_id)
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise ValidationFailed({"base": [LIMIT_REACHED]})
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(), organization_id=organization_id, created_at=now, updated_at=now,
        **values,
    )  # fmt: skip
    session.add(endpoint)
    flush_unique(session, "webhook_url")
    forget_endpoints(session)
    return endpoint


def update_endpoint(
    session: Session,
    organization_id: uuid.UUID,
    lago_id: str,
    values: dict[str, Any],
    now: datetime,
) -> WebhookEndpoint:
    endpoint = find_endpoint(session, organization_id, lago_id)
    for key, value in values.items():
        setattr(endpoint, key, value)
    endpoint.updated_at = now
    flush_unique(session, "webhook_url")
    forget_endpoints(session)
    return endpoint


def delete_endpoint(session: Session, organization_id: uuid.UUID, lago_id: str) -> WebhookEndpoint:
    """Deletes the endpoint and its delivery records (the foreign key cascades)."""
    endpoint = find_endpoint(session, organization_id, lago_id)
    session.execute(delete(Webhook).where(Webhook.webhook_endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.flush()
    forget_endpoints(session)
    return endpoint


def list_endpoints(
    session: Session, organization_id: uuid.UUID, page: PageRequest
) -> Page[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id)
        .order_by(
            WebhookEndpoint.webhook_url, WebhookEndpoint.created_at.desc(), WebhookEndpoint.id
        )
    )
    return paginate(session, query, page)


def endpoint_urls(session: Session, organization_id: uuid.UUID) -> list[str]:
    """The organization object's `webhook_urls`: the first endpoint's comes first."""
    return list(
        session.scalars(
            select(WebhookEndpoint.webhook_url)
            .where(WebhookEndpoint.organization_id == organization_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
    )


def set_first_endpoint_url(
    session: Session, organization_id: uuid.UUID, url: str | None, now: datetime
) -> None:
    """PUT /organizations `webhook_url`: creates the first endpoint, or changes its URL.

    A null or empty URL leaves the endpoints alone (Lago ignores a blank one).
    """
    if not url:
        return
    first = session.scalar(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        .limit(1)
    )
    if first is None:
        create_endpoint(
            session, organization_id, {"webhook_url": url, "signature_algo": "jwt"}, now
        )
    else:
        update_endpoint(session, organization_id, str(first.id), {"webhook_url": url}, now)


@dataclass(frozen=True)
class WebhookFilters:
    webhook_endpoint_id: uuid.UUID | None = None
    statuses: tuple[str, ...] = ()
    webhook_types: tuple[str, ...] = ()
    object_id: str | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None
    # HTTP status classes (Lago's log filter): "2xx", "3xx", "4xx", "5xx", and "none"
    # for attempts that got no answer (refused, timed out).
    http_statuses: tuple[str, ...] = ()
    # A delivery's id (its unique key) or its object's id, whole.
    search: str | None = None


HTTP_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "none")


def _http_status_condition(classes: tuple[str, ...]) -> Any:
    conditions = []
    for item in classes:
        if item == "none":
            conditions.append(Webhook.http_status.is_(None) & (Webhook.attempts > 0))
        elif item in HTTP_STATUS_CLASSES:
            low = int(item[0]) * 100
            conditions.append(Webhook.http_status.between(low, low + 99))
    return or_(*conditions) if conditions else false()


def list_webhooks(
    session: Session, organization_id: uuid.UUID, filters: WebhookFilters, page: PageRequest
) -> Page[Webhook]:
    """Deliveries, the last written first (the clock's run at an earlier `now` may
    write after a request)."""
    query = select(Webhook).where(Webhook.organization_id == organization_id)
    if filters.webhook_endpoint_id is not None:
        query = query.where(Webhook.webhook_endpoint_id == filters.webhook_endpoint_id)
    if filters.statuses:
        query = query.where(Webhook.status.in_(filters.statuses))
    if filters.webhook_types:
        query = query.where(Webhook.webhook_type.in_(filters.webhook_types))
    if filters.object_id is not None:
        query = query.where(Webhook.object_id == filters.object_id)
    if filters.from_date is not None:
        query = query.where(Webhook.created_at >= filters.from_date)
    if filters.to_date is not None:
        query = query.where(Webhook.created_at < filters.to_date)
    if filters.http_statuses:
        query = query.where(_http_status_condition(filters.http_statuses))
    if filters.search:
        key = uuid_or_none(filters.search)
        by_object = Webhook.object_id == filters.search
        query = query.where(or_(Webhook.id == key, by_object) if key else by_object)
    query = query.order_by(Webhook.ordinal.desc(), Webhook.id)
    return paginate(session, query, page)


def endpoint_url_by_id(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.webhook_url).where(WebhookEndpoint.id.in_(ids))
    )
    return {row.id: row.webhook_url for row in rows}


def read_rendered(db: Database, read: Callable[[Session], tuple[list[Webhook], Shown]]) -> Shown:
    """What `read` answers once every delivery it read has its payload: a deferred one (a
    billing run's, stored without it) is rendered first, as its delivery would render it,
    and read again."""
    for _ in range(2):
        with db.transaction(write=False) as session:
            webhooks, answer = read(session)
            missing = [webhook.id for webhook in webhooks if webhook.payload is None]
        if not missing:
            break
        with db.transaction() as session:
            materialize(session, webhook_ids=missing)
    return answer


def find_webhook(session: Session, organization_id: uuid.UUID, lago_id: str) -> Webhook:
    key = uuid_or_none(lago_id)
    webhook = session.get(Webhook, key) if key else None
    if webhook is None or webhook.organization_id != organization_id:
        raise NotFound("webhook")
    return webhook


def retry_webhook(
    session: Session, organization_id: uuid.UUID, lago_id: str, now: datetime
) -> Webhook:
    """One more attempt at a delivery that has not succeeded, with its stored payload and
    the same unique key, made by the delivery loop (never inside this request)."""
    webhook = find_webhook(session, organization_id, lago_id)
    if webhook.status == "succeeded":
        raise MethodNotAllowed("is_succeeded")
    if webhook.status == "failed":
        webhook.max_attempts = webhook.attempts + 1
        webhook.status = "retrying"
    webhook.next_attempt_at = now
    webhook.updated_at = now
    session.flush()
    return webhook


def purge_webhooks(session: Session, now: datetime, retention: timedelta) -> int:
    """Delete delivery records not touched for `retention` (Lago: 90 days)."""
    result = session.execute(delete(Webhook).where(Webhook.updated_at < now - retention))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
