"""Users: creation, the start-up admin bootstrap, login with lockout, sessions.

Passwords are hashed with argon2id (argon2-cffi's defaults). A session is a random
token in an HttpOnly cookie; the database keeps its SHA-256 only (the token is long
and random, so a fast hash suffices and lets the lookup use the unique index).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.organizations.models import Organization
from meterbill.organizations.service import get_organization
from meterbill.users.models import User, UserSession
from meterbill.users.roles import ROLES, can

SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
PASSWORD_MIN_LENGTH = 8

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so that a wrong address costs as
    much time as a wrong password and the answer's delay tells nothing. Made on first
    use: hashing costs time and memory that a starting server process need not spend."""
    return _hasher.hash("not a password of anyone")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> bool:
    local, _, domain = email.partition("@")
    return bool(local) and "." in domain and " " not in email and len(email) <= 254


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    organization_id: uuid.UUID,
    email: str,
    password: str,
    now: datetime,
    *,
    role: str = "admin",
) -> User:
    """A new user of the organization; 422 on a bad address, a short password or an
    address already taken (one account per address: the login form names no
    organization)."""
    get_organization(session, organization_id)
    email = normalize_email(email)
    if not valid_email(email):
        raise ValidationFailed.single("email", "invalid_format")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationFailed.single("password", "value_is_too_short")
    if role not in ROLES:
        raise ValidationFailed.single("role", "invalid_value")
    user = User(
        id=uuid.uuid4(),
        organization_id=organization_id,
        email=email,
        password_hash=_hasher.hash(password),
        role=role,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise ValidationFailed.single("email", "value_already_exist") from exc
    return user


@dataclass(frozen=True)
class AdminBootstrap:
    """What the start-up bootstrap did: "kept", "created", or "generated" (a new user
    with a one-time password to print)."""

    action: str
    email: str
    password: str | None = None


def ensure_admin(
    session: Session, organization_id: uuid.UUID, email: str, password: str, now: datetime
) -> AdminBootstrap:
    """METERBILL_ADMIN_EMAIL + METERBILL_ADMIN_PASSWORD: make sure the user exists
    (idempotent: an existing user keeps the password it has, as the API key bootstrap
    keeps a key it has seen)."""
    existing = session.scalar(select(User).where(User.email == normalize_email(email)))
    if existing is not None:
        return AdminBootstrap("kept", existing.email)
    user = create_user(session, organization_id, email, password, now)
    return AdminBootstrap("created", user.email)


def ensure_first_user(
    session: Session, organization_id: uuid.UUID, email: str, now: datetime
) -> AdminBootstrap | None:
    """With no admin configured: on a database without users, create one with a random
    one-time password to print once; else nothing."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    try:
        user = create_user(session, organization_id, email, password, now)
    except ValidationFailed:
        # Several processes started at once: another one made the first user meanwhile.
        return None
    return AdminBootstrap("generated", user.email, password)


def first_organization_id(session: Session) -> uuid.UUID | None:
    return session.scalar(
        select(Organization.id).order_by(Organization.created_at, Organization.id).limit(1)
    )


@dataclass(frozen=True)
class LoginResult:
    """A session token for the cookie, or why there is none ("invalid" or "locked")."""

    token: str | None
    refusal: str | None = None


def log_in(session: Session, email: str, password: str, now: datetime) -> LoginResult:
    """Check the password and open a session. The fifth wrong password in a row locks
    the account for 15 minutes, during which even the right one is refused."""
    user = session.scalar(
        select(User).where(User.email == normalize_email(email)).with_for_update()
    )
    if user is None:
        _verify(_dummy_hash(), password)
        return LoginResult(None, "invalid")
    if user.locked_until is not None and user.locked_until > now:
        return LoginResult(None, "locked")
    if not _verify(user.password_hash, password):
        user.failed_logins = 1 if user.locked_until is not None else user.failed_logins + 1
        user.locked_until = None
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
        user.updated_at = now
        return LoginResult(None, "locked" if user.locked_until else "invalid")
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return LoginResult(open_session(session, user, now))


def open_session(session: Session, user: User, now: datetime) -> str:
    """A new session of the user; its token, for the cookie (only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=hash_token(token),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    # Expired sessions of this user go as a new one comes: the table does not grow.
    session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now)
    )
    session.flush()
    return token


# Lago's rules for a password someone chooses (sign-up, invitation, change), each
# unmet one named by its code. Users created otherwise (the start-up bootstrap's
# generated password, tests) need only the length.
PASSWORD_RULES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("value_is_too_short", lambda password: len(password) >= PASSWORD_MIN_LENGTH),
    ("missing_lowercase", lambda password: any(char.islower() for char in password)),
    ("missing_uppercase", lambda password: any(char.isupper() for char in password)),
    ("missing_digit", lambda password: any(char.isdigit() for char in password)),
    ("missing_special_character", lambda password: any(not char.isalnum() for char in password)),
)


def check_new_password(password: str, field: str = "password") -> None:
    """422 listing every rule the chosen password breaks."""
    unmet = [code for code, holds in PASSWORD_RULES if not holds(password)]
    if unmet:
        raise ValidationFailed({field: unmet})


def change_password(
    session: Session,
    user_id: uuid.UUID,
    current_password: str,
    new_password: str,
    keep_session_id: uuid.UUID,
    now: datetime,
) -> None:
    """The user's new password, once the current one is proven; every other session of
    the user ends (a stolen cookie stops working), the one making the change stays."""
    user = session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise NotFound("user")
    if not _verify(user.password_hash, current_password):
        raise ValidationFailed.single("current_password", "invalid_password")
    check_new_password(new_password)
    user.password_hash = _hasher.hash(new_password)
    user.failed_logins = 0
    user.locked_until = None
    user.updated_at = now
    session.execute(
        delete(UserSession).where(UserSession.user_id == user.id, UserSession.id != keep_session_id)
    )
    session.flush()


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class SessionUser:
    """The logged-in user of a request, with what every page needs."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    csrf_token: str
    organization_name: str
    # Dates on pages are shown in it (billing periods in the customer's own).
    organization_timezone: str
    role: str = "admin"

    def can(self, permission: str) -> bool:
        return can(self.role, permission)


def session_user(session: Session, token: str | None, now: datetime) -> SessionUser | None:
    """The user of an unexpired session with this token, else None."""
    if not token:
        return None
    row = session.execute(
        select(
            UserSession.id,
            User.id,
            User.organization_id,
            User.email,
            UserSession.csrf_token,
            Organization.name,
            Organization.timezone,
            User.role,
        )
        .join(User, User.id == UserSession.user_id)
        .join(Organization, Organization.id == User.organization_id)
        .where(UserSession.token_hash == hash_token(token), UserSession.expires_at > now)
    ).first()
    if row is None:
        return None
    return SessionUser(*row)


def log_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(UserSession).where(UserSession.token_hash == hash_token(token)))
