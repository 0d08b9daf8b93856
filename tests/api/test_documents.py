"""Documents through the official client and raw HTTP: `POST …/download` answers
"not yet" (200, empty body) until the background generator has made the PDF, then the
object with a signed `file_url` that serves the file without an API key; webhooks
when the file exists; drafts never get one; failures leave the invoice finalized and
are tried again."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import facturx
import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.credit_note import CreditNote, Item, Items
from lago_python_client.models.invoice import InvoiceFee, InvoiceFeesList, OneOffInvoice
from lxml import etree
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.documents import einvoice, links
from meterbill.documents.models import Document
from meterbill.documents.service import generate_due
from meterbill.documents.storage import LocalStorage
from tests.conftest import Org


def _fetch(server: str, url: str) -> httpx.Response:
    """A link names the configured public address; this test server has its own port."""
    parts = urlsplit(url)
    return httpx.get(f"{server}{parts.path}?{parts.query}")


def _statuses(database: Database, org: Org) -> list[tuple[str, str]]:
    with database.transaction(write=False) as session:
        return [
            (row.owner_type, row.status)
            for row in session.execute(
                select(Document.owner_type, Document.status)
                .where(Document.organization_id == org.id)
                .order_by(Document.created_at, Document.owner_type)
            )
        ]


def test_download_is_not_ready_then_serves_the_signed_pdf(
    lago: Client, http: httpx.Client, invoice: Any, database: Database, storage: LocalStorage,
    server: str, org: Org,
) -> None:  # fmt: skip
    assert invoice.status == "finalized" and invoice.file_url is None
    # Made in the background, never in the request: not yet.
    assert lago.invoices.download(invoice.lago_id) is None
    raw = http.post(f"/invoices/{invoice.lago_id}/download")
    assert (raw.status_code, raw.content) == (200, b"")
    assert _statuses(database, org) == [("invoice", "pending")]

    report = generate_due(database, utc_now(), storage, organization_id=org.id)
    assert (report.generated, report.failed) == (1, 0)
    assert _statuses(database, org) == [("invoice", "generated")]
    assert storage.exists(f"{org.id}/invoices/{invoice.number}.pdf")

    downloaded = lago.invoices.download(invoice.lago_id)
    assert downloaded is not None and downloaded.lago_id == invoice.lago_id
    url = downloaded.file_url
    assert url.startswith("http://localhost:3000/documents/")
    assert urlsplit(url).path.endswith(f"/pdf/{invoice.number}.pdf")
    assert downloaded.xml_url is None  # not an e-invoicing issuer
    assert lago.invoices.find(invoice.lago_id).file_url is not None
    # The link needs no API key, and serves the PDF.
    served = _fetch(server, url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/pdf"
    assert served.content.startswith(b"%PDF-")
    assert served.content == storage.get(f"{org.id}/invoices/{invoice.number}.pdf")
    # A link altered or past its expiry grants nothing.
    query = parse_qs(urlsplit(url).query)
    forged = url.replace(query["signature"][0], "0" * 64)
    assert _fetch(server, forged).status_code == 403
    later = url.replace(query["expires"][0], str(int(query["expires"][0]) + 1))
    assert _fetch(server, later).status_code == 403
    assert _fetch(server, url.replace("/pdf/", "/xml/")).status_code == 403


def test_a_link_expires(invoice: Any, database: Database, storage: LocalStorage, org: Org) -> None:
    generate_due(database, utc_now(), storage, organization_id=org.id)
    with database.transaction(write=False) as session:
        document = session.scalars(
            select(Document).where(Document.organization_id == org.id)
        ).first()
        assert document is not None
        now = utc_now()
        url = links.file_link(document, "pdf", "x.pdf", now)
        query = parse_qs(urlsplit(url).query)
        expires, signature = int(query["expires"][0]), query["signature"][0]
        assert links.valid(document, "pdf", expires, signature, now + timedelta(days=6))
        assert not links.valid(document, "pdf", expires, signature, now + timedelta(days=8))


def test_credit_note_download_and_generated_webhooks(
    lago: Client, http: httpx.Client, invoice: Any, database: Database, storage: LocalStorage,
    server: str, org: Org,
) -> None:  # fmt: skip
    endpoint = {"webhook_url": "http://127.0.0.1:9/hooks", "signature_algo": "hmac"}
    assert http.post("/webhook_endpoints", json={"webhook_endpoint": endpoint}).status_code == 200
    fee_id = invoice.fees.__root__[0].lago_id
    note = lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, reason="other", credit_amount_cents=1_200,
                   items=Items(__root__=[Item(fee_id=fee_id, amount_cents=1_000)]))
    )  # fmt: skip
    assert note.file_url is None
    assert lago.credit_notes.download(note.lago_id) is None
    assert generate_due(database, utc_now(), storage, organization_id=org.id).generated == 2
    downloaded = lago.credit_notes.download(note.lago_id)
    assert downloaded is not None
    assert urlsplit(downloaded.file_url).path.endswith(f"/pdf/{note.number}.pdf")
    served = _fetch(server, downloaded.file_url)
    assert (served.status_code, served.content[:5]) == (200, b"%PDF-")
    # One webhook each, once the file exists, carrying the object with its link.
    log = http.get("/webhooks", params={"per_page": 100}).json()["webhooks"]
    generated = {w["webhook_type"]: w["payload"] for w in log if w["webhook_type"].endswith(
        ".generated")}  # fmt: skip
    assert sorted(generated) == ["credit_note.generated", "invoice.generated"]
    assert generated["invoice.generated"]["invoice"]["lago_id"] == invoice.lago_id
    assert generated["invoice.generated"]["invoice"]["file_url"].startswith("http://localhost")
    assert generated["credit_note.generated"]["credit_note"]["lago_id"] == note.lago_id
    assert generated["credit_note.generated"]["credit_note"]["file_url"] is not None
    # Nothing left to make: a second run does nothing and sends nothing more.
    assert generate_due(database, utc_now(), storage, organization_id=org.id).generated == 0


def test_voided_invoices_are_not_offered(
    lago: Client, http: httpx.Client, invoice: Any, database: Database, storage: LocalStorage,
    org: Org,
) -> None:  # fmt: skip
    generate_due(database, utc_now(), storage, organization_id=org.id)
    url = lago.invoices.download(invoice.lago_id).file_url
    voided = lago.invoices.void(invoice.lago_id)
    assert voided.status == "voided"
    # A voided invoice keeps its file, but is no longer offered for download (Lago).
    assert urlsplit(lago.invoices.find(invoice.lago_id).file_url).path == urlsplit(url).path
    with pytest.raises(LagoApiError) as refused:
        lago.invoices.download(invoice.lago_id)
    assert refused.value.status_code == 404
    answer = http.post(f"/invoices/{invoice.lago_id}/download")
    assert answer.json() == {"status": 404, "error": "Not Found", "code": "invoice_not_found"}
    for path in ("/invoices/nope/download", "/credit_notes/nope/download"):
        assert http.post(path).status_code == 404
    # GET is not a route (Lago's odd "200 empty" is for POST only).
    assert http.get(f"/invoices/{invoice.lago_id}/download").status_code in (404, 405)
    assert http.post(f"/invoices/{invoice.lago_id}/download_xml").status_code == 404
    # Voided, the document stays made.
    assert _statuses(database, org) == [("invoice", "generated")]


def test_a_pdf_failure_leaves_the_invoice_finalized_and_is_tried_again(
    lago: Client, http: httpx.Client, invoice: Any, database: Database, storage: LocalStorage,
    org: Org, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    now = utc_now()
    # The storage refuses once (a full disk): retried after a back-off.
    calls = []
    real_put = LocalStorage.put

    def failing_put(self: LocalStorage, key: str, content: bytes) -> None:
        calls.append(key)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        real_put(self, key, content)

    monkeypatch.setattr(LocalStorage, "put", failing_put)
    report = generate_due(database, now, storage, organization_id=org.id)
    assert (report.generated, report.failed) == (0, 1)
    assert "No space left on device" in report.errors[0]
    assert lago.invoices.find(invoice.lago_id).status == "finalized"
    assert _statuses(database, org) == [("invoice", "pending")]
    # Not before its back-off (1⁴ + 2 s at least)...
    assert (
        generate_due(
            database, now + timedelta(seconds=1), storage, organization_id=org.id
        ).generated
        == 0
    )
    # ...and then made.
    assert (
        generate_due(
            database, now + timedelta(seconds=10), storage, organization_id=org.id
        ).generated
        == 1
    )
    assert _statuses(database, org) == [("invoice", "generated")]


def test_without_the_pdf_engine_the_document_fails_clearly_and_a_download_asks_again(
    lago: Client, http: httpx.Client, invoice: Any, database: Database, storage: LocalStorage,
    org: Org, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    import weasyprint

    # WeasyPrint (or the system's Pango) missing: importing it fails.
    monkeypatch.setitem(sys.modules, "weasyprint", None)
    report = generate_due(database, utc_now(), storage, organization_id=org.id)
    assert (report.generated, report.failed) == (0, 1)
    assert _statuses(database, org) == [("invoice", "failed")]
    assert any("not generated" in record.getMessage() for record in caplog.records)
    assert lago.invoices.find(invoice.lago_id).status == "finalized"
    assert http.get(f"/invoices/{invoice.lago_id}").status_code == 200
    # Installed again: a download asks for the document anew.
    monkeypatch.setitem(sys.modules, "weasyprint", weasyprint)
    assert lago.invoices.download(invoice.lago_id) is None
    assert _statuses(database, org) == [("invoice", "pending")]
    assert generate_due(database, utc_now(), storage, organization_id=org.id).generated == 1
    assert lago.invoices.download(invoice.lago_id).file_url is not None


def test_xml_only_for_einvoicing_issuers(http: httpx.Client, invoice: Any) -> None:
    # Lago answers "not yet" forever for an issuer outside France and Germany; meterbill
    # says why.
    answer = http.post(f"/invoices/{invoice.lago_id}/download_xml")
    assert answer.status_code == 422
    assert answer.json()["error_details"] == {"xml": ["einvoicing_not_available_for_country"]}


def test_a_french_issuer_gets_a_factur_x_pdf_and_its_xml(
    lago: Client, http: httpx.Client, database: Database, storage: LocalStorage, server: str,
    org: Org,
) -> None:  # fmt: skip
    settings = {"country": "FR", "legal_name": "Acme SAS", "tax_identification_number":
                "FR12345678901", "address_line1": "1 rue de la Paix", "zipcode": "75002",
                "city": "Paris"}  # fmt: skip
    assert http.put("/organizations", json={"organization": settings}).status_code == 200
    http.post("/taxes", json={"tax": {"name": "TVA", "code": "tva", "rate": 20}})
    body = {"name": "Setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR",
            "tax_codes": ["tva"]}  # fmt: skip
    assert http.post("/add_ons", json={"add_on": body}).status_code == 200
    customer = {"external_id": "fr", "name": "Client SARL", "country": "FR", "currency": "EUR"}
    assert http.post("/customers", json={"customer": customer}).status_code == 200
    fees = InvoiceFeesList(__root__=[InvoiceFee(add_on_code="setup", units=1)])
    invoice = lago.invoices.create(
        OneOffInvoice(external_customer_id="fr", currency="EUR", fees=fees)
    )
    answer = http.post(f"/invoices/{invoice.lago_id}/download_xml")
    assert (answer.status_code, answer.content) == (200, b"")
    assert generate_due(database, utc_now(), storage, organization_id=org.id).generated == 1
    made = http.post(f"/invoices/{invoice.lago_id}/download_xml").json()["invoice"]
    assert urlsplit(made["xml_url"]).path.endswith(f"/xml/{invoice.number}.xml")
    xml = _fetch(server, made["xml_url"])
    assert (xml.status_code, xml.headers["content-type"]) == (200, "application/xml")
    einvoice.check(xml.content)  # the Factur-X EN 16931 schema
    root = etree.fromstring(xml.content)
    assert root.findtext(".//{*}ExchangedDocument/{*}ID") == invoice.number
    assert root.findtext(".//{*}GrandTotalAmount") == "120.00"
    assert root.findtext(".//{*}DuePayableAmount") == "120.00"
    # The PDF is a Factur-X PDF/A-3 carrying the same XML.
    pdf = _fetch(server, made["file_url"]).content
    flavor_xml = facturx.get_facturx_xml_from_pdf(pdf)[1]
    assert flavor_xml == xml.content
