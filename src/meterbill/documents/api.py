"""Downloads: Lago's `POST …/download` routes, and the signed links that serve the files.

`POST /invoices/{id}/download` answers the invoice once its PDF exists and, until
then, 200 with an empty body (the official client reads that as "asked for"); the
file itself is fetched from `file_url`, which needs no API key.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from meterbill.core.http import Context, ok
from meterbill.core.times import utc_now
from meterbill.credit_notes.api import render_credit_notes
from meterbill.credit_notes.models import CreditNote
from meterbill.credit_notes.service import find_credit_note
from meterbill.documents import service
from meterbill.invoices.api import render_invoices
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.models import Invoice

router = APIRouter(prefix="/api/v1")
files_router = APIRouter()


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
        if service.request(session, owner_type, owner, ctx.now, xml=xml) is None:
            return _not_ready()
        if isinstance(owner, Invoice):
            return ok({"invoice": render_invoices(session, [owner], ctx, full=False)[0]})
        return ok({"credit_note": render_credit_notes(session, [owner], ctx)[0]})


@files_router.get("/documents/{document_id}/{kind}/{filename}", include_in_schema=False)
def document_file(
    request: Request, document_id: str, kind: str, filename: str, expires: int = 0,
    signature: str = "",
) -> Response:  # fmt: skip
    """A document's file, for whoever holds a valid link (no API key: links are handed
    to customers and accounting tools)."""
    with request.app.state.database.transaction(write=False) as session:
        content = service.linked_file(
            session, request.app.state.storage, document_id, kind, expires, signature, utc_now()
        )
    return Response(
        content,
        media_type=service.MEDIA_TYPES[kind],
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, max-age=300",
        },
    )
