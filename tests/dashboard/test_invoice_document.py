"""The invoice's page shows the document the customer receives (the HTML the PDF is made
from) and offers its PDF; both only to the invoice's own organization."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from meterbill.core.db import Database
from tests.conftest import Org, make_org
from tests.dashboard.test_customer_pages import rest

HOSTILE = "<script>alert(1)</script> & Co"


def _invoice(client: TestClient, org: Org) -> Any:
    rest(client, org, "POST", "/customers", {"customer": {
        "external_id": "doc", "name": HOSTILE, "currency": "EUR"}})  # fmt: skip
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 5000, "amount_currency": "EUR"}
    rest(client, org, "POST", "/add_ons", {"add_on": add_on})
    return rest(client, org, "POST", "/invoices", {"invoice": {
        "external_customer_id": "doc", "currency": "EUR",
        "fees": [{"add_on_code": "setup", "units": 1}]}})["invoice"]  # fmt: skip


def test_the_invoice_page_frames_its_document_and_offers_the_pdf(
    client: TestClient, org: Org, database: Database
) -> None:
    invoice = _invoice(client, org)
    page = client.get(f"/invoices/{invoice['lago_id']}")
    assert page.status_code == 200
    assert f'src="/invoices/{invoice["lago_id"]}/document"' in page.text
    assert f'href="/invoices/{invoice["lago_id"]}/document.pdf"' in page.text

    document = client.get(f"/invoices/{invoice['lago_id']}/document")
    assert document.status_code == 200
    assert document.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'self'" in document.headers["content-security-policy"]
    assert invoice["number"] in document.text
    # The customer's name is data, never markup.
    assert "<script>alert(1)</script>" not in document.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in document.text

    pdf = client.get(f"/invoices/{invoice['lago_id']}/document.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert f'filename="{invoice["number"]}.pdf"' in pdf.headers["content-disposition"]

    # Another organization's invoice does not exist here.
    other = make_org(database, "Other")
    foreign = _invoice(client, other)
    for path in ("document", "document.pdf"):
        assert client.get(f"/invoices/{foreign['lago_id']}/{path}").status_code == 404
