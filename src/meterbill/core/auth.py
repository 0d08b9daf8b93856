"""API keys: generation, hashing, and resolving a request's key to its organization."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from meterbill.core.errors import Unauthorized
from meterbill.organizations.models import ApiKey


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return f"mb_{secrets.token_urlsafe(32)}"


def bearer_token(authorization: str | None) -> str | None:
    """Lago takes the second space-separated word of the header and never checks the first."""
    if not authorization:
        return None
    parts = authorization.split(" ")
    return parts[1] if len(parts) > 1 and parts[1] else None


def organization_for_key(session: Session, key: str | None, now: datetime) -> uuid.UUID:
    if not key:
        raise Unauthorized()
    organization_id = session.scalar(
        select(ApiKey.organization_id).where(
            ApiKey.key_hash == hash_key(key),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
    )
    if organization_id is None:
        raise Unauthorized()
    return organization_id
