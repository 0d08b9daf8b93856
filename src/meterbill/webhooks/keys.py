"""Each organization's signing keys, and the two signatures Lago's receivers verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.webhooks.models import WebhookKeys

RSA_BITS = 2048


def _new_keys(organization_id: uuid.UUID, now: datetime) -> WebhookKeys:
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return WebhookKeys(
        organization_id=organization_id,
        private_key_pem=private_pem,
        public_key_pem=public_pem,
        hmac_key=str(uuid.uuid4()),
        created_at=now,
    )


def organization_keys(session: Session, organization_id: uuid.UUID, now: datetime) -> WebhookKeys:
    """The organization's keys, made on first use (an RSA key costs tens of milliseconds,
    which most organizations, never having an endpoint, need not pay)."""
    found = session.get(WebhookKeys, organization_id)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(_new_keys(organization_id, now))
            session.flush()
    except IntegrityError:
        pass  # another transaction made them first: theirs are the keys
    keys = session.scalar(select(WebhookKeys).where(WebhookKeys.organization_id == organization_id))
    assert keys is not None
    return keys


def public_key_base64(keys: WebhookKeys) -> str:
    """Base64 of the PEM, in lines of 60 characters as Ruby's Base64.encode64 writes it."""
    flat = base64.b64encode(keys.public_key_pem.encode()).decode()
    return "".join(flat[start : start + 60] + "\n" for start in range(0, len(flat), 60))


@lru_cache(maxsize=256)
def _private_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def jwt_signature(private_key_pem: str, body: bytes, issuer: str) -> str:
    """RS256 JWT whose `data` claim is the body string (Lago's X-Lago-Signature for jwt)."""
    claims = {"data": body.decode(), "iss": issuer}
    return jwt.encode(claims, _private_key(private_key_pem), algorithm="RS256")


def hmac_signature(hmac_key: str, body: bytes) -> str:
    """Base64 of HMAC-SHA256 over the body (Lago's X-Lago-Signature for hmac)."""
    digest = hmac.new(hmac_key.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()
