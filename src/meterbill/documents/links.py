"""Signed, expiring links to document files: what `file_url` and `xml_url` hold.

A link names the document and an expiry and carries an HMAC of both under the
document's own secret: it grants that one file until then, and holds no API key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from meterbill.documents.models import Document


@dataclass(frozen=True)
class LinkSettings:
    # The absolute address clients reach meterbill at (METERBILL_PUBLIC_URL).
    public_url: str = "http://127.0.0.1:3000"
    lifetime: timedelta = timedelta(days=7)


_settings = LinkSettings()


def configure(settings: LinkSettings) -> None:
    """Set once per process from its settings (create_app, the worker)."""
    global _settings
    _settings = settings


def new_access_key() -> str:
    return secrets.token_hex(32)


def signature(document: Document, kind: str, expires: int) -> str:
    message = f"{document.id}:{kind}:{expires}".encode()
    return hmac.new(document.access_key.encode(), message, hashlib.sha256).hexdigest()


def file_link(document: Document, kind: str, filename: str, now: datetime) -> str:
    """`kind` is pdf or xml."""
    expires = int((now + _settings.lifetime).timestamp())
    query = urlencode({"expires": expires, "signature": signature(document, kind, expires)})
    base = _settings.public_url.rstrip("/")
    return f"{base}/documents/{document.id}/{kind}/{filename}?{query}"


def valid(document: Document, kind: str, expires: int, sent: str, now: datetime) -> bool:
    if expires < now.timestamp():
        return False
    return hmac.compare_digest(signature(document, kind, expires), sent)
