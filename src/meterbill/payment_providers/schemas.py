"""The connection's request and response shapes (a meterbill endpoint: Lago connects
Stripe through its GraphQL API only; the field names follow its addStripePaymentProvider)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

from meterbill.core.times import iso_seconds
from meterbill.core.validation import INVALID, MISSING, Reader
from meterbill.payment_providers.models import PaymentProvider
from meterbill.payment_providers.secrets import masked

PROVIDER_TYPES = ("stripe",)
URL_MAX = 1024
# Secret keys (sk_live_, sk_test_) and restricted keys (rk_...).
SECRET_KEY_PREFIXES = ("sk_", "rk_")


@dataclass(frozen=True)
class ConnectionInput:
    """Only what was sent: absent fields are left as they are on update."""

    fields: dict[str, Any]


def _url(reader: Reader, key: str) -> str | None:
    value = reader.string(key, max_length=URL_MAX, empty_as_null=True)
    if value is MISSING or value is None:
        return None
    parsed = urlparse(value)  # type: ignore[arg-type]
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        reader.add(key, "url_is_invalid")
    return value  # type: ignore[return-value]


def parse_connection(data: dict[str, Any], *, creating: bool) -> ConnectionInput:
    reader = Reader(data)
    fields: dict[str, Any] = {}
    if creating:
        fields["provider_type"] = reader.choice("provider_type", PROVIDER_TYPES) or "stripe"
        fields["code"] = reader.string("code", required=True)
    name = reader.string("name", required=creating)
    if name is not MISSING:
        fields["name"] = name
    secret_key = reader.string("secret_key", required=creating)
    if isinstance(secret_key, str):
        if not secret_key.startswith(SECRET_KEY_PREFIXES) or len(secret_key) < 8:
            reader.add("secret_key", INVALID)
        fields["secret_key"] = secret_key
    if reader.has("webhook_secret"):
        fields["webhook_secret"] = reader.string("webhook_secret", empty_as_null=True)
    if reader.has("success_redirect_url"):
        fields["success_redirect_url"] = _url(reader, "success_redirect_url")
    reader.raise_if_any()
    return ConnectionInput(fields)


def webhook_url(public_url: str, organization_id: uuid.UUID, code: str) -> str:
    """Where this connection's Stripe events are to be sent (README)."""
    return f"{public_url.rstrip('/')}/webhooks/stripe/{organization_id}?code={quote(code)}"


def connection_object(provider: PaymentProvider, public_url: str) -> dict[str, Any]:
    """Secrets are never sent back: four characters of the key show which one it is."""
    return {
        "lago_id": str(provider.id),
        "provider_type": provider.provider_type,
        "code": provider.code,
        "name": provider.name,
        "secret_key": masked(provider.secret_key_last4),
        "webhook_secret_configured": provider.webhook_secret is not None,
        "webhook_endpoint_id": provider.webhook_endpoint_id,
        "webhook_url": webhook_url(public_url, provider.organization_id, provider.code),
        "success_redirect_url": provider.success_redirect_url,
        "created_at": iso_seconds(provider.created_at),
        "updated_at": iso_seconds(provider.updated_at),
    }
