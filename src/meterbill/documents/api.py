"""Downloads: Lago's `POST …/download` routes, and the signed links that serve the files.

`POST /invoices/{id}/download` answers the invoice once its PDF exists and, until
then, 200 with an empty body (the official client reads that as "asked for"); the
file itself is fetched from `file_url`, which needs no API key.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from meterbill.core.errors import Forbidden, NotFound, ValidationFailed
from meterbill.core.http import Context, ok
from meterbill.core.times import utc_now
from meterbill.credit_notes.api import render_credit_notes
from meterbill.credit_notes.models import CreditNote
from meterbill.credit_notes.service import find_credit_note
from meterbill.documents import links, service
from meterbill.documents.models import Document
from meterbill.documents.storage import Storage
from meterbill.invoices.api import render_invoices
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.models import Invoice
from meterbill.organizations.service import get_organization

router = APIRouter(prefix="/api/v1")
files_router = APIRouter()

MEDIA_TYPES = {"pdf": "application/pdf", "xml": "application/xml"}


def _not_ready() -> Response:
    """Lago's `head :ok`: nothing yet (an empty body is what its clients test for)."""
    return Response(status_code=200, content=b"", media_type="text/plain")


@router.post("/invoices/{invoice_id}/download")
@router.post("/invoices/{invoice_id}/download_pdf")
def download_invoice(ctx: Context, invoice_id: str) -> Response:
    return _download(ctx, "invoice", invoice_id, xml=False)


@router.post("/invoices/{invoice_id}/download_xml")
def download_invoice_xml(ctx: Context, invoice_id: str) -> Response:
    return _download(ctx, "invoice", invoice_id, xml=True)


@router.post("/credit_notes/{credit_note_id}/download")
@router.post("/credit_notes/{credit_note_id}/download_pdf")
def download_credit_note(ctx: Context, credit_note_id: str) -> Response:
    return _download(ctx, "credit_note", credit_note_id, xml=False)


@router.post("/credit_notes/{credit_note_id}/download_xml")
def download_credit_note_xml(ctx: Context, credit_note_id: str) -> Response:
    return _download(ctx, "credit_note", credit_note_id, xml=True)


def _download(ctx: Context, owner_type: str, owner_id: str, *, xml: bool) -> Response:
    with ctx.db.transaction() as session:
        owner: Invoice | CreditNote = (
            find_invoice(session, ctx.organization_id, owner_id)
            if owner_type == "invoice"
            else find_credit_note(session, ctx.organization_id, owner_id)
        )
        # Lago: finalized only (a voided invoice keeps its file_url, but is not offered).
        if owner.status != "finalized":
            raise NotFound(owner_type)
        if xml:
            _require_einvoicing(session, ctx)
        if service.request(session, owner_type, owner, ctx.now) is None:
            return _not_ready()
        if isinstance(owner, Invoice):
            return ok({"invoice": render_invoices(session, [owner], ctx, full=False)[0]})
        return ok({"credit_note": render_credit_notes(session, [owner], ctx)[0]})


def _require_einvoicing(session: object, ctx: Context) -> None:
    """Lago answers "not yet" forever for an issuer without e-invoicing; saying why is
    kinder."""
    from meterbill.documents import einvoice

    organization = get_organization(session, ctx.organization_id)  # type: ignore[arg-type]
    if not einvoice.applies(organization):
        raise ValidationFailed({"xml": ["einvoicing_not_available_for_country"]})


@files_router.get("/documents/{document_id}/{kind}/{filename}", include_in_schema=False)
def document_file(
    request: Request, document_id: str, kind: str, filename: str, expires: int = 0,
    signature: str = "",
) -> Response:  # fmt: skip
    """A document's file, for whoever holds a valid link (no API key: links are handed
    to customers and accounting tools)."""
    try:
        key = uuid.UUID(document_id)
    except ValueError:
        raise NotFound("document") from None
    if kind not in MEDIA_TYPES:
        raise NotFound("document")
    db = request.app.state.database
    storage: Storage = request.app.state.storage
    with db.transaction(write=False) as session:
        document = session.get(Document, key)
        if document is None:
            raise NotFound("document")
        if not links.valid(document, kind, expires, signature, utc_now()):
            raise Forbidden("expired_or_invalid_link")
        stored = document.pdf_key if kind == "pdf" else document.xml_key
    content = storage.get(stored) if stored else None
    if content is None:
        raise NotFound("document")
    return Response(
        content,
        media_type=MEDIA_TYPES[kind],
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, max-age=300",
        },
    )
