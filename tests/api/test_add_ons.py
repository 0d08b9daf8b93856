"""Add-ons through the official client and raw HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.add_on import AddOn

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def test_lifecycle(lago: Client, http: httpx.Client) -> None:
    http.post("/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": 20}})
    created = lago.add_ons.create(
        AddOn(name="Setup", code="setup", amount_cents=12_000, amount_currency="EUR",
              description="One-time setup", invoice_display_name="Setup fee", tax_codes=["vat"])
    )  # fmt: skip
    assert (created.name, created.code, created.amount_cents, created.amount_currency) == (
        "Setup", "setup", 12_000, "EUR",
    )  # fmt: skip
    assert created.invoice_display_name == "Setup fee"
    assert [t.code for t in created.taxes.__root__] == ["vat"]
    assert lago.add_ons.find("setup").lago_id == created.lago_id
    updated = lago.add_ons.update(AddOn(amount_cents=15_000, tax_codes=[]), "setup")
    assert updated.amount_cents == 15_000 and updated.name == "Setup"
    assert updated.taxes.__root__ == []
    lago.add_ons.create(AddOn(name="B", code="b", amount_cents=1, amount_currency="USD"))
    page = lago.add_ons.find_all({"per_page": 1})
    assert page["meta"]["total_count"] == 2 and len(page["add_ons"]) == 1
    assert lago.add_ons.destroy("setup").code == "setup"
    with pytest.raises(LagoApiError) as missing:
        lago.add_ons.find("setup")
    assert missing.value.status_code == 404
    body = {"name": "S", "code": "setup", "amount_cents": 1, "amount_currency": "EUR"}
    again = http.post("/add_ons", json={"add_on": body})
    assert again.status_code == 200


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"name": None}, {"name": ["value_is_mandatory"]}),
        ({"code": ""}, {"code": ["value_is_mandatory"]}),
        ({"amount_cents": -1}, {"amount_cents": ["value_is_out_of_range"]}),
        ({"amount_cents": None}, {"amount_cents": ["value_is_mandatory"]}),
        ({"amount_currency": "EURO"}, {"amount_currency": ["value_is_invalid"]}),
        ({"tax_codes": "vat"}, {"tax_codes": ["value_is_invalid"]}),
    ],
)
def test_refusals(http: httpx.Client, fields: dict[str, Any], details: Any) -> None:
    body = {
        "name": "Setup",
        "code": "setup",
        "amount_cents": 100,
        "amount_currency": "EUR",
        **fields,
    }
    response = http.post("/add_ons", json={"add_on": body})
    assert response.json() == {**UNPROCESSABLE, "error_details": details}
    assert http.get("/add_ons").json()["meta"]["total_count"] == 0


def test_duplicate_unknown_and_tax(http: httpx.Client) -> None:
    body = {"name": "Setup", "code": "setup", "amount_cents": 100, "amount_currency": "EUR"}
    http.post("/add_ons", json={"add_on": body})
    assert http.post("/add_ons", json={"add_on": body}).json()["error_details"] == {
        "code": ["value_already_exist"]
    }
    assert http.get("/add_ons/nope").json()["code"] == "add_on_not_found"
    response = http.post("/add_ons", json={"add_on": {**body, "code": "x", "tax_codes": ["no"]}})
    assert response.json()["code"] == "tax_not_found"
    assert http.get("/add_ons").json()["meta"]["total_count"] == 1
