"""The organization's members: who they are, changing a role, removing one.

An organization always keeps an admin (someone must be able to manage members), and
nobody removes themselves (they would lock themselves out mid-request). Both rules hold
under concurrent requests: the admins' rows are locked before counting them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.users.models import User
from meterbill.users.roles import ROLES


def list_members(session: Session, organization_id: uuid.UUID, page: PageRequest) -> Page[User]:
    """One page of the members, the oldest first."""
    query = (
        select(User)
        .where(User.organization_id == organization_id)
        .order_by(User.created_at, User.email)
    )
    return paginate(session, query, page)


def find_member(session: Session, organization_id: uuid.UUID, user_id: str | uuid.UUID) -> User:
    """A member of this organization (another organization's is "not found")."""
    try:
        key = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(user_id)
    except ValueError:
        raise NotFound("user") from None
    user = session.scalar(
        select(User).where(User.id == key, User.organization_id == organization_id)
    )
    if user is None:
        raise NotFound("user")
    return user


def _other_admins(session: Session, organization_id: uuid.UUID, user_id: uuid.UUID) -> int:
    admins = session.scalars(
        select(User.id)
        .where(User.organization_id == organization_id, User.role == "admin")
        .order_by(User.id)
        .with_for_update()
    ).all()
    return len([admin for admin in admins if admin != user_id])


def change_role(
    session: Session, organization_id: uuid.UUID, user_id: str | uuid.UUID, role: str, now: datetime
) -> User:
    """422 `invalid_value` for an unknown role, `last_admin` when it would leave the
    organization without an admin."""
    if role not in ROLES:
        raise ValidationFailed.single("role", "invalid_value")
    user = find_member(session, organization_id, user_id)
    if user.role == role:
        return user
    if user.role == "admin" and _other_admins(session, organization_id, user.id) == 0:
        raise ValidationFailed.single("role", "last_admin")
    user.role = role
    user.updated_at = now
    session.flush()
    return user


def remove_member(
    session: Session,
    organization_id: uuid.UUID,
    user_id: str | uuid.UUID,
    acting_user_id: uuid.UUID,
) -> str:
    """Delete the member (their sessions go with them); their e-mail address, for the
    message. 422 `cannot_remove_yourself` or `last_admin`."""
    user = find_member(session, organization_id, user_id)
    if user.id == acting_user_id:
        raise ValidationFailed.single("base", "cannot_remove_yourself")
    if user.role == "admin" and _other_admins(session, organization_id, user.id) == 0:
        raise ValidationFailed.single("base", "last_admin")
    email = user.email
    session.execute(delete(User).where(User.id == user.id))
    session.flush()
    return email
