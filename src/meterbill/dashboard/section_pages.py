"""The Invoices list and an invoice's page (with its document and PDF)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from meterbill.core.pagination import PageRequest
from meterbill.credit_notes.service import CreditNoteFilters, list_credit_notes
from meterbill.customers.overview import customer_labels
from meterbill.customers.schemas import applicable_timezone
from meterbill.dashboard.web import Page, render, requires
from meterbill.documents import rendering
from meterbill.documents.service import current_pdf, file_name, has_pdf
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.service import InvoiceFilters, list_invoices
from meterbill.organizations.service import get_organization

router = APIRouter(include_in_schema=False)

PER_PAGE = 20
# The Invoices list's quick filters (Lago's): label, query value, filters.
INVOICE_VIEWS = [
    ("all", "All invoices", InvoiceFilters()),
    ("draft", "Draft", InvoiceFilters(statuses=("draft",))),
    ("finalized", "Finalized", InvoiceFilters(statuses=("finalized",))),
    ("overdue", "Overdue", InvoiceFilters(payment_overdue=True)),
    ("voided", "Voided", InvoiceFilters(statuses=("voided",))),
]


def _page_request(request: Request) -> PageRequest:
    return PageRequest.from_query({"page": request.query_params.get("page", "1"), "per_page": "20"})


@router.get("/invoices", dependencies=[requires("invoices:view")])
def invoices_list(request: Request, page: Page) -> HTMLResponse:
    view = request.query_params.get("status", "all")
    filters = next((f for key, _label, f in INVOICE_VIEWS if key == view), InvoiceFilters())
    with page.db.transaction(write=False) as session:
        result = list_invoices(session, page.organization_id, filters, _page_request(request))
        labels = customer_labels(session, list({invoice.customer_id for invoice in result.items}))

    def link(**changes: object) -> str:
        state = {"status": view if view != "all" else "", **changes}
        query = {key: value for key, value in state.items() if value not in ("", 1, None)}
        return "/invoices" + (f"?{urlencode(query)}" if query else "")

    return render(
        request,
        "invoices/list.html",
        {
            "section": "invoices",
            "invoices": result.items,
            "meta": result.meta,
            "labels": labels,
            "views": INVOICE_VIEWS,
            "view": view,
            "link": link,
        },
    )


@router.get("/invoices/{invoice_id}", dependencies=[requires("invoices:view")])
def invoice_page(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        invoice = find_invoice(session, page.organization_id, invoice_id)
        organization = get_organization(session, page.organization_id)
        label = customer_labels(session, [invoice.customer_id])[invoice.customer_id]
        from meterbill.customers.models import Customer

        customer = session.get(Customer, invoice.customer_id)
        assert customer is not None
        notes = list_credit_notes(
            session,
            organization,
            CreditNoteFilters(customer_id=invoice.customer_id),
            PageRequest(page=1, per_page=100),
        ).items
        return render(
            request,
            "invoices/show.html",
            {
                "section": "invoices",
                "invoice": invoice,
                "fees": [fee for fee in invoice.fees if fee.invoiceable],
                "label": label,
                "customer_timezone": applicable_timezone(customer, organization),
                "credit_notes": [note for note in notes if note.invoice_id == invoice.id],
                "has_pdf": has_pdf(invoice),
            },
        )


@router.get("/invoices/{invoice_id}/document", dependencies=[requires("invoices:view")])
def invoice_document(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
    """The invoice's document as HTML, the same the PDF is made from (shown in a frame on
    the invoice's page)."""
    with page.db.transaction(write=False) as session:
        invoice = find_invoice(session, page.organization_id, invoice_id)
        html = rendering.invoice_html(session, invoice, page.now)
    # Shown framed by our own page only, with no script of its own.
    headers = {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:; font-src data:; frame-ancestors 'self'",
        "X-Frame-Options": "SAMEORIGIN",
    }
    return HTMLResponse(html, headers=headers)


@router.get("/invoices/{invoice_id}/document.pdf", dependencies=[requires("invoices:view")])
def invoice_pdf(request: Request, page: Page, invoice_id: str) -> Response:
    with page.db.transaction(write=False) as session:
        invoice = find_invoice(session, page.organization_id, invoice_id)
        content = current_pdf(session, request.app.state.storage, "invoice", invoice, page.now)
        name = file_name(invoice.number, "pdf")
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
