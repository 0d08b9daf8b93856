"""Every refusal of the customer endpoints: status, Lago envelope, and nothing written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def refused(response: httpx.Response, details: dict[str, Any]) -> None:
    assert response.status_code == 422, response.text
    assert response.json() == {**UNPROCESSABLE, "error_details": details}


def count(http: httpx.Client) -> int:
    return int(http.get("/customers").json()["meta"]["total_count"])


@pytest.mark.parametrize(
    ("customer", "details"),
    [
        ({"name": "Foo Bar", "currency": "invalid"},
         {"currency": ["value_is_invalid"], "external_id": ["value_is_mandatory"]}),
        ({"external_id": None}, {"external_id": ["value_is_mandatory"]}),
        ({"external_id": "   "}, {"external_id": ["value_is_mandatory"]}),
        ({"external_id": "x", "currency": "eur"}, {"currency": ["value_is_invalid"]}),
        ({"external_id": "x", "name": "n" * 256}, {"name": ["value_is_too_long"]}),
        ({"external_id": "x", "email": "joão.silva@"}, {"email": ["invalid_email_format"]}),
        ({"external_id": "x", "email": "a@b.com,"}, {"email": ["invalid_email_format"]}),
        ({"external_id": "x", "country": "USA"}, {"country": ["not_a_valid_country_code"]}),
        ({"external_id": "x", "shipping_address": {"country": "ZZ"}},
         {"shipping_country": ["not_a_valid_country_code"]}),
        ({"external_id": "x", "timezone": "America/Guadeloupe"},
         {"timezone": ["invalid_timezone"]}),
        ({"external_id": "x", "timezone": "Europe/Kiev"}, {"timezone": ["invalid_timezone"]}),
        ({"external_id": "x", "billing_configuration": {"document_locale": "xx"}},
         {"document_locale": ["not_a_valid_language_code"]}),
        ({"external_id": "x", "billing_configuration": {"document_locale": ""}},
         {"document_locale": ["not_a_valid_language_code"]}),
        ({"external_id": "x", "customer_type": "default_type"},
         {"customer_type": ["value_is_invalid"]}),
        ({"external_id": "x", "account_type": "reseller"}, {"account_type": ["value_is_invalid"]}),
        ({"external_id": "x", "finalize_zero_amount_invoice": "bad value"},
         {"finalize_zero_amount_invoice": ["invalid_value"]}),
        ({"external_id": "x", "billing_configuration": {"invoice_grace_period": -1}},
         {"invoice_grace_period": ["value_is_out_of_range"]}),
        ({"external_id": "x", "net_payment_term": -1},
         {"net_payment_term": ["value_is_out_of_range"]}),
        ({"external_id": "x", "net_payment_term": "soon"},
         {"net_payment_term": ["value_is_invalid"]}),
        ({"external_id": "x", "billing_configuration": {"payment_provider": "paypal"}},
         {"payment_provider": ["value_is_invalid"]}),
        ({"external_id": "x", "billing_configuration": {
            "subscription_invoice_issuing_date_anchor": "tomorrow"}},
         {"subscription_invoice_issuing_date_anchor": ["value_is_invalid"]}),
        ({"external_id": "x", "metadata": [{"key": f"k{i}", "value": "v"} for i in range(6)]},
         {"metadata": ["invalid_count"]}),
        ({"external_id": "x", "metadata": [{"key": "k" * 21, "value": "v"}]},
         {"key": ["value_is_too_long"]}),
        ({"external_id": "x", "metadata": [{"key": "k", "value": "v" * 101}]},
         {"value": ["value_is_too_long"]}),
        ({"external_id": "x", "metadata": [{"key": "k"}]}, {"value": ["value_is_mandatory"]}),
        ({"external_id": "x", "metadata": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]},
         {"key": ["value_already_exist"]}),
        ({"external_id": "x", "metadata": "nope"}, {"metadata": ["value_is_invalid"]}),
        ({"external_id": "x", "name": 12}, {"name": ["value_is_invalid"]}),
        ({"external_id": 12}, {"external_id": ["value_is_invalid"]}),
        ({"external_id": "x", "tax_codes": "vat"}, {"tax_codes": ["value_is_invalid"]}),
        ({"external_id": "x", "skip_invoice_custom_sections": True,
          "invoice_custom_section_codes": ["a"]},
         {"invoice_custom_sections": ["skip_sections_and_selected_ids_sent_together"]}),
    ],
)  # fmt: skip
def test_invalid_customer_is_refused_and_not_written(
    http: httpx.Client, customer: dict[str, Any], details: dict[str, Any]
) -> None:
    refused(http.post("/customers", json={"customer": customer}), details)
    assert count(http) == 0


def test_invalid_update_writes_nothing(http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "c", "name": "Before"}})
    refused(
        http.post(
            "/customers",
            json={"customer": {"external_id": "c", "name": "After", "country": "XX"}},
        ),
        {"country": ["not_a_valid_country_code"]},
    )
    assert http.get("/customers/c").json()["customer"]["name"] == "Before"


def test_unknown_tax_code_is_404_and_writes_nothing(http: httpx.Client) -> None:
    response = http.post(
        "/customers", json={"customer": {"external_id": "t", "tax_codes": ["unknown"]}}
    )
    assert response.status_code == 404
    assert response.json() == {"status": 404, "error": "Not Found", "code": "tax_not_found"}
    assert count(http) == 0


def test_unknown_billing_entity_is_404(http: httpx.Client) -> None:
    response = http.post(
        "/customers", json={"customer": {"external_id": "b", "billing_entity_code": "nope"}}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "billing_entity_not_found"
    assert count(http) == 0


MISSING_ROOT = {
    "status": 400,
    "error": "BadRequest: param is missing or the value is empty or invalid: customer",
}


@pytest.mark.parametrize(
    "body", [b"{}", b'{"customer":"customer"}', b'{"customer":{}}', b"[]", b'"x"', b""]
)
def test_missing_customer_object_is_400(http: httpx.Client, body: bytes) -> None:
    response = http.post("/customers", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == MISSING_ROOT


@pytest.mark.parametrize("body", [b"{", b'{"customer": {"external_id": "x",}}', b"\xff\xfe"])
def test_malformed_json_is_400(http: httpx.Client, body: bytes) -> None:
    response = http.post("/customers", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    payload = response.json()
    assert payload["status"] == 400 and payload["error"].startswith("BadRequest")
    assert count(http) == 0


def test_unknown_customer_is_404(http: httpx.Client) -> None:
    for method in ("GET", "DELETE"):
        response = http.request(method, "/customers/nobody")
        assert response.status_code == 404
        assert response.json() == {
            "status": 404,
            "error": "Not Found",
            "code": "customer_not_found",
        }


def test_list_filter_refusals(http: httpx.Client) -> None:
    bad_country = http.get("/customers", params={"countries[]": ["US", "INVALID"]})
    assert bad_country.status_code == 422
    [message] = bad_country.json()["error_details"]["countries"]["1"]
    assert message.startswith("must be one of: AD, AE,") and message.endswith(
        "XK, YE, YT, ZA, ZM, ZW"
    )
    assert http.get("/customers", params={"has_tax_identification_number": "invalid"}).json()[
        "error_details"
    ] == {"has_tax_identification_number": ["must be one of: true, false"]}
    assert http.get(
        "/customers", params={"has_customer_type": "false", "customer_type": "company"}
    ).json()["error_details"] == {"customer_type": ["must be nil when has_customer_type is false"]}
    assert http.get("/customers", params={"customer_type": "robot"}).status_code == 422
    assert http.get("/customers", params={"currencies[]": "eur"}).status_code == 422
    assert http.get("/customers", params={"account_type[]": "x"}).status_code == 422
    assert http.get(
        "/customers", params={"metadata[is_synced]": "true", "metadata[nested][a]": "1"}
    ).json()["error_details"] == {"metadata": {"nested": ["must be a string"]}}
    unknown_entity = http.get("/customers", params={"billing_entity_codes[]": "nope"})
    assert unknown_entity.status_code == 404
    assert unknown_entity.json()["code"] == "billing_entity_not_found"
