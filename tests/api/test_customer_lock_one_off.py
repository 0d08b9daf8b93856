"""A one-off invoice locks the customer's currency like any other invoice (Lago's
classic `editable?`: no invoice in any status; customers.md §6)."""

from __future__ import annotations

import httpx


def test_currency_locks_after_a_one_off_invoice(http: httpx.Client) -> None:
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 1000, "amount_currency": "EUR"}
    assert http.post("/add_ons", json={"add_on": add_on}).status_code == 200
    customer = {"external_id": "one_off_lock", "currency": "EUR"}
    assert http.post("/customers", json={"customer": customer}).status_code == 200
    # Still editable: the currency may change.
    changed = http.post("/customers", json={"customer": {**customer, "currency": "USD"}})
    assert changed.json()["customer"]["currency"] == "USD"
    invoice = {"external_customer_id": "one_off_lock", "currency": "USD",
               "fees": [{"add_on_code": "setup", "units": 1}]}  # fmt: skip
    assert http.post("/invoices", json={"invoice": invoice}).status_code == 200
    refused = http.post("/customers", json={"customer": {**customer, "currency": "EUR"}})
    assert refused.status_code == 422
    assert refused.json()["error_details"] == {"currency": ["currencies_does_not_match"]}
    assert http.get("/customers/one_off_lock").json()["customer"]["currency"] == "USD"
