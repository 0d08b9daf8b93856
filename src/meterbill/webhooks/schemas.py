"""Webhook endpoint requests, and the endpoint and delivery objects."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from meterbill.core.errors import ValidationFailed
from meterbill.core.times import iso_seconds
from meterbill.core.validation import INVALID, MANDATORY, MISSING, Reader
from meterbill.webhooks.models import Webhook, WebhookEndpoint
from meterbill.webhooks.types import EVENT_TYPES

SIGNATURE_ALGOS = ("jwt", "hmac")
URL_MAX = 2_048
# Enough of a receiver's answer to see what it said, not a copy of its error page.
RESPONSE_EXCERPT = 2_000


def valid_url(value: str) -> bool:
    """An absolute http(s) URL with a host, as Lago's UrlValidator accepts."""
    if any(char.isspace() or ord(char) < 32 for char in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - reading it validates it
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_webhook_url(value: Any) -> None:
    """PUT /organizations `webhook_url`: refused as the endpoint would refuse it."""
    if isinstance(value, str) and value and not valid_url(value):
        raise ValidationFailed.single("webhook_url", "url_is_invalid")


def webhook_url(reader: Reader, *, required: bool) -> Any:
    value = reader.string("webhook_url", max_length=URL_MAX, required=required)
    if isinstance(value, str) and not valid_url(value):
        reader.add("webhook_url", "url_is_invalid")
        return MISSING
    if value is None and reader.has("webhook_url") and not required:
        reader.add("webhook_url", MANDATORY)
    return value


def event_types(reader: Reader) -> Any:
    """Lago's normalisation: stripped, lower-cased, blanks dropped, de-duplicated; ["*"]
    (or null) is every type."""
    if not reader.has("event_types"):
        return MISSING
    raw = reader.data["event_types"]
    if raw is None:
        return None
    if not isinstance(raw, list):
        reader.add("event_types", "must_be_array")
        return MISSING
    normalized: list[str] = []
    for item in raw:
        if item is None:
            continue
        text = (item if isinstance(item, str) else json.dumps(item)).strip().lower()
        if text and text not in normalized:
            normalized.append(text)
    if normalized == ["*"]:
        return None
    unknown = [name for name in normalized if name not in EVENT_TYPES]
    if unknown:
        reader.add("event_types", f"contains invalid types: {json.dumps(unknown)}")
        return MISSING
    return normalized


def parse_endpoint(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    """The columns to set; on update, absent keys keep their value."""
    reader = Reader(data)
    values: dict[str, Any] = {"webhook_url": webhook_url(reader, required=creating)}
    algo = reader.string("signature_algo")
    if isinstance(algo, str) and algo not in SIGNATURE_ALGOS:
        reader.add("signature_algo", INVALID)
    elif algo is None:
        algo = MISSING  # null keeps the current one (jwt on create)
    values["signature_algo"] = algo
    values["name"] = reader.string("name", empty_as_null=True)
    values["event_types"] = event_types(reader)
    reader.raise_if_any()
    values = {key: value for key, value in values.items() if value is not MISSING}
    if creating:
        values.setdefault("signature_algo", "jwt")
    return values


def endpoint_object(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "lago_id": str(endpoint.id),
        "lago_organization_id": str(endpoint.organization_id),
        "webhook_url": endpoint.webhook_url,
        "signature_algo": endpoint.signature_algo,
        "name": endpoint.name,
        "event_types": endpoint.event_types,
        "created_at": iso_seconds(endpoint.created_at),
    }


def webhook_object(webhook: Webhook, webhook_url: str) -> dict[str, Any]:
    return {
        "lago_id": str(webhook.id),
        "lago_webhook_endpoint_id": str(webhook.webhook_endpoint_id),
        "webhook_url": webhook_url,
        "webhook_type": webhook.webhook_type,
        "object_type": webhook.object_type,
        "object_id": webhook.object_id,
        "status": webhook.status,
        "retries": webhook.attempts,
        "http_status": webhook.http_status,
        "response": webhook.response,
        "payload": webhook.payload,
        "created_at": iso_seconds(webhook.created_at),
        "updated_at": iso_seconds(webhook.updated_at),
        "last_retried_at": iso_seconds(webhook.last_attempt_at),
        "next_attempt_at": iso_seconds(webhook.next_attempt_at)
        if webhook.status in ("pending", "retrying")
        else None,
    }
