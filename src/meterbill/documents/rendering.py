"""Invoices and credit notes as HTML documents, in the customer's document language.

`invoice_html` / `credit_note_html` are the public interface; `pdf.html_to_pdf` turns
their output into a PDF.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from meterbill.credit_notes.models import CreditNote
from meterbill.documents import i18n
from meterbill.documents.views import Document, credit_note_document, invoice_document
from meterbill.invoices.models import Invoice

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATES = {
    "subscription": "invoice.html",
    # One-off and prepaid-credit invoices: one table of items.
    "one_off": "items.html",
    "credit": "items.html",
    "credit_note": "credit_note.html",
}


@cache
def environment(locale: str) -> Environment:
    """One environment per locale (nine at most), its gettext bound to the locale's
    catalog; user data is escaped everywhere."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def render_document(document: Document) -> str:
    template = environment(document.locale).get_template(TEMPLATES[document.kind])
    return template.render(doc=document)


def invoice_html(session: Session, invoice: Invoice, now: datetime) -> str:
    """The invoice's document as a standalone HTML page (styles embedded, no external
    assets): the subscription, one-off or credit layout per its type."""
    return render_document(invoice_document(session, invoice, now))


def credit_note_html(session: Session, note: CreditNote, now: datetime) -> str:
    """The credit note's document as a standalone HTML page."""
    return render_document(credit_note_document(session, note, now))
