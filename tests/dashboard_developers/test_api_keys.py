"""Developers › API keys: the organization's ID, a new key shown once and working against
the API, listed masked with its last use, revoked (then refused), the last one kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from meterbill.core.auth import KEY_USE_PRECISION, key_use, note_key_use
from meterbill.core.db import Database
from meterbill.dashboard.formats import local_datetime
from meterbill.organizations.models import ApiKey
from tests.conftest import NOW, Org, make_org
from tests.dashboard.conftest import log_in as log_in_form
from tests.dashboard.conftest import make_user
from tests.dashboard_developers.pages import api_get, rows_of, submit, text_of

KEY = re.compile(r'<code class="secret" id="new-key">(mb_[A-Za-z0-9_-]+)</code>')


def create_key(client: TestClient, name: str) -> str:
    response = submit(client, "/developers/api-keys", {"name": name}, page="/developers")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    match = KEY.search(response.text)
    assert match, "the new key is not on the page"
    assert "Copy it now: it will not be shown again." in text_of(response.text)
    return match.group(1)


def test_the_page_shows_the_organization_id_and_its_only_key(client: TestClient, org: Org) -> None:
    page = client.get("/developers")
    assert page.status_code == 200
    text = text_of(page.text)
    assert str(org.id) in text
    # make_org's key: no name, its last four characters, never used, no Revoke.
    [row] = rows_of(page.text)
    assert row == f"Unnamed key mb_••••••••{org.api_key[-4:]} Jan 15, 2026, 12:00 Never"
    assert "/revoke" not in page.text
    assert "The only key cannot be revoked: add another one first." in text


def test_a_new_key_is_shown_once_works_and_is_listed_masked(
    client: TestClient, database: Database, org: Org
) -> None:
    key = create_key(client, "Production backend")
    # Shown once: the next visit of the page does not carry it, only its last four.
    again = client.get("/developers").text
    assert key not in again
    rows = sorted(rows_of(again), key=lambda row: not row.startswith("Production"))
    assert rows[0] == f"Production backend mb_••••••••{key[-4:]} Jan 15, 2026, 12:00 Never Revoke"
    # Stored hashed, as every key.
    with database.transaction(write=False) as session:
        stored = session.scalar(select(ApiKey).where(ApiKey.name == "Production backend",
                                                     ApiKey.organization_id == org.id))  # fmt: skip
        assert stored is not None and key not in (stored.key_hash, stored.token_hint)
    # It works against the API, and its use is recorded (the API's own clock).
    before = datetime.now(UTC)
    response = api_get(client, "/customers", key)
    assert response.status_code == 200 and response.json()["customers"] == []
    with database.transaction(write=False) as session:
        used = session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == stored.id))
    assert used is not None and before <= used <= datetime.now(UTC)
    [row] = [row for row in rows_of(client.get("/developers").text) if "Production" in row]
    assert row.endswith(f"{local_datetime(used, 'UTC')} Revoke"), row


def test_a_name_is_required(client: TestClient) -> None:
    response = submit(client, "/developers/api-keys", {"name": "  "}, page="/developers")
    assert response.status_code == 422
    assert "Please give the key a name" in text_of(response.text)
    assert not KEY.search(response.text)


def test_a_revoked_key_is_refused(client: TestClient, org: Org) -> None:
    key = create_key(client, "Temporary")
    assert api_get(client, "/customers", key).status_code == 200  # now in the key cache
    page = client.get("/developers").text
    [row] = [row for row in re.findall(r"<tr>.*?</tr>", page, flags=re.S) if "Temporary" in row]
    [revoke] = re.findall(r'href="(/developers/api-keys/[^"]+/revoke)"', row)
    confirm = client.get(revoke)
    assert confirm.status_code == 200
    assert "Revoke the key “Temporary”?" in text_of(confirm.text)
    response = submit(client, revoke, {})
    assert response.status_code == 303 and response.headers["location"] == "/developers"
    listed = client.get("/developers")
    assert "API key revoked" in text_of(listed.text)
    assert "Temporary" not in text_of(listed.text)
    refused = api_get(client, "/customers", key)
    assert refused.status_code == 401
    # The organization's other key still works.
    assert api_get(client, "/customers", org.api_key).status_code == 200


def test_the_last_key_cannot_be_revoked(client: TestClient, database: Database, org: Org) -> None:
    with database.transaction(write=False) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.organization_id == org.id))
    response = submit(client, f"/developers/api-keys/{key_id}/revoke", {},
                      page=f"/developers/api-keys/{key_id}/revoke")  # fmt: skip
    assert response.status_code == 422
    assert ("This is the organization's only API key: add another one before revoking it."
            in text_of(response.text))  # fmt: skip
    assert api_get(client, "/customers", org.api_key).status_code == 200


def test_another_organizations_key_is_not_found(client: TestClient, database: Database) -> None:
    other = make_org(database, "Other")
    with database.transaction(write=False) as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.organization_id == other.id))
    assert client.get(f"/developers/api-keys/{key_id}/revoke").status_code == 404
    assert client.get("/developers/api-keys/not-a-uuid/revoke").status_code == 404


def test_last_use_is_written_at_most_once_a_minute(database: Database, org: Org) -> None:
    later = NOW + timedelta(seconds=30)
    with database.transaction() as session:
        use = key_use(session, org.api_key, NOW)
        assert use.stale  # never used
        note_key_use(session, use.key_id, NOW)
        # Within the minute: nothing to write.
        assert not key_use(session, org.api_key, later).stale
        note_key_use(session, use.key_id, later)  # a concurrent request: no change
        assert session.get(ApiKey, use.key_id).last_used_at == NOW  # type: ignore[union-attr]
        assert key_use(session, org.api_key, NOW + KEY_USE_PRECISION).stale
        note_key_use(session, use.key_id, NOW + KEY_USE_PRECISION)
        session.expire_all()
        stored = session.get(ApiKey, use.key_id)
        assert stored is not None and stored.last_used_at == NOW + KEY_USE_PRECISION


def test_a_finance_member_cannot_open_the_developers_pages(
    browser_client: TestClient, database: Database, org: Org
) -> None:
    email = make_user(database, org, f"finance-{org.id.hex[:8]}@example.test", role="finance")
    assert log_in_form(browser_client, email).status_code == 303
    menu = browser_client.get("/customers").text
    assert 'href="/developers"' not in menu
    for path in ("/developers", "/developers/webhooks", "/developers/webhooks/new",
                 "/developers/events"):  # fmt: skip
        assert browser_client.get(path).status_code == 403, path
    token = re.search(r'name="csrf_token" value="([^"]+)"', menu)
    assert token
    form = {"name": "x", "csrf_token": token.group(1)}
    refused = browser_client.post("/developers/api-keys", data=form)
    assert refused.status_code == 403
