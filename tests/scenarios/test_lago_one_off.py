"""Lago's scenario spec invoices/one_off_spec.rb: the taxes of a one-off invoice's fee
are those the request names, else the customer's, else the organization's (its default
billing entity's). An add-on of 100 EUR without taxes of its own.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing


@pytest.mark.parametrize(
    ("customer_taxes", "named", "codes", "taxes"),
    [
        # Named in the request: 20 % + 10 %, not the organization's 25 %.
        ([], ["vat_20", "vat_10"], ["vat_10", "vat_20"], 3_000),
        # Nothing named, nothing on the customer: the organization's.
        ([], None, ["default_tax"], 2_500),
        (["customer_vat"], None, ["customer_vat"], 800),
        (["customer_vat"], ["explicit_vat"], ["explicit_vat"], 500),
    ],
)
def test_one_off_invoice_taxes(
    database: Database, org: Org, http: httpx.Client, customer_taxes: list[str],
    named: list[str] | None, codes: list[str], taxes: int,
) -> None:  # fmt: skip
    billing = Billing(database, org)
    billing.tax("default_tax", "25", applied_to_organization=True)
    for code, rate in (("vat_20", "20"), ("vat_10", "10"), ("customer_vat", "8"),
                       ("explicit_vat", "5")):  # fmt: skip
        billing.tax(code, rate)
    billing.customer("cus", timezone="UTC", currency="EUR", tax_codes=customer_taxes)
    add_on = {"name": "setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR"}
    assert http.post("/add_ons", json={"add_on": add_on}).status_code == 200
    fee: dict[str, Any] = {"add_on_code": "setup"}
    if named is not None:
        fee["tax_codes"] = named
    response = http.post("/invoices", json={"invoice": {
        "external_customer_id": "cus", "currency": "EUR", "fees": [fee]}})  # fmt: skip
    assert response.status_code == 200, response.text
    invoice = response.json()["invoice"]
    assert invoice["status"] == "finalized"
    assert invoice["taxes_amount_cents"] == taxes
    [one] = billing.invoices()
    [found] = one.fees
    assert sorted(found.taxes) == codes
    assert found.taxes_amount_cents == taxes
