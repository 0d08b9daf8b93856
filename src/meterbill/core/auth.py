"""API keys: generation, hashing, and resolving a request's key to its organization."""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
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


# A key's `last_used_at` is written at most this often: authentication reads, and only a
# key whose recorded use is older than this costs a write (see KeyUse).
KEY_USE_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class KeyUse:
    """A key found in the database: its organization, and whether its recorded last use
    is stale (then `note_key_use` should record this one)."""

    organization_id: uuid.UUID
    key_id: uuid.UUID
    stale: bool


def key_use(session: Session, key: str | None, now: datetime) -> KeyUse:
    if not key:
        raise Unauthorized()
    row = session.execute(
        select(ApiKey.organization_id, ApiKey.id, ApiKey.last_used_at).where(
            ApiKey.key_hash == hash_key(key),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
        )
    ).first()
    if row is None:
        raise Unauthorized()
    stale = row.last_used_at is None or row.last_used_at <= now - KEY_USE_PRECISION
    return KeyUse(row.organization_id, row.id, stale)


def note_key_use(session: Session, key_id: uuid.UUID, now: datetime) -> None:
    """Record a use; the condition makes concurrent requests (or processes) write once."""
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - KEY_USE_PRECISION),
        )
        .values(last_used_at=now)
    )


class KeyCache:
    """Recently seen API keys, so that a request needs no query to authenticate.

    An entry lives `ttl` seconds (never past the key's own expiry): a key deleted
    in the database keeps working for at most that long in a running process.
    Unknown keys are not cached, so a new key works at once. A key's last use is
    recorded when the cache misses (core.http), so a key in steady use has its
    `last_used_at` at most a minute plus `ttl` old.
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

    def clear(self) -> None:
        """Forget every key (a key was revoked here: it must stop working at once)."""
        with self._lock:
            self._entries.clear()

    def remember(self, key: str, organization_id: uuid.UUID, clock: float) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (organization_id, clock + self.ttl)
