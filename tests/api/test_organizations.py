"""Organization settings that customers depend on."""

from __future__ import annotations

import base64

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.organization import Organization, OrganizationBillingConfiguration

from meterbill.core.db import Database
from meterbill.organizations.models import Organization as OrganizationRecord
from tests.conftest import Org


def test_update_through_the_official_client(lago: Client) -> None:
    updated = lago.organizations.update(
        Organization(
            default_currency="EUR",
            timezone="Asia/Tokyo",
            email="billing@acme.test",
            net_payment_term=30,
            country="fr",
            billing_configuration=OrganizationBillingConfiguration(
                invoice_grace_period=5, document_locale="de", invoice_footer="Thanks"
            ),
        )
    )
    assert updated.name == "Acme Corp"
    assert (updated.timezone, updated.email, updated.net_payment_term, updated.country) == (
        "Asia/Tokyo", "billing@acme.test", 30, "FR",
    )  # fmt: skip
    assert updated.billing_configuration is not None
    assert updated.billing_configuration.invoice_grace_period == 5
    assert updated.billing_configuration.document_locale == "de"
    assert updated.billing_configuration.invoice_footer == "Thanks"


def test_applicable_timezone_follows_the_organization(http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "own", "timezone": "Europe/Paris"}})
    http.post("/customers", json={"customer": {"external_id": "inherits"}})
    assert http.get("/customers/inherits").json()["customer"]["applicable_timezone"] == "UTC"

    http.put("/organizations", json={"organization": {"timezone": "America/New_York"}})

    inherits = http.get("/customers/inherits").json()["customer"]
    assert (inherits["timezone"], inherits["applicable_timezone"]) == (None, "America/New_York")
    own = http.get("/customers/own").json()["customer"]
    assert own["applicable_timezone"] == "Europe/Paris"


def test_default_taxes_are_listed_on_the_organization(http: httpx.Client) -> None:
    http.post(
        "/taxes",
        json={"tax": {"name": "VAT", "code": "vat", "rate": 20, "applied_to_organization": True}},
    )
    body = http.put("/organizations", json={"organization": {"email": "a@b.co"}}).json()
    assert [tax["code"] for tax in body["organization"]["taxes"]] == ["vat"]


@pytest.mark.parametrize(
    ("organization", "details"),
    [
        ({"timezone": "Mars/Olympus"}, {"timezone": ["invalid_timezone"]}),
        ({"timezone": None}, {"timezone": ["value_is_invalid"]}),
        ({"default_currency": "XYZ"}, {"default_currency": ["value_is_invalid"]}),
        ({"email": "nope"}, {"email": ["invalid_email_format"]}),
        ({"country": "ZZ"}, {"country": ["not_a_valid_country_code"]}),
        ({"net_payment_term": -1}, {"net_payment_term": ["value_is_out_of_range"]}),
        ({"document_numbering": "random"}, {"document_numbering": ["value_is_invalid"]}),
        ({"billing_configuration": {"invoice_grace_period": -2}},
         {"invoice_grace_period": ["value_is_out_of_range"]}),
        ({"billing_configuration": {"document_locale": "klingon"}},
         {"document_locale": ["not_a_valid_language_code"]}),
        ({"billing_configuration": {"invoice_grace_period": 366}},
         {"invoice_grace_period": ["value_is_out_of_range"]}),
        ({"billing_configuration": {"invoice_footer": "f" * 601}},
         {"invoice_footer": ["value_is_too_long"]}),
        ({"document_number_prefix": ""}, {"document_number_prefix": ["value_is_too_short"]}),
        ({"document_number_prefix": "ABCDEFGHIJK"},
         {"document_number_prefix": ["value_is_too_long"]}),
        ({"name": " "}, {"name": ["value_is_mandatory"]}),
    ],
)  # fmt: skip
def test_invalid_settings_are_refused_and_not_written(
    http: httpx.Client, organization: dict, details: dict
) -> None:
    response = http.put(
        "/organizations", json={"organization": {"legal_name": "Changed", **organization}}
    )
    assert response.status_code == 422
    assert response.json()["error_details"] == details
    after = http.put("/organizations", json={"organization": {"city": "Paris"}}).json()
    assert after["organization"]["legal_name"] is None


def test_numbering_per_organization_under_lago_s_two_names(http: httpx.Client) -> None:
    # The organization API says per_organization; Lago's billing entities per_billing_entity.
    for sent in ("per_organization", "per_billing_entity"):
        body = http.put("/organizations", json={"organization": {"document_numbering": sent}})
        assert body.json()["organization"]["document_numbering"] == "per_organization"
    body = http.put("/organizations", json={"organization": {"document_numbering": "per_customer"}})
    assert body.json()["organization"]["document_numbering"] == "per_customer"


def test_the_logo_for_documents(http: httpx.Client, database: Database, org: Org) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode()
    sent = f"data:image/png;base64,{png}"
    assert http.put("/organizations", json={"organization": {"logo": sent}}).status_code == 200
    with database.transaction(write=False) as session:
        assert session.get(OrganizationRecord, org.id).logo == sent  # type: ignore[union-attr]
    for refused, code in (
        ("data:image/png;base64,bm90IGFuIGltYWdl", "invalid_image"),  # "not an image"
        ("https://example.com/logo.png", "invalid_image"),
        (f"data:image/gif;base64,{png}", "invalid_image"),
    ):
        answer = http.put("/organizations", json={"organization": {"logo": refused}})
        assert answer.status_code == 422
        assert answer.json()["error_details"] == {"logo": [code]}
    # Larger than Lago's 800 KB: its base64 is larger than any request body accepted.
    huge = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 820_000).decode()
    answer = http.put(
        "/organizations", json={"organization": {"logo": f"data:image/png;base64,{huge}"}}
    )
    assert answer.status_code == 413
    with database.transaction(write=False) as session:
        assert session.get(OrganizationRecord, org.id).logo == sent  # type: ignore[union-attr]
    assert http.put("/organizations", json={"organization": {"logo": None}}).status_code == 200
    with database.transaction(write=False) as session:
        assert session.get(OrganizationRecord, org.id).logo is None  # type: ignore[union-attr]
