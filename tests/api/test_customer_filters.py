"""GET /customers filters, each against a set of customers built to tell them apart."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

CUSTOMERS: list[dict[str, Any]] = [
    {"external_id": "us-co", "name": "Foo Bar", "country": "US", "state": "CA",
     "zipcode": "91364", "currency": "USD", "customer_type": "company",
     "tax_identification_number": "", "metadata": [{"key": "is_synced", "value": "true"}]},
    {"external_id": "fr-in", "firstname": "Zoé", "lastname": "Martin", "country": "FR",
     "currency": "EUR", "customer_type": "individual", "email": "zoe@example.fr",
     "metadata": [{"key": "is_synced", "value": "true"},
                  {"key": "last_synced_at", "value": "2026-01-01"}]},
    {"external_id": "de-none", "legal_name": "Mega_Corp 100%", "country": "DE",
     "tax_identification_number": "DE123"},
]  # fmt: skip


@pytest.fixture
def populated(http: httpx.Client) -> httpx.Client:
    for customer in CUSTOMERS:
        assert http.post("/customers", json={"customer": customer}).status_code == 200
    return http


def ids(http: httpx.Client, params: Any) -> list[str]:
    response = http.get("/customers", params=params)
    assert response.status_code == 200, response.text
    return sorted(customer["external_id"] for customer in response.json()["customers"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"countries[]": ["US", "FR"]}, ["fr-in", "us-co"]),
        ({"states[]": "CA"}, ["us-co"]),
        ({"zipcodes[]": "91364"}, ["us-co"]),
        ({"currencies[]": ["EUR"]}, ["fr-in"]),
        ({"customer_type": "company"}, ["us-co"]),
        ({"has_customer_type": "false"}, ["de-none"]),
        ({"has_customer_type": "true"}, ["fr-in", "us-co"]),
        # An empty-string TIN counts as present, as in Lago.
        ({"has_tax_identification_number": "true"}, ["de-none", "us-co"]),
        ({"has_tax_identification_number": "false"}, ["fr-in"]),
        ({"search_term": "oo b"}, ["us-co"]),
        ({"search_term": "  ZOE@EXAMPLE "}, ["fr-in"]),
        ({"search_term": "martin"}, ["fr-in"]),
        ({"search_term": "_corp 100%"}, ["de-none"]),
        # LIKE wildcards are literal: only the legal name holds a "%" and a "_".
        ({"search_term": "%"}, ["de-none"]),
        ({"search_term": "_"}, ["de-none"]),
        ({"external_id": "de-none"}, ["de-none"]),
        # external_id wins over search_term.
        ({"external_id": "de-none", "search_term": "Foo"}, ["de-none"]),
        ({"metadata[is_synced]": "true"}, ["fr-in", "us-co"]),
        ({"metadata[is_synced]": "true", "metadata[last_synced_at]": ""}, ["us-co"]),
        ({"account_type[]": "customer"}, ["de-none", "fr-in", "us-co"]),
        ({"account_type[]": "partner"}, []),
        # A scalar where Lago wants an array is dropped, so no filter applies.
        ({"countries": "US"}, ["de-none", "fr-in", "us-co"]),
        ({"countries[]": "US", "customer_type": "individual"}, []),
    ],
)
def test_filter(populated: httpx.Client, params: Any, expected: list[str]) -> None:
    assert ids(populated, params) == expected


def test_billing_entity_filter_with_the_organization_code(populated: httpx.Client) -> None:
    code = populated.get("/customers").json()["customers"][0]["billing_entity_code"]
    assert len(ids(populated, {"billing_entity_codes[]": code})) == 3
