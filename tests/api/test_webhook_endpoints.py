"""Webhook endpoints, public keys and the organization's webhook_url, through the official
client and raw HTTP (issue 16, point 1)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.webhook_endpoint import WebhookEndpoint

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def test_lifecycle_through_the_official_client(lago: Client, http: httpx.Client) -> None:
    created = lago.webhook_endpoints.create(
        WebhookEndpoint(webhook_url="https://example.com/hooks", name="Main",
                        event_types=[" Invoice.Created ", "invoice.created", "customer.created"])
    )  # fmt: skip
    assert (created.webhook_url, created.signature_algo, created.name) == (
        "https://example.com/hooks", "jwt", "Main",
    )  # fmt: skip
    assert created.event_types == ["invoice.created", "customer.created"]
    assert lago.webhook_endpoints.find(created.lago_id).webhook_url == "https://example.com/hooks"
    updated = lago.webhook_endpoints.update(
        WebhookEndpoint(signature_algo="hmac", event_types=["*"]), created.lago_id
    )
    assert (updated.signature_algo, updated.event_types, updated.name) == ("hmac", None, "Main")
    lago.webhook_endpoints.create(WebhookEndpoint(webhook_url="http://a.example/x"))
    listed = lago.webhook_endpoints.find_all()
    assert [e.webhook_url for e in listed["webhook_endpoints"]] == [
        "http://a.example/x",
        "https://example.com/hooks",
    ]
    assert listed["meta"]["total_count"] == 2
    assert lago.webhook_endpoints.destroy(created.lago_id).lago_id == created.lago_id
    with pytest.raises(LagoApiError) as missing:
        lago.webhook_endpoints.find(created.lago_id)
    assert missing.value.status_code == 404
    assert http.get(f"/webhook_endpoints/{created.lago_id}").json()["code"] == (
        "webhook_endpoint_not_found"
    )
    # PUT without signature_algo keeps it; an empty list receives nothing.
    other = http.get("/webhook_endpoints").json()["webhook_endpoints"][0]
    kept = http.put(f"/webhook_endpoints/{other['lago_id']}",
                    json={"webhook_endpoint": {"event_types": []}}).json()  # fmt: skip
    assert kept["webhook_endpoint"]["signature_algo"] == "jwt"
    assert kept["webhook_endpoint"]["event_types"] == []


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"webhook_url": None}, {"webhook_url": ["value_is_mandatory"]}),
        ({"webhook_url": "ftp://example.com"}, {"webhook_url": ["url_is_invalid"]}),
        ({"webhook_url": "https://"}, {"webhook_url": ["url_is_invalid"]}),
        ({"webhook_url": "not a url"}, {"webhook_url": ["url_is_invalid"]}),
        ({"signature_algo": "rsa"}, {"signature_algo": ["value_is_invalid"]}),
        ({"event_types": "invoice.created"}, {"event_types": ["must_be_array"]}),
        (
            {"event_types": ["invoice.created", "x.y", "X.Y"]},
            {"event_types": ['contains invalid types: ["x.y"]']},
        ),
    ],
)
def test_refusals(http: httpx.Client, fields: dict[str, Any], details: Any) -> None:
    body = {"webhook_url": "https://example.com/h", **fields}
    response = http.post("/webhook_endpoints", json={"webhook_endpoint": body})
    assert response.status_code == 422
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    assert http.get("/webhook_endpoints").json()["meta"]["total_count"] == 0


def test_unique_url_and_at_most_ten(http: httpx.Client) -> None:
    for number in range(9):
        body = {"webhook_url": f"https://example.com/{number}"}
        assert http.post("/webhook_endpoints", json={"webhook_endpoint": body}).status_code == 200
    again = http.post(
        "/webhook_endpoints", json={"webhook_endpoint": {"webhook_url": "https://example.com/0"}}
    )
    assert again.json()["error_details"] == {"webhook_url": ["value_already_exist"]}
    body = {"webhook_url": "https://example.com/9"}
    assert http.post("/webhook_endpoints", json={"webhook_endpoint": body}).status_code == 200
    eleventh = http.post(
        "/webhook_endpoints", json={"webhook_endpoint": {"webhook_url": "https://example.com/10"}}
    )
    assert eleventh.json() == {
        **UNPROCESSABLE,
        "error_details": {"base": ["Maximum number of webhook endpoints was reached"]},
    }
    first = http.get("/webhook_endpoints").json()["webhook_endpoints"][0]["lago_id"]
    clash = http.put(
        f"/webhook_endpoints/{first}",
        json={"webhook_endpoint": {"webhook_url": "https://example.com/1"}},
    )
    assert clash.json()["error_details"] == {"webhook_url": ["value_already_exist"]}


def test_public_keys(lago: Client, http: httpx.Client) -> None:
    pem = lago.webhooks.public_key()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert load_pem_public_key(pem).key_size == 2048  # type: ignore[union-attr]
    text = http.get("/webhooks/public_key")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == http.get("/webhooks/json_public_key").json()["webhook"]["public_key"]
    # The same key on every call: made once per organization.
    assert lago.webhooks.public_key() == pem


def test_organization_webhook_url(http: httpx.Client) -> None:
    def put(url: Any) -> httpx.Response:
        return http.put("/organizations", json={"organization": {"webhook_url": url}})

    assert put("https://example.com/first").json()["organization"]["webhook_url"] == (
        "https://example.com/first"
    )
    http.post("/webhook_endpoints",
              json={"webhook_endpoint": {"webhook_url": "https://example.com/second"}})  # fmt: skip
    organization = put("https://example.com/changed").json()["organization"]
    assert organization["webhook_url"] == "https://example.com/changed"
    assert organization["webhook_urls"] == [
        "https://example.com/changed",
        "https://example.com/second",
    ]
    assert put("nope").json()["error_details"] == {"webhook_url": ["url_is_invalid"]}
    assert http.get("/webhook_endpoints").json()["meta"]["total_count"] == 2
