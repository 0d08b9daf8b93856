"""The dashboard's first user, made at start-up like the first API key.

METERBILL_ADMIN_EMAIL + METERBILL_ADMIN_PASSWORD make sure that user exists in the
bootstrap organization (idempotent: an existing user is left as it is). With neither
set, a database without users gets one, admin@meterbill.local, whose random password
is logged once beside the dashboard's URL.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.db import Database
from meterbill.core.errors import ValidationFailed
from meterbill.core.times import utc_now
from meterbill.organizations.models import Organization
from meterbill.settings import Settings
from meterbill.users.service import ensure_admin, ensure_first_user, first_organization_id

logger = logging.getLogger("meterbill")
FIRST_USER_EMAIL = "admin@meterbill.local"


def _organization(
    session: Session, settings: Settings, known: uuid.UUID | None
) -> uuid.UUID | None:
    if known is not None:
        return known
    named = session.scalar(
        select(Organization.id)
        .where(Organization.name == settings.org_name)
        .order_by(Organization.created_at, Organization.id)
        .limit(1)
    )
    return named or first_organization_id(session)


def bootstrap_admin(
    db: Database, settings: Settings, organization_id: uuid.UUID | None, dashboard_url: str
) -> None:
    email, password = settings.admin_email, settings.admin_password
    if bool(email) != bool(password):
        logger.warning(
            "METERBILL_ADMIN_EMAIL and METERBILL_ADMIN_PASSWORD go together: no user created"
        )
        return
    now = utc_now()
    with db.transaction() as session:
        organization = _organization(session, settings, organization_id)
        if organization is None:
            return
        if email and password:
            try:
                done = ensure_admin(session, organization, email, password, now)
            except ValidationFailed as exc:
                logger.warning("METERBILL_ADMIN_EMAIL/PASSWORD refused: %s", exc.details)
                return
            if done.action == "created":
                logger.warning("created dashboard user %s: log in at %s", done.email, dashboard_url)
            return
        first = ensure_first_user(session, organization, FIRST_USER_EMAIL, now)
    if first is not None:
        logger.warning(
            "created dashboard user %s; its password is shown this once. Log in at %s with:"
            "\n\n    email    %s\n    password %s\n",
            first.email,
            dashboard_url,
            first.email,
            first.password,
        )
