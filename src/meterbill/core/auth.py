"""API keys: generation, hashing, and resolving a request's key to its organization."""

from __future__ import annotations

import hashlib
import secrets
import threading
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
    row = session.execute(
        select(ApiKey.organization_id, ApiKey.expires_at).where(
            ApiKey.key_hash == hash_key(key),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
    ).first()
    if row is None:
        raise Unauthorized()
    return row[0]


class KeyCache:
    """Recently seen API keys, so that a request needs no query to authenticate.

    An entry lives `ttl` seconds (never past the key's own expiry): a key deleted
    in the database keeps working for at most that long in a running process.
    Unknown keys are not cached, so a new key works at once.
    """

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[uuid.UUID, float]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: str, clock: float) -> uuid.UUID | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= clock:
            return None
        return entry[0]

    def remember(self, key: str, organization_id: uuid.UUID, clock: float) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (organization_id, clock + self.ttl)
