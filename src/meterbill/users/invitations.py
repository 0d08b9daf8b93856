"""Invitations: a link that lets someone join the organization with a role.

The link carries a random token; only its SHA-256 is stored (a copy of the database
cannot be turned into links). A link lasts seven days and is used once: accepting it
locks its row, creates the member and marks it accepted in one transaction, so two
tabs submitting the same link make one member. Nothing is e-mailed: the admin copies
the link, shown once, and sends it.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.organizations.models import Organization
from meterbill.users.models import Invitation, User
from meterbill.users.roles import ROLES
from meterbill.users.service import (
    check_new_password,
    create_user,
    hash_token,
    normalize_email,
    open_session,
    valid_email,
)

INVITATION_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    # The link's token: shown once, never stored.
    token: str


def invite(
    session: Session,
    organization_id: uuid.UUID,
    email: str,
    role: str,
    invited_by_id: uuid.UUID | None,
    now: datetime,
) -> NewInvitation:
    """A new invitation. 422 on a bad address or role, `email_already_used` when the
    address has an account, `invite_already_exists` when an unexpired invitation for it
    is still open (an expired one is revoked and replaced)."""
    email = normalize_email(email)
    errors: dict[str, list[str]] = {}
    if not valid_email(email):
        errors["email"] = ["invalid_format"]
    if role not in ROLES:
        errors["role"] = ["invalid_value"]
    if errors:
        raise ValidationFailed(errors)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationFailed.single("email", "email_already_used")
    open_one = session.scalar(
        select(Invitation).where(
            Invitation.organization_id == organization_id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    )
    if open_one is not None:
        if open_one.expires_at > now:
            raise ValidationFailed.single("email", "invite_already_exists")
        open_one.revoked_at = now
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        id=uuid.uuid4(),
        organization_id=organization_id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by_id=invited_by_id,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    try:
        with session.begin_nested():
            session.add(invitation)
            session.flush()
    except IntegrityError as exc:
        # Another admin invited the same address at the same moment.
        raise ValidationFailed.single("email", "invite_already_exists") from exc
    return NewInvitation(invitation, token)


def open_invitations(
    session: Session, organization_id: uuid.UUID, page: PageRequest
) -> Page[Invitation]:
    """One page of the invitations not accepted nor revoked (expired ones included: the
    list says so), the newest first."""
    query = (
        select(Invitation)
        .where(
            Invitation.organization_id == organization_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .order_by(Invitation.created_at.desc(), Invitation.email)
    )
    return paginate(session, query, page)


def find_open_invitation(
    session: Session, organization_id: uuid.UUID, invitation_id: str, *, lock: bool = False
) -> Invitation:
    """An open (not accepted, not revoked) invitation of the organization, else 404."""
    try:
        key = uuid.UUID(invitation_id)
    except ValueError:
        raise NotFound("invite") from None
    query = select(Invitation).where(
        Invitation.id == key,
        Invitation.organization_id == organization_id,
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
    )
    invitation = session.scalar(query.with_for_update() if lock else query)
    if invitation is None:
        raise NotFound("invite")
    return invitation


def revoke_invitation(
    session: Session, organization_id: uuid.UUID, invitation_id: str, now: datetime
) -> Invitation:
    """The link stops working. 404 when it is not an open invitation of the organization."""
    invitation = find_open_invitation(session, organization_id, invitation_id, lock=True)
    invitation.revoked_at = now
    session.flush()
    return invitation


@dataclass(frozen=True)
class PendingInvitation:
    """What the invitation page shows before the invitee sets a password."""

    email: str
    role: str
    organization_name: str


class InvitationRefused(Exception):
    """The link cannot be used: `reason` is "unknown", "used", "revoked" or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _usable(session: Session, token: str, now: datetime, *, lock: bool) -> Invitation:
    query = select(Invitation).where(Invitation.token_hash == hash_token(token))
    invitation = session.scalar(query.with_for_update() if lock else query)
    if invitation is None:
        raise InvitationRefused("unknown")
    if invitation.accepted_at is not None:
        raise InvitationRefused("used")
    if invitation.revoked_at is not None:
        raise InvitationRefused("revoked")
    if invitation.expires_at <= now:
        raise InvitationRefused("expired")
    return invitation


def pending_invitation(session: Session, token: str, now: datetime) -> PendingInvitation:
    invitation = _usable(session, token, now, lock=False)
    organization = session.get(Organization, invitation.organization_id)
    assert organization is not None
    return PendingInvitation(invitation.email, invitation.role, organization.name)


def accept_invitation(session: Session, token: str, password: str, now: datetime) -> str:
    """Create the member with the invited role and the chosen password (Lago's password
    rules), use the link up, and open a session: its token, for the cookie.
    InvitationRefused when the link cannot be used; 422 on the password."""
    invitation = _usable(session, token, now, lock=True)
    check_new_password(password)
    user = create_user(
        session, invitation.organization_id, invitation.email, password, now, role=invitation.role
    )
    invitation.accepted_at = now
    session.flush()
    return open_session(session, user, now)
