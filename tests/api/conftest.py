from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.invoice import InvoiceFee, InvoiceFeesList, OneOffInvoice

from tests.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on a local port for webhook deliveries."""
    with running_receiver() as running:
        yield running


@pytest.fixture
def invoice(http: httpx.Client, lago: Client) -> Any:
    """A one-off invoice of 10 000 + 20 % VAT (12 000), with one fee."""
    http.post("/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": 20}})
    body = {"name": "Setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR",
            "tax_codes": ["vat"]}  # fmt: skip
    assert http.post("/add_ons", json={"add_on": body}).status_code == 200
    customer = {"external_id": "cus", "name": "Jane Doe", "email": "jane@example.com"}
    assert http.post("/customers", json={"customer": customer}).status_code == 200
    fees = InvoiceFeesList(__root__=[InvoiceFee(add_on_code="setup", units=1)])
    return lago.invoices.create(
        OneOffInvoice(external_customer_id="cus", currency="EUR", fees=fees)
    )
