"""Who may enter the dashboard: login, lockout, sessions and their expiry, logout,
CSRF, another organization's records, error pages and security headers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.users.models import User, UserSession
from tests.conftest import Org, make_org
from tests.dashboard.conftest import Clock, csrf_of, log_in, make_user


def api(client: TestClient, org: Org, external_id: str, **fields: object) -> str:
    """A customer made through the API of the same app; returns its lago_id."""
    response = client.post(
        "/api/v1/customers",
        json={"customer": {"external_id": external_id, **fields}},
        headers={"Authorization": f"Bearer {org.api_key}"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["customer"]["lago_id"])


def test_pages_need_a_login(browser_client: TestClient) -> None:
    response = browser_client.get("/customers?search=acme", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/login?next=/customers%3Fsearch%3Dacme",
    )
    htmx = browser_client.get("/customers", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["HX-Redirect"] == "/login?next=/customers"
    assert browser_client.get("/", follow_redirects=False).headers["location"] == "/customers"


def test_login_goes_back_where_it_was_asked_and_never_off_site(
    browser_client: TestClient, user: str
) -> None:
    page = browser_client.get("/login?next=/invoices")
    response = browser_client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.text),
            "email": user.upper(),
            "password": "correct horse battery",
            "next": "/invoices",
        },
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (303, "/invoices")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
    evil = browser_client.get("/login?next=//evil.test/x")
    assert 'name="next" value="/customers"' in evil.text


def test_wrong_password_then_lockout_then_time_passes(
    browser_client: TestClient, user: str, clock: Clock
) -> None:
    for _ in range(4):
        refused = log_in(browser_client, user, "wrong password")
        assert refused.status_code == 422
        assert "Sorry, that email and password combination is incorrect." in refused.text
    fifth = log_in(browser_client, user, "wrong password")
    assert "locked for 15 minutes" in fifth.text
    # Locked: the right password is refused too, until 15 minutes have passed.
    assert "locked for 15 minutes" in log_in(browser_client, user).text
    clock.advance(timedelta(minutes=14, seconds=59))
    assert log_in(browser_client, user).status_code == 422
    clock.advance(timedelta(seconds=1))
    assert log_in(browser_client, user).status_code == 303


def test_unknown_email_is_refused_like_a_wrong_password(browser_client: TestClient) -> None:
    refused = log_in(browser_client, "nobody@example.test")
    assert refused.status_code == 422
    assert "Sorry, that email and password combination is incorrect." in refused.text


def test_login_form_without_its_token_is_refused(browser_client: TestClient, user: str) -> None:
    response = browser_client.post(
        "/login",
        data={"email": user, "password": "correct horse battery"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "mb_session" not in response.headers.get("set-cookie", "")


def test_session_expires_after_12_hours(client: TestClient, clock: Clock) -> None:
    assert client.get("/customers").status_code == 200
    clock.advance(timedelta(hours=11, minutes=59))
    assert client.get("/customers").status_code == 200
    clock.advance(timedelta(minutes=1))
    response = client.get("/customers", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/customers")


def test_logout_ends_the_session(client: TestClient, database: Database, user: str) -> None:
    token = client.cookies.get("mb_session")
    page = client.get("/customers")
    response = client.post(
        "/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    # The cookie copied before logging out no longer opens anything.
    client.cookies.set("mb_session", token)
    assert client.get("/customers", follow_redirects=False).status_code == 303
    with database.transaction(write=False) as session:
        user_id = session.scalar(select(User.id).where(User.email == user))
        assert (
            session.scalars(select(UserSession).where(UserSession.user_id == user_id)).all() == []
        )


def test_csrf_refusal(client: TestClient, org: Org) -> None:
    body = {"external_id": "cus_csrf", "name": "Sneaky"}
    assert client.post("/customers/new", data=body, follow_redirects=False).status_code == 403
    wrong = {**body, "csrf_token": "not-the-token"}
    refused = client.post("/customers/new", data=wrong, follow_redirects=False)
    assert refused.status_code == 403
    assert "This form has expired" in refused.text
    listed = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {org.api_key}"})
    assert listed.json()["customers"] == []
    # htmx sends the token as a header instead.
    token = csrf_of(client.get("/customers").text)
    sent = client.post(
        "/customers/new",
        data=body,
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
        follow_redirects=False,
    )
    assert sent.status_code == 200 and sent.headers["HX-Redirect"].startswith("/customers/")


def test_another_organizations_customer_is_a_404_page(
    client: TestClient, database: Database
) -> None:
    other = make_org(database, "Globex")
    theirs = api(client, other, "their_customer", name="Theirs")
    token = csrf_of(client.get("/customers").text)
    for path in ("", "/analytics", "/invoices", "/credit-notes", "/information", "/edit",
                 "/delete"):  # fmt: skip
        response = client.get(f"/customers/{theirs}{path}")
        assert response.status_code == 404, path
        assert "Page not found" in response.text
        assert response.headers["content-type"].startswith("text/html")
    for path in ("/edit", "/delete"):
        forged = client.post(
            f"/customers/{theirs}{path}",
            data={"csrf_token": token, "name": "Mine now"},
            follow_redirects=False,
        )
        assert forged.status_code == 404
    assert "Theirs" not in client.get("/customers").text
    assert client.get("/customers/not-a-uuid").status_code == 404
    assert client.get("/invoices/not-a-uuid").status_code == 404
    assert client.get("/no/such/page").status_code == 404


def test_the_api_keeps_its_json_envelopes(client: TestClient) -> None:
    response = client.get("/api/v1/nope")
    assert response.json() == {"status": 404, "error": "Not Found", "code": "resource_not_found"}
    assert "content-security-policy" not in response.headers


def test_security_headers_and_escaping(client: TestClient, org: Org) -> None:
    customer_id = api(client, org, "cus_xss", name="<script>alert(1)</script>")
    view = f"/customers/{customer_id}"
    for path in ("/customers", view, f"{view}/edit", f"{view}/information", f"{view}/delete"):
        page = client.get(path)
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["x-frame-options"] == "DENY"
    # No inline script anywhere: every <script> loads a file.
    assert "<script>" not in client.get("/customers").text


def test_users_of_two_organizations(browser_client: TestClient, database: Database) -> None:
    mine, other = make_org(database, "Mine"), make_org(database, "Other")
    theirs_id = api(browser_client, other, "cus_other", name="Other's")
    email = make_user(database, mine, f"two-{mine.id.hex[:10]}@example.test")
    assert log_in(browser_client, email).status_code == 303
    assert browser_client.get(f"/customers/{theirs_id}").status_code == 404
