"""The documents part of the API reference: Lago's download routes."""

from __future__ import annotations

from meterbill.core.apidoc import Reference, op
from meterbill.credit_notes.docs import ID as CREDIT_NOTE_ID
from meterbill.credit_notes.docs import NOTES
from meterbill.credit_notes.docs import ONE as ONE_CREDIT_NOTE
from meterbill.invoices.docs import INVOICE_ID, INVOICES, ONE_INVOICE

NOT_YET = (
    " Until the file exists (it is made in the background, in a second or so) the answer "
    "is 200 with an empty body (text/plain), and asking again later returns the object with its "
    "signed, expiring `file_url`; an `{kind}.generated` webhook says when it is ready."
)
XML = (
    " Only for an issuer in France or Germany (e-invoicing: a Factur-X / CII XML, also "
    "embedded in the PDF); elsewhere 422."
)


def _download(summary: str, kind: str, path: dict[str, str], response: object,
              extra: str = "") -> object:  # fmt: skip
    description = f"Finalized {kind.replace('_', ' ')}s only." + NOT_YET.format(kind=kind) + extra
    return op(
        summary,
        description,
        response,
        path=path,
        errors=(404, 422) if extra else (404,),
        alternatives=[("text/plain", {"type": "string", "maxLength": 0})],
    )


REFERENCE = Reference(
    tag="Documents",
    schemas={},
    operations={
        ("POST", INVOICES + "/{invoice_id}/download"): _download(
            "Download an invoice's PDF", "invoice", INVOICE_ID, ONE_INVOICE
        ),
        ("POST", INVOICES + "/{invoice_id}/download_pdf"): _download(
            "Download an invoice's PDF", "invoice", INVOICE_ID, ONE_INVOICE
        ),
        ("POST", INVOICES + "/{invoice_id}/download_xml"): _download(
            "Download an invoice's e-invoice XML", "invoice", INVOICE_ID, ONE_INVOICE, XML
        ),
        ("POST", NOTES + "/{credit_note_id}/download"): _download(
            "Download a credit note's PDF", "credit_note", CREDIT_NOTE_ID, ONE_CREDIT_NOTE
        ),
        ("POST", NOTES + "/{credit_note_id}/download_pdf"): _download(
            "Download a credit note's PDF", "credit_note", CREDIT_NOTE_ID, ONE_CREDIT_NOTE
        ),
        ("POST", NOTES + "/{credit_note_id}/download_xml"): _download(
            "Download a credit note's e-invoice XML",
            "credit_note",
            CREDIT_NOTE_ID,
            ONE_CREDIT_NOTE,
            XML,
        ),
    },
)
