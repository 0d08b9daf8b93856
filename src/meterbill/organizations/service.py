"""Organizations: creation, the start-up bootstrap key, settings, further API keys."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.auth import generate_key, hash_key
from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.records import uuid_or_none
from meterbill.organizations.models import ApiKey, Organization


def document_prefix(name: str, organization_id: uuid.UUID) -> str:
    """Lago's default: three letters of the name and the last four of the id, upper-cased."""
    letters = re.sub(r"[^A-Za-z0-9]", "", name)[:3].upper() or "ORG"
    return f"{letters}-{organization_id.hex[-4:].upper()}"


def billing_entity_code(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "default"


def get_organization(session: Session, organization_id: uuid.UUID) -> Organization:
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFound("organization")
    return organization


def create_organization(session: Session, name: str, now: datetime) -> Organization:
    organization_id = uuid.uuid4()
    organization = Organization(
        id=organization_id,
        name=name,
        billing_entity_code=billing_entity_code(name),
        document_number_prefix=document_prefix(name, organization_id),
        document_numbering="per_customer",
        timezone="UTC",
        default_currency="USD",
        net_payment_term=0,
        invoice_grace_period=0,
        document_locale="en",
        finalize_zero_amount_invoice=True,
        email_settings=[],
        created_at=now,
        updated_at=now,
    )
    session.add(organization)
    session.flush()
    return organization


KEY_NAME_MAX = 255


def add_api_key(
    session: Session,
    organization_id: uuid.UUID,
    now: datetime,
    key: str | None = None,
    name: str | None = None,
) -> str:
    """Store a key's hash and return the key itself, which is never readable again."""
    key = key or generate_key()
    session.add(
        ApiKey(
            organization_id=organization_id,
            key_hash=hash_key(key),
            token_hint=key[-4:],
            name=name,
            created_at=now,
        )
    )
    session.flush()
    return key


def list_api_keys(session: Session, organization_id: uuid.UUID) -> list[ApiKey]:
    """The organization's keys, the oldest first (as Lago lists them)."""
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.organization_id == organization_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
    )


def create_api_key(
    session: Session, organization_id: uuid.UUID, name: str, now: datetime
) -> tuple[ApiKey, str]:
    """A new named key: the stored record and the key itself (to show once)."""
    name = name.strip()
    if not name:
        raise ValidationFailed.single("name", "value_is_mandatory")
    if len(name) > KEY_NAME_MAX:
        raise ValidationFailed.single("name", "value_is_too_long")
    key = add_api_key(session, organization_id, now, name=name)
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    assert record is not None
    return record, key


def revoke_api_key(session: Session, organization_id: uuid.UUID, key_id: str) -> ApiKey:
    """Delete a key: requests with it are refused from then on. The organization's last
    key cannot go (Lago refuses it too): nobody could call the API any more."""
    key_uuid = uuid_or_none(key_id)
    record = session.get(ApiKey, key_uuid) if key_uuid else None
    if record is None or record.organization_id != organization_id:
        raise NotFound("api_key")
    # Locks the organization's row so two revokes at once cannot remove the last two keys.
    session.scalar(
        select(Organization.id).where(Organization.id == organization_id).with_for_update()
    )
    count = session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.organization_id == organization_id)
    )
    if (count or 0) <= 1:
        raise MethodNotAllowed("last_api_key")
    session.delete(record)
    session.flush()
    return record


@dataclass(frozen=True)
class Bootstrapped:
    """What the start-up bootstrap did with METERBILL_API_KEY."""

    organization_id: uuid.UUID
    # "kept" (the key was there), "attached" (to the organization of that name) or "created"
    action: str


def ensure_bootstrap_organization(
    session: Session, api_key: str, name: str, now: datetime
) -> Bootstrapped:
    """The organization that owns `api_key`, as Lago's bootstrap does it (idempotent).

    A key seen before is kept. A new key is attached to the (oldest) organization named
    `name`, which is created only when there is none: a key given to a database that
    already has organizations never creates a second one silently.
    """
    existing = _key_owner(session, api_key)
    if existing is not None:
        return Bootstrapped(existing, "kept")
    try:
        with session.begin_nested():
            organization = session.scalar(
                select(Organization)
                .where(Organization.name == name)
                .order_by(Organization.created_at, Organization.id)
                .limit(1)
            )
            action = "attached"
            if organization is None:
                organization, action = create_organization(session, name, now), "created"
            add_api_key(session, organization.id, now, api_key)
            return Bootstrapped(organization.id, action)
    except IntegrityError:
        # Another process bootstrapped the same key at the same moment (what this one
        # created is rolled back with the savepoint).
        owner = _key_owner(session, api_key)
        assert owner is not None
        return Bootstrapped(owner, "kept")


def _key_owner(session: Session, api_key: str) -> uuid.UUID | None:
    return session.scalar(
        select(ApiKey.organization_id).where(ApiKey.key_hash == hash_key(api_key))
    )


def ensure_first_organization(session: Session, name: str, now: datetime) -> str | None:
    """On an empty database, create an organization and return its new key; else None."""
    if session.scalar(select(Organization.id).limit(1)) is not None:
        return None
    organization = create_organization(session, name, now)
    return add_api_key(session, organization.id, now)


def update_organization(
    session: Session, organization_id: uuid.UUID, values: dict[str, Any], now: datetime
) -> Organization:
    organization = get_organization(session, organization_id)
    for key, value in values.items():
        setattr(organization, key, value)
    organization.updated_at = now
    session.flush()
    return organization
