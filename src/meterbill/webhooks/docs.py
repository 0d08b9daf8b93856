"""The webhooks part of the API reference."""

from __future__ import annotations

from meterbill.core.apidoc import (
    ANY_OBJECT,
    INT,
    INT_,
    PAGE,
    STR,
    STR_,
    TIME,
    TIME_,
    UUID,
    Reference,
    arr,
    body,
    enum,
    obj,
    op,
    page,
    q,
    ref,
    root,
)
from meterbill.webhooks.models import STATUSES
from meterbill.webhooks.schemas import SIGNATURE_ALGOS
from meterbill.webhooks.types import SENT_TYPES

EVENT_TYPES_SCHEMA = {
    "type": ["array", "null"],
    "items": {"type": "string"},
    "description": 'Webhook types this endpoint receives; null (or ["*"]) means all. '
    "Any of Lago's types is accepted; meterbill sends "
    + ", ".join(f"`{name}`" for name in SENT_TYPES)
    + ".",
}
ENDPOINT = obj(
    "A URL that receives the organization's webhooks.",
    lago_id=UUID,
    lago_organization_id=UUID,
    webhook_url=STR,
    signature_algo=enum(*SIGNATURE_ALGOS),
    name=STR_,
    event_types=EVENT_TYPES_SCHEMA,
    created_at=TIME,
)
ENDPOINT_INPUT = body(
    webhook_url={**STR, "description": "An http(s) URL, unique in the organization."},
    signature_algo={**enum(*SIGNATURE_ALGOS), "description": "jwt (default) or hmac."},
    name=STR_,
    event_types=EVENT_TYPES_SCHEMA,
)
WEBHOOK = obj(
    "One delivery of a webhook to one endpoint; `lago_id` is its X-Lago-Unique-Key.",
    lago_id=UUID,
    lago_webhook_endpoint_id=UUID,
    webhook_url=STR,
    webhook_type=STR,
    object_type=STR,
    object_id=STR_,
    status=enum(*STATUSES),
    retries={**INT, "description": "Attempts made so far."},
    http_status=INT_,
    response={**STR_, "description": "The start of the last answer, or the transport error."},
    payload={**ANY_OBJECT, "description": "The envelope sent, as sent."},
    created_at=TIME,
    updated_at=TIME,
    last_retried_at=TIME_,
    next_attempt_at=TIME_,
)
LAGO_ID = {"lago_id": "The record's lago_id."}
PUBLIC_KEY = root("webhook", obj(public_key={**STR, "description": "Base64 of the PEM."}))

REFERENCE = Reference(
    tag="Webhooks",
    schemas={"WebhookEndpoint": ENDPOINT, "Webhook": WEBHOOK},
    operations={
        ("POST", "/api/v1/webhook_endpoints"): op(
            "Create a webhook endpoint",
            "At most 10 per organization; `webhook_url` is required and unique.",
            root("webhook_endpoint", ref("WebhookEndpoint")),
            request=root("webhook_endpoint", {**ENDPOINT_INPUT, "required": ["webhook_url"]}),
            example={
                "webhook_endpoint": {
                    "webhook_url": "https://example.com/webhooks",
                    "signature_algo": "hmac",
                    "event_types": ["invoice.created"],
                }
            },
        ),
        ("GET", "/api/v1/webhook_endpoints"): op(
            "List webhook endpoints",
            "By URL, then newest first.",
            page("webhook_endpoints", ref("WebhookEndpoint")),
            query=PAGE,
        ),
        ("GET", "/api/v1/webhook_endpoints/{lago_id}"): op(
            "Retrieve a webhook endpoint",
            "One endpoint.",
            root("webhook_endpoint", ref("WebhookEndpoint")),
            path=LAGO_ID,
        ),
        ("PUT", "/api/v1/webhook_endpoints/{lago_id}"): op(
            "Update a webhook endpoint",
            "Changes the fields sent; the others keep their value.",
            root("webhook_endpoint", ref("WebhookEndpoint")),
            request=root("webhook_endpoint", ENDPOINT_INPUT),
            path=LAGO_ID,
        ),
        ("DELETE", "/api/v1/webhook_endpoints/{lago_id}"): op(
            "Delete a webhook endpoint",
            "Deletes the endpoint and its delivery records.",
            root("webhook_endpoint", ref("WebhookEndpoint")),
            path=LAGO_ID,
        ),
        ("GET", "/api/v1/webhooks/json_public_key"): op(
            "Webhook public key",
            "The organization's RSA public key that verifies JWT signatures (RS256).",
            PUBLIC_KEY,
        ),
        ("GET", "/api/v1/webhooks/public_key"): op(
            "Webhook public key (text)",
            "Deprecated by Lago: the same base64 text, served as text/plain.",
            {**STR, "description": "Base64 of the PEM."},
            media_type="text/plain",
        ),
        ("GET", "/api/v1/webhooks"): op(
            "List webhook deliveries",
            "Newest first, with attempts, last HTTP status and answer (not in Lago's REST "
            "API; Lago has it in GraphQL).",
            page("webhooks", ref("Webhook")),
            query=(
                *PAGE,
                q("webhook_endpoint_id", UUID, "Only this endpoint's deliveries."),
                q("status", enum(*STATUSES), "Only deliveries in this status."),
                q("statuses[]", arr(enum(*STATUSES)), "Any of these statuses.", style="form"),
                q("webhook_type", STR, "Only this webhook type."),
                q("webhook_types[]", arr(STR), "Any of these webhook types.", style="form"),
                q("object_id", STR, "Only webhooks about this object (its lago_id)."),
                q("from_date", {"type": "string", "format": "date"}, "Created on or after."),
                q("to_date", {"type": "string", "format": "date"}, "Created on or before."),
            ),
        ),
        ("GET", "/api/v1/webhooks/{lago_id}"): op(
            "Retrieve a webhook delivery",
            "One delivery.",
            root("webhook", ref("Webhook")),
            path=LAGO_ID,
        ),
        ("POST", "/api/v1/webhooks/{lago_id}/retry"): op(
            "Retry a webhook delivery",
            "Sends the stored payload once more with the same unique key, in the background; "
            "405 `is_succeeded` for a delivery that succeeded.",
            root("webhook", ref("Webhook")),
            path=LAGO_ID,
            errors=(405,),
        ),
    },
)
