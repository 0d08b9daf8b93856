"""Wallet metadata routes, by wallet id and by customer and wallet code: replace, merge,
delete all, delete one key, Lago's null for no metadata, terminated wallets, refusals
(types, limits, a missing body) and tenancy."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.wallet import Wallet

from meterbill.core.db import Database
from tests.conftest import Org, make_org

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}
MISSING_METADATA = {
    "status": 400,
    "error": "BadRequest: param is missing or the value is empty or invalid: metadata",
}
WALLET_NOT_FOUND = {"status": 404, "error": "Not Found", "code": "wallet_not_found"}
CUSTOMER_NOT_FOUND = {"status": 404, "error": "Not Found", "code": "customer_not_found"}
UNKNOWN_ID = "6f1c0d38-0000-4000-8000-000000000000"


@pytest.fixture
def customer(http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "cus"}})


def create_wallet(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"external_customer_id": "cus", "rate_amount": "1", "currency": "EUR", **fields}
    response = http.post("/wallets", json={"wallet": body})
    assert response.status_code == 200, response.text
    return dict(response.json()["wallet"])


def shown(http: httpx.Client, lago_id: str) -> Any:
    """The wallet's metadata as GET shows it; None when the key is left out (no metadata)."""
    return http.get(f"/wallets/{lago_id}").json()["wallet"].get("metadata")


def test_replace_merge_and_delete_by_wallet_id(
    lago: Client, http: httpx.Client, customer: None
) -> None:
    wallet_id = create_wallet(http, code="main")["lago_id"]
    assert shown(http, wallet_id) is None

    replaced = lago.wallets.replace_metadata(wallet_id, {"team": "ops", "region": None})
    assert replaced == {"team": "ops", "region": None}
    merged = lago.wallets.merge_metadata(wallet_id, {"region": "eu", "po number": "42"})
    assert merged == {"team": "ops", "region": "eu", "po number": "42"}
    assert shown(http, wallet_id) == {"team": "ops", "region": "eu", "po number": "42"}
    assert lago.wallets.find(wallet_id).metadata == {"team": "ops", "region": "eu",
                                                     "po number": "42"}  # fmt: skip

    assert lago.wallets.delete_metadata_key(wallet_id, "po number") == {
        "team": "ops",
        "region": "eu",
    }
    # A key the wallet does not have changes nothing.
    assert lago.wallets.delete_metadata_key(wallet_id, "absent") == {"team": "ops", "region": "eu"}
    # Replacing drops every key not sent.
    assert lago.wallets.replace_metadata(wallet_id, {"only": "1"}) == {"only": "1"}
    assert shown(http, wallet_id) == {"only": "1"}

    # No metadata is Lago's null; the wallet object keeps showing an empty map.
    assert lago.wallets.delete_all_metadata(wallet_id) is None
    assert shown(http, wallet_id) is None
    assert http.patch(f"/wallets/{wallet_id}/metadata", json={"metadata": {}}).json() == {
        "metadata": None
    }
    assert http.post(f"/wallets/{wallet_id}/metadata", json={"metadata": {}}).json() == {
        "metadata": None
    }
    assert lago.wallets.delete_all_metadata(wallet_id) is None
    # Removing a key where there is no metadata at all is Lago's "metadata not found".
    missing = http.delete(f"/wallets/{wallet_id}/metadata/only")
    assert (missing.status_code, missing.json()) == (
        404,
        {"status": 404, "error": "Not Found", "code": "metadata_not_found"},
    )


def test_metadata_given_at_creation_is_changed_by_the_routes(
    lago: Client, http: httpx.Client, customer: None
) -> None:
    wallet_id = create_wallet(http, metadata={"a": "1", "b": "2"})["lago_id"]
    assert lago.wallets.merge_metadata(wallet_id, {"b": None, "c": "3"}) == {
        "a": "1",
        "b": None,
        "c": "3",
    }
    # PUT /wallets/{id} with metadata still replaces it whole.
    updated = http.put(f"/wallets/{wallet_id}", json={"wallet": {"metadata": {"z": "9"}}})
    assert updated.json()["wallet"]["metadata"] == {"z": "9"}
    assert lago.wallets.delete_metadata_key(wallet_id, "z") is None


def test_customer_scoped_routes(lago: Client, http: httpx.Client, customer: None) -> None:
    metadata = lago.customers.wallets.metadata
    lago.customers.wallets.create(
        "cus", Wallet(rate_amount="1", currency="EUR", code="credits", metadata={"a": "1"})
    )
    assert metadata.merge("cus", "credits", {"b": "2"}) == {"a": "1", "b": "2"}
    assert metadata.replace("cus", "credits", {"c": "3", "d": None}) == {"c": "3", "d": None}
    assert metadata.delete_key("cus", "credits", "c") == {"d": None}
    assert lago.customers.wallets.find("cus", "credits").metadata == {"d": None}
    assert metadata.delete_all("cus", "credits") is None
    assert lago.customers.wallets.find("cus", "credits").metadata is None


def test_customer_scoped_routes_change_the_active_wallet_of_that_code(
    lago: Client, http: httpx.Client, customer: None
) -> None:
    old = create_wallet(http, code="credits", metadata={"generation": "old"})["lago_id"]
    http.delete(f"/wallets/{old}")
    new = create_wallet(http, code="credits", metadata={"generation": "new"})["lago_id"]
    changed = lago.customers.wallets.metadata.merge("cus", "credits", {"x": "1"})
    assert changed == {"generation": "new", "x": "1"}
    assert shown(http, new) == {"generation": "new", "x": "1"}
    assert shown(http, old) == {"generation": "old"}


def test_terminated_wallet_keeps_its_metadata_but_a_key_can_be_removed(
    http: httpx.Client, customer: None
) -> None:
    wallet_id = create_wallet(http, code="gone", metadata={"a": "1", "b": "2"})["lago_id"]
    http.delete(f"/wallets/{wallet_id}")
    terminated = {**UNPROCESSABLE, "error_details": {"wallet_id": ["wallet_is_terminated"]}}
    body = {"metadata": {"c": "3"}}
    for response in (
        http.post(f"/wallets/{wallet_id}/metadata", json=body),
        http.patch(f"/wallets/{wallet_id}/metadata", json=body),
        http.delete(f"/wallets/{wallet_id}/metadata"),
        http.post("/customers/cus/wallets/gone/metadata", json=body),
        http.patch("/customers/cus/wallets/gone/metadata", json=body),
        http.delete("/customers/cus/wallets/gone/metadata"),
    ):
        assert (response.status_code, response.json()) == (422, terminated)
    assert shown(http, wallet_id) == {"a": "1", "b": "2"}
    # Lago lets a terminated wallet's key be removed (that route skips the update service).
    removed = http.delete(f"/wallets/{wallet_id}/metadata/a")
    assert (removed.status_code, removed.json()) == (200, {"metadata": {"b": "2"}})
    removed = http.delete("/customers/cus/wallets/gone/metadata/b")
    assert (removed.status_code, removed.json()) == (200, {"metadata": None})


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ({"a": 1}, "value_is_invalid"),
        ({"a": True}, "value_is_invalid"),
        ({"a": {"nested": "x"}}, "value_is_invalid"),
        ({"a": ["x"]}, "value_is_invalid"),
        ({"k" * 101: "v"}, "key_too_long"),
        ({"k": "v" * 256}, "value_too_long"),
        ({f"key{index}": "v" for index in range(51)}, "too_many_keys"),
    ],
)
def test_invalid_maps_are_refused_and_change_nothing(
    http: httpx.Client, customer: None, metadata: dict[str, Any], code: str
) -> None:
    wallet_id = create_wallet(http, code="main", metadata={"kept": "yes"})["lago_id"]
    expected = {**UNPROCESSABLE, "error_details": {"metadata": [code]}}
    for response in (
        http.post(f"/wallets/{wallet_id}/metadata", json={"metadata": metadata}),
        http.patch(f"/wallets/{wallet_id}/metadata", json={"metadata": metadata}),
        http.post("/customers/cus/wallets/main/metadata", json={"metadata": metadata}),
        http.patch("/customers/cus/wallets/main/metadata", json={"metadata": metadata}),
        http.put(f"/wallets/{wallet_id}", json={"wallet": {"metadata": metadata}}),
    ):
        assert (response.status_code, response.json()) == (422, expected)
    assert shown(http, wallet_id) == {"kept": "yes"}


def test_creation_with_invalid_metadata_writes_no_wallet(
    http: httpx.Client, customer: None
) -> None:
    body = {"external_customer_id": "cus", "rate_amount": "1", "currency": "EUR",
            "metadata": {"k": "v" * 256}}  # fmt: skip
    response = http.post("/wallets", json={"wallet": body})
    assert response.json() == {**UNPROCESSABLE, "error_details": {"metadata": ["value_too_long"]}}
    assert http.get("/wallets", params={"external_customer_id": "cus"}).json()["wallets"] == []


def test_limits_are_inclusive_and_hold_after_a_merge(http: httpx.Client, customer: None) -> None:
    wallet_id = create_wallet(http)["lago_id"]
    path = f"/wallets/{wallet_id}/metadata"
    longest = {"k" * 100: "v" * 255}
    assert http.post(path, json={"metadata": longest}).json() == {"metadata": longest}
    forty_nine = {f"key{index}": str(index) for index in range(49)}
    full = http.patch(path, json={"metadata": forty_nine}).json()["metadata"]
    assert full == {**longest, **forty_nine} and len(full) == 50
    # Overwriting an existing key keeps the count at 50.
    assert len(http.patch(path, json={"metadata": {"key0": "new"}}).json()["metadata"]) == 50
    # One key more than 50 in the merged map is refused, and nothing changes.
    over = http.patch(path, json={"metadata": {"one_more": "x"}})
    assert over.json() == {**UNPROCESSABLE, "error_details": {"metadata": ["too_many_keys"]}}
    assert shown(http, wallet_id) == {**longest, **forty_nine, "key0": "new"}


@pytest.mark.parametrize(
    "body",
    [{}, {"metadata": None}, {"metadata": "x"}, {"metadata": ["a"]}, {"other": {"a": "1"}}, [1]],
)
def test_a_body_without_a_metadata_object_is_400(
    http: httpx.Client, customer: None, body: Any
) -> None:
    wallet_id = create_wallet(http, code="main", metadata={"kept": "yes"})["lago_id"]
    for response in (
        http.post(f"/wallets/{wallet_id}/metadata", json=body),
        http.patch(f"/wallets/{wallet_id}/metadata", json=body),
        http.post("/customers/cus/wallets/main/metadata", json=body),
        http.patch("/customers/cus/wallets/main/metadata", json=body),
    ):
        assert (response.status_code, response.json()) == (400, MISSING_METADATA)
    not_json = http.post(
        f"/wallets/{wallet_id}/metadata",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert shown(http, wallet_id) == {"kept": "yes"}


def test_client_raises_on_refusal(lago: Client, http: httpx.Client, customer: None) -> None:
    wallet_id = create_wallet(http)["lago_id"]
    with pytest.raises(LagoApiError) as raised:
        lago.wallets.replace_metadata(wallet_id, {"a": 1})  # type: ignore[dict-item]
    assert raised.value.status_code == 422
    with pytest.raises(LagoApiError) as raised:
        lago.customers.wallets.metadata.merge("cus", "nope", {"a": "1"})
    assert raised.value.status_code == 404


def _every_route(client: httpx.Client, wallet_path: str) -> list[httpx.Response]:
    body = {"metadata": {"a": "1"}}
    return [
        client.post(f"{wallet_path}/metadata", json=body),
        client.patch(f"{wallet_path}/metadata", json=body),
        client.delete(f"{wallet_path}/metadata"),
        client.delete(f"{wallet_path}/metadata/kept"),
    ]


def test_unknown_wallets_and_customers_are_404(http: httpx.Client, customer: None) -> None:
    create_wallet(http, code="main")
    for wallet_path in (f"/wallets/{UNKNOWN_ID}", "/wallets/not-a-uuid",
                        "/customers/cus/wallets/nope"):  # fmt: skip
        for response in _every_route(http, wallet_path):
            assert (response.status_code, response.json()) == (404, WALLET_NOT_FOUND)
    for response in _every_route(http, "/customers/ghost/wallets/main"):
        assert (response.status_code, response.json()) == (404, CUSTOMER_NOT_FOUND)


def test_other_organizations_wallets_are_not_found(
    database: Database, server: str, http: httpx.Client, customer: None
) -> None:
    wallet_id = create_wallet(http, code="main", metadata={"kept": "yes"})["lago_id"]
    other = make_org(database, "Other Org")
    headers = {"Authorization": f"Bearer {other.api_key}"}
    with httpx.Client(base_url=server + "/api/v1", headers=headers) as stranger:
        stranger.post("/customers", json={"customer": {"external_id": "cus"}})
        for response in _every_route(stranger, f"/wallets/{wallet_id}"):
            assert (response.status_code, response.json()) == (404, WALLET_NOT_FOUND)
        # Its own customer "cus" has no wallet "main"; ours stays out of reach.
        for response in _every_route(stranger, "/customers/cus/wallets/main"):
            assert (response.status_code, response.json()) == (404, WALLET_NOT_FOUND)
    assert shown(http, wallet_id) == {"kept": "yes"}


def test_concurrent_merges_keep_every_key(
    server: str, org: Org, http: httpx.Client, customer: None
) -> None:
    wallet_id = create_wallet(http)["lago_id"]

    def merge(index: int) -> int:
        with httpx.Client(
            base_url=f"{server}/api/v1",
            headers={"Authorization": f"Bearer {org.api_key}"},
            timeout=60,
        ) as client:
            response = client.patch(
                f"/wallets/{wallet_id}/metadata", json={"metadata": {f"k{index}": str(index)}}
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(merge, range(20)))
    assert statuses == [200] * 20
    assert shown(http, wallet_id) == {f"k{index}": str(index) for index in range(20)}
