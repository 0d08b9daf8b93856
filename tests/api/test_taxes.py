"""Taxes through the official client, and their refusals over raw HTTP."""

from __future__ import annotations

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.tax import Tax


def test_tax_lifecycle(lago: Client, http: httpx.Client) -> None:
    created = lago.taxes.create(Tax(name="VAT", code="vat_fr", rate=20.0, description="French VAT"))
    assert (created.name, created.code, created.rate, created.description) == (
        "VAT", "vat_fr", 20.0, "French VAT",
    )  # fmt: skip
    assert created.applied_to_organization is False

    found = lago.taxes.find("vat_fr")
    assert found.lago_id == created.lago_id

    updated = lago.taxes.update(Tax(rate=5.5, applied_to_organization=True), "vat_fr")
    assert updated.rate == 5.5 and updated.name == "VAT"
    assert updated.applied_to_organization is True
    assert updated.applied_to_billing_entities_codes == ["acme_corp"]

    http.post("/customers", json={"customer": {"external_id": "c1", "tax_codes": ["vat_fr"]}})
    http.post("/customers", json={"customer": {"external_id": "c2", "tax_codes": ["vat_fr"]}})
    assert http.get("/taxes/vat_fr").json()["tax"]["customers_count"] == 2

    lago.taxes.create(Tax(name="Other", code="other", rate=1.25))
    listed = lago.taxes.find_all({"per_page": 1})
    assert listed["meta"]["total_count"] == 2 and len(listed["taxes"]) == 1

    deleted = lago.taxes.destroy("vat_fr")
    assert deleted.code == "vat_fr"
    with pytest.raises(LagoApiError) as gone:
        lago.taxes.find("vat_fr")
    assert gone.value.status_code == 404
    # Deleting a tax detaches it from customers, and its code can be used again.
    assert http.get("/customers/c1").json()["customer"]["taxes"] == []
    again = lago.taxes.create(Tax(name="VAT 2", code="vat_fr", rate=10.0))
    assert again.lago_id != created.lago_id


def test_rate_keeps_its_decimals(http: httpx.Client) -> None:
    body = http.post("/taxes", json={"tax": {"name": "T", "code": "t", "rate": "8.875"}})
    assert body.json()["tax"]["rate"] == 8.875


@pytest.mark.parametrize(
    ("tax", "details"),
    [
        ({"code": "x", "rate": 1}, {"name": ["value_is_mandatory"]}),
        ({"name": "x", "rate": 1}, {"code": ["value_is_mandatory"]}),
        ({"name": "x", "code": "x"}, {"rate": ["value_is_mandatory"]}),
        ({"name": "x", "code": "x", "rate": "abc"}, {"rate": ["value_is_invalid"]}),
        ({"name": "x", "code": "x", "rate": -1}, {"rate": ["value_is_out_of_range"]}),
        ({"name": "x", "code": "x", "rate": 1, "applied_to_organization": "yes"},
         {"applied_to_organization": ["value_is_invalid"]}),
    ],
)  # fmt: skip
def test_invalid_tax_is_refused(http: httpx.Client, tax: dict, details: dict) -> None:
    response = http.post("/taxes", json={"tax": tax})
    assert response.status_code == 422
    assert response.json()["error_details"] == details
    assert http.get("/taxes").json()["meta"]["total_count"] == 0


def test_duplicate_code_is_refused(http: httpx.Client) -> None:
    http.post("/taxes", json={"tax": {"name": "A", "code": "a", "rate": 1}})
    http.post("/taxes", json={"tax": {"name": "B", "code": "b", "rate": 1}})
    for response in (
        http.post("/taxes", json={"tax": {"name": "A2", "code": "a", "rate": 2}}),
        http.put("/taxes/b", json={"tax": {"code": "a"}}),
    ):
        assert response.status_code == 422
        assert response.json()["error_details"] == {"code": ["value_already_exist"]}
    assert http.get("/taxes/b").json()["tax"]["code"] == "b"


def test_unknown_tax_and_missing_root(http: httpx.Client) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = http.request(method, "/taxes/nope", json={"tax": {"name": "x"}})
        assert response.status_code == 404
        assert response.json() == {"status": 404, "error": "Not Found", "code": "tax_not_found"}
    response = http.post("/taxes", json={"name": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == (
        "BadRequest: param is missing or the value is empty or invalid: tax"
    )
