"""API keys and organization boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from meterbill.core.auth import hash_key
from meterbill.core.db import Database
from meterbill.organizations.models import ApiKey
from tests.conftest import Org, make_org

UNAUTHORIZED = {"status": 401, "error": "Unauthorized"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer unknown"}, {"Authorization": "Bearer"}, {"Authorization": ""}],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/customers"),
        ("GET", "/customers"),
        ("GET", "/customers/x"),
        ("DELETE", "/customers/x"),
        ("GET", "/taxes"),
        ("PUT", "/organizations"),
    ],
)
def test_missing_or_unknown_key_is_401(
    server: str, method: str, path: str, headers: dict[str, str]
) -> None:
    response = httpx.request(
        method, f"{server}/api/v1{path}", headers=headers, json={"customer": {"external_id": "x"}}
    )
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_scheme_word_is_not_checked(server: str, org: Org) -> None:
    response = httpx.get(
        f"{server}/api/v1/customers", headers={"Authorization": f"Token {org.api_key}"}
    )
    assert response.status_code == 200


def test_expired_key_is_401(server: str, database: Database, org: Org) -> None:
    with database.transaction() as session:
        key = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(org.api_key))).one()
        key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    response = httpx.get(
        f"{server}/api/v1/customers", headers={"Authorization": f"Bearer {org.api_key}"}
    )
    assert response.status_code == 401


def test_keys_are_stored_only_as_hashes(database: Database, org: Org) -> None:
    with database.transaction(write=False) as session:
        stored = session.scalars(
            select(ApiKey.key_hash).where(ApiKey.organization_id == org.id)
        ).all()
    assert stored == [hash_key(org.api_key)]
    assert org.api_key not in stored


def test_unknown_route_is_404_before_auth(server: str) -> None:
    for method in ("GET", "POST", "PATCH"):
        response = httpx.request(method, f"{server}/api/v1/nope")
        assert response.status_code == 404
        assert response.json() == {
            "status": 404,
            "error": "Not Found",
            "code": "resource_not_found",
        }


def test_organizations_cannot_see_each_other(
    server: str, database: Database, http: httpx.Client
) -> None:
    http.post("/customers", json={"customer": {"external_id": "shared-id", "name": "Mine"}})
    http.post("/taxes", json={"tax": {"code": "vat", "name": "VAT", "rate": 20}})
    other = make_org(database, "Globex")
    with httpx.Client(
        base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {other.api_key}"}
    ) as theirs:
        assert theirs.get("/customers/shared-id").json()["code"] == "customer_not_found"
        assert theirs.delete("/customers/shared-id").status_code == 404
        assert theirs.get("/customers").json()["meta"]["total_count"] == 0
        assert theirs.get("/taxes/vat").status_code == 404
        # Their tax codes do not resolve ours, and the same external_id is theirs to use.
        assert (
            theirs.post(
                "/customers", json={"customer": {"external_id": "x", "tax_codes": ["vat"]}}
            ).json()["code"]
            == "tax_not_found"
        )
        created = theirs.post(
            "/customers", json={"customer": {"external_id": "shared-id", "name": "Theirs"}}
        ).json()["customer"]
        assert created["sequential_id"] == 1
    assert http.get("/customers/shared-id").json()["customer"]["name"] == "Mine"
