"""Settings › Members and Your account: invite a member by link (shown once, stored as
a SHA-256, seven days, used once), join from the link in a fresh browser with the
invited role and what that role may and may not do, roles changed, members removed
(never yourself, never the last admin), the current user's password."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.core.errors import ValidationFailed
from meterbill.users.members import remove_member
from meterbill.users.models import Invitation, User
from tests.conftest import Org
from tests.dashboard.conftest import PASSWORD, Clock, csrf_of, log_in, make_user
from tests.dashboard_settings.conftest import error_under, post

STRONG = "Str0ng&Secret"
LINK = re.compile(r'id="invitation-link" type="text" class="mono" value="([^"]+)"')


def invite(client: TestClient, email: str, role: str) -> str:
    """Invite through the form; the link shown once."""
    response = post(client, "/settings/members/invite", {"email": email, "role": role})
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    match = LINK.search(page.text)
    assert match, page.text
    return match.group(1)


def fresh_client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://testserver")


def join(app: FastAPI, link: str, password: str = STRONG) -> tuple[TestClient, object]:
    browser = fresh_client(app)
    path = link.removeprefix("http://testserver")
    page = browser.get(path)
    response = browser.post(
        path,
        data={
            "csrf_token": csrf_of(page.text),
            "password": password,
            "password_confirmation": password,
        },
        follow_redirects=False,
    )
    return browser, response


def test_a_finance_member_joins_by_link_and_may_do_what_finance_may(
    client: TestClient, dashboard_app: FastAPI, database: Database, org: Org, clock: Clock
) -> None:
    email = f"fin-{org.id.hex[:10]}@example.test"
    link = invite(client, email.upper(), "finance")
    token = link.rsplit("/", 1)[1]
    assert link == f"http://testserver/invitation/{token}" and len(token) >= 40

    # Shown once: the same page opened again cannot show it.
    [invitation_id] = re.findall(r"/settings/members/invitations/([0-9a-f-]{36})/revoke",
                                 client.get("/settings/members").text)  # fmt: skip
    again = client.get(f"/settings/members/invitations/{invitation_id}").text
    assert token not in again and "cannot be shown again" in again
    members = client.get("/settings/members").text
    assert email in members and "Finance" in members
    # Only a SHA-256 of the token is stored.
    with database.transaction(write=False) as session:
        stored = session.scalar(select(Invitation).where(Invitation.email == email))
        assert stored is not None
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert (stored.role, stored.expires_at - stored.created_at) == (
            "finance",
            timedelta(days=7),
        )

    # The invitee's page: no login, the organization, the address and the role.
    browser = fresh_client(dashboard_app)
    page = browser.get(f"/invitation/{token}")
    assert page.status_code == 200
    assert "Join Acme Corp" in page.text and f'value="{email}"' in page.text
    assert "invited as <strong>finance</strong>" in page.text
    weak = browser.post(
        f"/invitation/{token}",
        data={
            "csrf_token": csrf_of(page.text),
            "password": "short",
            "password_confirmation": "short",
        },
        follow_redirects=False,
    )
    assert weak.status_code == 422
    assert error_under(weak.text, "password") == (
        "Your password needs at least 8 characters, an uppercase letter, a digit and a "
        "special character."
    )

    stale = fresh_client(dashboard_app)
    stale_page = stale.get(f"/invitation/{token}")
    browser, joined = join(dashboard_app, link)
    assert (joined.status_code, joined.headers["location"]) == (303, "/customers")
    with database.transaction(write=False) as session:
        member = session.scalar(select(User).where(User.email == email))
        assert member is not None and member.role == "finance"

    # Logged in as finance at once: what finance may open, and what it may not.
    home = browser.get("/customers")
    assert home.status_code == 200 and "Welcome! You have joined the organization" in home.text
    nav = home.text[home.text.index('class="org-name"') : home.text.index("</nav>")]
    assert '<a href="/analytics"' in nav and '<a href="/settings"' in nav
    assert "/developers" not in nav
    assert browser.get("/invoices").status_code == 200
    assert browser.get("/settings/invoices").status_code == 200
    assert browser.get("/customers/new").status_code == 403
    assert browser.get("/settings/members").status_code == 403
    assert browser.get("/settings/members/invite").status_code == 403
    forged = post(browser, "/settings/members/invite", {"email": "x@example.test", "role": "admin"})
    assert forged.status_code == 403
    with database.transaction(write=False) as session:
        assert (
            session.scalar(select(Invitation).where(Invitation.email == "x@example.test")) is None
        )

    # The chosen password logs in later; the link is used up.
    other = fresh_client(dashboard_app)
    assert log_in(other, email, STRONG).status_code == 303
    used = fresh_client(dashboard_app).get(f"/invitation/{token}")
    assert used.status_code == 410 and "This invitation has already been used" in used.text
    # A second tab that opened the link before it was used cannot use it again.
    replay = stale.post(
        f"/invitation/{token}",
        data={"csrf_token": csrf_of(stale_page.text), "password": STRONG,
              "password_confirmation": STRONG},
        follow_redirects=False,
    )  # fmt: skip
    assert replay.status_code == 410


def test_an_expired_or_revoked_invitation_is_refused(
    client: TestClient, dashboard_app: FastAPI, clock: Clock, org: Org, user: str
) -> None:
    late = invite(client, f"late-{org.id.hex[:10]}@example.test", "manager")
    revoked = invite(client, f"gone-{org.id.hex[:10]}@example.test", "manager")
    anonymous = fresh_client(dashboard_app)

    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    form = anonymous.get(late.removeprefix("http://testserver"))
    assert form.status_code == 200
    clock.advance(timedelta(seconds=1))
    expired = anonymous.get(late.removeprefix("http://testserver"))
    assert expired.status_code == 410 and "This invitation has expired" in expired.text
    # The form opened a second before expiry is refused once it has passed.
    joined = anonymous.post(
        late.removeprefix("http://testserver"),
        data={"csrf_token": csrf_of(form.text), "password": STRONG,
              "password_confirmation": STRONG},
        follow_redirects=False,
    )  # fmt: skip
    assert joined.status_code == 410
    log_in(client, user)  # the admin's session has expired meanwhile (12 hours)
    assert "Expired" in client.get("/settings/members").text

    page = client.get("/settings/members").text
    ids = re.findall(r"/settings/members/invitations/([0-9a-f-]{36})/revoke", page)
    for invitation_id in ids:
        response = post(client, f"/settings/members/invitations/{invitation_id}/revoke")
        assert response.status_code == 303
    refused = anonymous.get(revoked.removeprefix("http://testserver"))
    assert refused.status_code == 410 and "This invitation has been revoked" in refused.text
    assert "No open invitations" in client.get("/settings/members").text
    assert anonymous.get("/invitation/not-a-token").status_code == 404

    # An expired address may be invited again; a revoked one too.
    assert invite(client, f"late-{org.id.hex[:10]}@example.test", "finance")


def test_invitations_that_cannot_be_made_are_explained(
    client: TestClient, user: str, org: Org
) -> None:
    email = f"twice-{org.id.hex[:10]}@example.test"
    invite(client, email, "manager")
    cases = [
        ({"email": email, "role": "finance"},
         "email", "An invitation is already open for this email: revoke it to invite again."),
        ({"email": user, "role": "finance"}, "email", "This email already belongs to a member."),
        ({"email": "nope", "role": "finance"},
         "email", "This value is not an email address, please enter a valid email."),
        ({"email": "new@example.test", "role": "owner"}, "role", "Choose a role from the list."),
    ]  # fmt: skip
    for data, field, message in cases:
        response = post(client, "/settings/members/invite", data)
        assert response.status_code == 422
        assert error_under(response.text, field) == message
        assert f'value="{data["email"]}"' in response.text


def test_a_member_s_role_changes_and_the_last_admin_stays(
    client: TestClient, dashboard_app: FastAPI, database: Database, org: Org, user: str
) -> None:
    manager = make_user(database, org, f"mgr-{org.id.hex[:10]}@example.test", "manager")
    with database.transaction(write=False) as session:
        ids = {
            u.email: str(u.id)
            for u in session.scalars(select(User).where(User.organization_id == org.id))
        }

    response = post(client, f"/settings/members/{ids[manager]}/role", {"role": "finance"})
    assert response.status_code == 303
    assert f"{manager} is now finance" in client.get("/settings/members").text
    other = fresh_client(dashboard_app)
    log_in(other, manager)
    assert other.get("/settings/invoices").status_code == 200

    alone = post(client, f"/settings/members/{ids[user]}/role", {"role": "manager"})
    assert alone.status_code == 422
    assert "The organization must keep at least one admin." in alone.text
    bad = post(client, f"/settings/members/{ids[manager]}/role", {"role": "owner"})
    assert bad.status_code == 422 and "Choose a role from the list." in bad.text
    # With a second admin, the first may step down.
    post(client, f"/settings/members/{ids[manager]}/role", {"role": "admin"})
    assert (
        post(client, f"/settings/members/{ids[user]}/role", {"role": "finance"}).status_code == 303
    )
    with database.transaction(write=False) as session:
        roles = {
            u.email: u.role
            for u in session.scalars(select(User).where(User.organization_id == org.id))
        }
    assert roles == {user: "finance", manager: "admin"}


def test_a_member_is_removed_but_never_oneself_nor_the_last_admin(
    client: TestClient, dashboard_app: FastAPI, database: Database, org: Org, user: str
) -> None:
    leaving = make_user(database, org, f"bye-{org.id.hex[:10]}@example.test", "manager")
    with database.transaction(write=False) as session:
        ids = {
            u.email: u.id
            for u in session.scalars(select(User).where(User.organization_id == org.id))
        }
    their_browser = fresh_client(dashboard_app)
    log_in(their_browser, leaving)
    assert their_browser.get("/customers").status_code == 200

    dialog = client.get(f"/settings/members/{ids[leaving]}/remove")
    assert dialog.status_code == 200 and f"Remove {leaving}?" in dialog.text
    response = post(client, f"/settings/members/{ids[leaving]}/remove")
    assert (response.status_code, response.headers["location"]) == (303, "/settings/members")
    page = client.get("/settings/members").text
    assert f"{leaving} was removed" in page
    assert f"<td>{leaving}" not in page
    # Their session ended with them.
    assert their_browser.get("/customers", follow_redirects=False).status_code == 303

    mine = post(client, f"/settings/members/{ids[user]}/remove")
    assert mine.status_code == 422 and "You cannot remove yourself." in mine.text
    assert f"/settings/members/{ids[user]}/remove" not in client.get("/settings/members").text
    with database.transaction() as session, pytest.raises(ValidationFailed) as refused:
        remove_member(session, org.id, ids[user], ids[leaving])
    assert refused.value.details == {"base": ["last_admin"]}
    assert post(client, "/settings/members/not-a-uuid/remove").status_code == 404


def test_the_password_changes_and_other_sessions_end(
    client: TestClient, dashboard_app: FastAPI, user: str
) -> None:
    elsewhere = fresh_client(dashboard_app)
    log_in(elsewhere, user)
    assert elsewhere.get("/customers").status_code == 200

    def change(current: str, new: str, confirmation: str | None = None) -> object:
        return post(client, "/settings/account/password", {
            "current_password": current, "password": new,
            "password_confirmation": new if confirmation is None else confirmation,
        })  # fmt: skip

    wrong = change("not my password", STRONG)
    assert wrong.status_code == 422
    assert error_under(wrong.text, "current_password") == "This is not your current password."
    weak = change(PASSWORD, "weakpassword")
    assert weak.status_code == 422
    assert error_under(weak.text, "password") == (
        "Your password needs an uppercase letter, a digit and a special character."
    )
    mismatch = change(PASSWORD, STRONG, STRONG + "x")
    assert error_under(mismatch.text, "password_confirmation") == "The two passwords are different."
    # Nothing changed so far: the other session still works.
    assert elsewhere.get("/customers").status_code == 200

    done = change(PASSWORD, STRONG)
    assert (done.status_code, done.headers["location"]) == (303, "/settings/account")
    assert (
        "Password changed; your other sessions were logged out"
        in client.get("/settings/account").text
    )
    assert elsewhere.get("/customers", follow_redirects=False).status_code == 303
    assert log_in(fresh_client(dashboard_app), user, PASSWORD).status_code == 422
    assert log_in(fresh_client(dashboard_app), user, STRONG).status_code == 303


def test_members_and_invitations_are_listed_by_pages_of_20(
    client: TestClient, database: Database, org: Org, user: str
) -> None:
    for number in range(24):
        make_user(database, org, f"m{number:02d}-{org.id.hex[:8]}@example.test", "manager")
    first = client.get("/settings/members").text
    assert first.count('action="/settings/members/') - first.count("/revoke") == 20
    assert "Page 1 of 2" in first and 'href="/settings/members?page=2"' in first
    second = client.get("/settings/members?page=2").text
    # 25 members: the admin and 24 managers, the oldest first (same instant: by e-mail).
    assert "Page 2 of 2" in second
    assert f"m23-{org.id.hex[:8]}@example.test" in second
    assert f"m03-{org.id.hex[:8]}@example.test" not in second
    assert client.get("/settings/members?page=junk").status_code == 200
