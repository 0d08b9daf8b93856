"""Customer management through the official Lago client, over real HTTP."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.customer import (
    Customer,
    CustomerBillingConfiguration,
    Metadata,
    MetadataList,
)

# The guide's example request, with its JSON made valid.
GUIDE_PAYLOAD = {
    "external_id": "5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba",
    "address_line1": "5230 Penfield Ave",
    "address_line2": "",
    "city": "Woodland Hills",
    "country": "US",
    "currency": "EUR",
    "email": "dinesh@piedpiper.test",
    "legal_name": "Coleman-Blair",
    "legal_number": "49-008-2965",
    "tax_identification_number": "EU123456789",
    "logo_url": "http://hooli.com/logo.png",
    "name": "Gavin Belson",
    "phone": "1-171-883-3711 x245",
    "state": "CA",
    "timezone": "Europe/Paris",
    "url": "http://hooli.com",
    "zipcode": "91364",
    "tax_codes": [],
    "billing_configuration": {
        "invoice_grace_period": 3,
        "payment_provider": "stripe",
        "provider_customer_id": "cus_12345",
        "sync": True,
        "sync_with_provider": True,
        "document_locale": "fr",
    },
    "metadata": [{"key": "Name", "value": "John", "display_in_invoice": True}],
}


def guide_customer() -> Customer:
    payload = dict(GUIDE_PAYLOAD)
    payload["billing_configuration"] = CustomerBillingConfiguration(
        **GUIDE_PAYLOAD["billing_configuration"]
    )
    payload["metadata"] = MetadataList(__root__=[Metadata(**GUIDE_PAYLOAD["metadata"][0])])
    return Customer(**payload)


def test_guide_example_round_trips_field_by_field(lago: Client, http: httpx.Client) -> None:
    created = lago.customers.create(guide_customer())

    assert uuid.UUID(created.lago_id)
    assert created.external_id == GUIDE_PAYLOAD["external_id"]
    for key in (
        "address_line1", "city", "country", "currency", "email", "legal_name", "legal_number",
        "tax_identification_number", "logo_url", "name", "phone", "state", "timezone", "url",
        "zipcode",
    ):  # fmt: skip
        assert getattr(created, key) == GUIDE_PAYLOAD[key], key
    # Lago stores an empty address line as null.
    assert created.address_line2 is None
    assert created.applicable_timezone == "Europe/Paris"
    config = created.billing_configuration
    assert config is not None
    assert config.invoice_grace_period == 3
    assert config.payment_provider == "stripe"
    assert config.provider_customer_id == "cus_12345"
    assert config.sync_with_provider is True
    assert config.document_locale == "fr"
    assert created.metadata is not None
    [item] = created.metadata.__root__
    assert (item.key, item.value, item.display_in_invoice) == ("Name", "John", True)
    assert created.taxes is not None and created.taxes.__root__ == []

    # The raw body carries every field of Lago's serializer, in its shape.
    body = http.get(f"/customers/{GUIDE_PAYLOAD['external_id']}").json()["customer"]
    assert set(body) == {
        "lago_id", "billing_entity_code", "external_id", "account_type", "name", "firstname",
        "lastname", "customer_type", "sequential_id", "slug", "created_at", "updated_at",
        "country", "address_line1", "address_line2", "state", "zipcode", "email", "city", "url",
        "phone", "logo_url", "legal_name", "legal_number", "currency",
        "tax_identification_number", "timezone", "applicable_timezone", "net_payment_term",
        "external_salesforce_id", "finalize_zero_amount_invoice", "billing_configuration",
        "shipping_address", "skip_invoice_custom_sections", "metadata", "taxes",
        "integration_customers", "applicable_invoice_custom_sections", "error_details",
    }  # fmt: skip
    assert body["account_type"] == "customer"
    assert body["finalize_zero_amount_invoice"] == "inherit"
    assert body["sequential_id"] == 1
    assert re.fullmatch(r"ACM-[0-9A-F]{4}-001", body["slug"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"])
    assert body["shipping_address"] == dict.fromkeys(
        ("address_line1", "address_line2", "city", "zipcode", "state", "country")
    )
    assert body["metadata"][0]["lago_id"] and body["metadata"][0]["created_at"]


def test_new_customer_has_lago_defaults(http: httpx.Client) -> None:
    response = http.post("/customers", json={"customer": {"external_id": "bare"}})
    assert response.status_code == 200
    body = response.json()["customer"]
    assert body["account_type"] == "customer"
    assert body["finalize_zero_amount_invoice"] == "inherit"
    assert body["skip_invoice_custom_sections"] is False
    assert body["metadata"] == [] and body["taxes"] == []
    assert body["customer_type"] is None and body["timezone"] is None
    assert body["applicable_timezone"] == "UTC"
    assert body["billing_configuration"] == {
        "invoice_grace_period": None,
        "payment_provider": None,
        "payment_provider_code": None,
        "document_locale": None,
        "subscription_invoice_issuing_date_anchor": None,
        "subscription_invoice_issuing_date_adjustment": None,
    }


def test_upsert_keeps_lago_id_and_changes_only_sent_fields(lago: Client) -> None:
    first = lago.customers.create(guide_customer())
    second = lago.customers.create(
        Customer(external_id=GUIDE_PAYLOAD["external_id"], name="New name")
    )
    assert second.lago_id == first.lago_id
    assert second.name == "New name"
    unchanged = (
        "email", "city", "country", "currency", "timezone", "legal_name", "zipcode",
        "created_at", "address_line1",
    )  # fmt: skip
    for key in unchanged:
        assert getattr(second, key) == getattr(first, key), key
    assert second.metadata == first.metadata
    assert second.billing_configuration == first.billing_configuration
    assert second.updated_at >= first.updated_at


def test_null_clears_a_field_and_omission_keeps_it(http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "c", "email": "a@b.co"}})
    kept = http.post("/customers", json={"customer": {"external_id": "c", "name": "N"}})
    assert kept.json()["customer"]["email"] == "a@b.co"
    cleared = http.post("/customers", json={"customer": {"external_id": "c", "email": None}})
    assert cleared.json()["customer"]["email"] is None
    assert cleared.json()["customer"]["name"] == "N"


def test_normalisations(http: httpx.Client) -> None:
    body = http.post(
        "/customers",
        json={
            "customer": {
                "external_id": "norm",
                "country": "fr",
                "address_line2": "",
                "name": "",
                "email": "foo\u200cbar@example.com",
                "firstname": "Ana\u0000",
                "finalize_zero_amount_invoice": None,
                "shipping_address": {"country": "de", "city": ""},
            }
        },
    ).json()["customer"]
    assert body["country"] == "FR"
    assert body["address_line2"] is None
    assert body["name"] == ""
    assert body["email"] == "foobar@example.com"
    assert body["firstname"] == "Ana"
    assert body["finalize_zero_amount_invoice"] == "inherit"
    assert body["shipping_address"]["country"] == "DE"
    assert body["shipping_address"]["city"] is None


@pytest.mark.parametrize(
    "email", ["joão.silva@example.com", "a@b.com, c@d.com", "billing+x@acme-corp.test"]
)
def test_valid_emails_are_kept(http: httpx.Client, email: str) -> None:
    body = http.post("/customers", json={"customer": {"external_id": "e", "email": email}})
    assert body.status_code == 200
    assert body.json()["customer"]["email"] == email


def test_name_of_255_characters_is_accepted(http: httpx.Client) -> None:
    response = http.post("/customers", json={"customer": {"external_id": "n", "name": "x" * 255}})
    assert response.status_code == 200


def test_finalize_zero_amount_invoice_and_locale_values(http: httpx.Client) -> None:
    body = http.post(
        "/customers",
        json={
            "customer": {
                "external_id": "f",
                "finalize_zero_amount_invoice": "skip",
                "customer_type": "individual",
                "net_payment_term": 30,
                "billing_configuration": {"document_locale": "pt-BR"},
            }
        },
    ).json()["customer"]
    assert body["finalize_zero_amount_invoice"] == "skip"
    assert body["customer_type"] == "individual"
    assert body["net_payment_term"] == 30
    assert body["billing_configuration"]["document_locale"] == "pt-BR"


def test_top_level_grace_period_is_accepted_and_nested_one_wins(http: httpx.Client) -> None:
    body = http.post(
        "/customers",
        json={
            "customer": {
                "external_id": "g",
                "invoice_grace_period": 1,
                "billing_configuration": {"invoice_grace_period": 4},
            }
        },
    ).json()["customer"]
    assert body["billing_configuration"]["invoice_grace_period"] == 4


def test_metadata_replace_by_id(http: httpx.Client) -> None:
    created = http.post(
        "/customers",
        json={
            "customer": {
                "external_id": "m",
                "metadata": [{"key": "A", "value": "1"}, {"key": "B", "value": "2"}],
            }
        },
    ).json()["customer"]
    a_id = created["metadata"][0]["lago_id"]
    updated = http.post(
        "/customers",
        json={
            "customer": {
                "external_id": "m",
                "metadata": [
                    {"id": a_id, "key": "new key", "value": "v", "display_in_invoice": True},
                    {"key": "Added key", "value": "w"},
                ],
            }
        },
    ).json()["customer"]
    assert [(m["lago_id"] == a_id, m["key"], m["value"], m["display_in_invoice"])
            for m in updated["metadata"]] == [
        (True, "new key", "v", True),
        (False, "Added key", "w", False),
    ]  # fmt: skip

    kept = http.post("/customers", json={"customer": {"external_id": "m"}}).json()["customer"]
    assert kept["metadata"] == updated["metadata"]
    emptied = http.post("/customers", json={"customer": {"external_id": "m", "metadata": []}})
    assert emptied.json()["customer"]["metadata"] == []


def test_resending_an_existing_metadata_key_without_id_changes_nothing(
    http: httpx.Client,
) -> None:
    http.post(
        "/customers",
        json={"customer": {"external_id": "m2", "metadata": [{"key": "A", "value": "1"}]}},
    )
    response = http.post(
        "/customers",
        json={
            "customer": {
                "external_id": "m2",
                "name": "should not stick",
                "metadata": [{"key": "A", "value": "2"}],
            }
        },
    )
    assert response.status_code == 422
    assert response.json()["error_details"] == {"key": ["value_already_exist"]}
    after = http.get("/customers/m2").json()["customer"]
    assert after["name"] is None
    assert [(m["key"], m["value"]) for m in after["metadata"]] == [("A", "1")]


def test_tax_codes_attach_and_detach(http: httpx.Client) -> None:
    http.post("/taxes", json={"tax": {"code": "vat", "name": "VAT", "rate": 20}})
    body = http.post(
        "/customers", json={"customer": {"external_id": "t", "tax_codes": ["vat"]}}
    ).json()["customer"]
    [tax] = body["taxes"]
    assert (tax["code"], tax["name"], tax["rate"]) == ("vat", "VAT", 20.0)
    assert set(tax) >= {
        "lago_id", "description", "applied_to_organization", "add_ons_count",
        "customers_count", "plans_count", "charges_count", "commitments_count", "created_at",
    }  # fmt: skip
    listed = http.get("/customers").json()["customers"][0]
    assert [t["code"] for t in listed["taxes"]] == ["vat"]
    cleared = http.post("/customers", json={"customer": {"external_id": "t", "tax_codes": []}})
    assert cleared.json()["customer"]["taxes"] == []


def test_get_customer(lago: Client) -> None:
    created = lago.customers.create(Customer(external_id="get-me", name="Get"))
    found = lago.customers.find("get-me")
    assert found.lago_id == created.lago_id and found.name == "Get"


def test_list_across_pages_newest_first(lago: Client) -> None:
    for index in range(5):
        lago.customers.create(Customer(external_id=f"p{index}", name=f"P{index}"))
    seen: list[str] = []
    for page in (1, 2, 3):
        result = lago.customers.find_all({"per_page": 2, "page": page})
        seen += [customer.external_id for customer in result["customers"]]
        meta = result["meta"]
        assert meta["current_page"] == page
        assert meta["total_pages"] == 3 and meta["total_count"] == 5
        assert meta["prev_page"] == (page - 1 if page > 1 else None)
        assert meta["next_page"] == (page + 1 if page < 3 else None)
    # All created within one second: the id tie-break must still give each exactly once.
    assert sorted(seen) == [f"p{i}" for i in range(5)]


def test_list_meta_for_empty_and_single_page(http: httpx.Client) -> None:
    assert http.get("/customers").json() == {
        "customers": [],
        "meta": {
            "current_page": 0,
            "next_page": None,
            "prev_page": None,
            "total_pages": 0,
            "total_count": 0,
        },
    }
    for external_id in ("a", "b"):
        http.post("/customers", json={"customer": {"external_id": external_id}})
    assert http.get("/customers").json()["meta"] == {
        "current_page": 1,
        "next_page": None,
        "prev_page": None,
        "total_pages": 1,
        "total_count": 2,
    }
    past_end = http.get("/customers", params={"page": 5, "per_page": 1}).json()
    assert past_end["customers"] == []
    assert past_end["meta"]["current_page"] == 5 and past_end["meta"]["prev_page"] == 4
    # An unusable per_page falls back to Kaminari's 25, an unusable page to 1.
    assert (
        http.get("/customers", params={"per_page": "x", "page": "-3"}).json()["meta"][
            "current_page"
        ]
        == 1
    )


def test_delete_then_recreate_with_same_external_id(lago: Client, http: httpx.Client) -> None:
    first = lago.customers.create(Customer(external_id="gone", name="Old"))
    lago.customers.create(Customer(external_id="other"))
    deleted = lago.customers.destroy("gone")
    assert deleted.lago_id == first.lago_id and deleted.name == "Old"

    with pytest.raises(LagoApiError) as missing:
        lago.customers.find("gone")
    assert missing.value.status_code == 404
    assert http.get("/customers/gone").json() == {
        "status": 404,
        "error": "Not Found",
        "code": "customer_not_found",
    }
    assert http.delete("/customers/gone").status_code == 404
    assert lago.customers.find_all()["meta"]["total_count"] == 1

    again = lago.customers.create(Customer(external_id="gone", name="New"))
    assert again.lago_id != first.lago_id
    assert again.name == "New" and again.metadata.__root__ == []
    body = http.get("/customers/gone").json()["customer"]
    # Sequential ids are never reused: deleted customers still count.
    assert body["sequential_id"] == 3
    assert body["slug"].endswith("-003")
