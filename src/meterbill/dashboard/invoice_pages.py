"""The Invoices section: the list (quick filters, filters, search), an invoice's page with
its document's lines, and its actions — refresh and finalize a draft, update the payment
status, record a payment, void (Lago's void page), download the PDF.

Every action calls the invoice and payment services the API calls. What an invoice
allows comes from `invoices.service.invoice_actions`; what the member may do from its
role (each route requires the permission, and the page hides what it would refuse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from meterbill.core.errors import Forbidden, MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.money import from_cents
from meterbill.core.pagination import PageRequest
from meterbill.credit_notes.service import (
    CreditNoteFilters,
    list_credit_notes,
    offsets_by_invoice,
)
from meterbill.customers.models import Customer
from meterbill.customers.overview import customer_labels
from meterbill.customers.schemas import applicable_timezone
from meterbill.dashboard import action_forms as forms
from meterbill.dashboard import invoice_filters
from meterbill.dashboard.web import Form, Page, PageContext, is_htmx, redirect_to, render, requires
from meterbill.documents import rendering
from meterbill.documents.service import current_pdf, file_name, has_pdf
from meterbill.documents.views import invoice_document
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.models import Invoice
from meterbill.invoices.schemas import total_due_amount_cents
from meterbill.invoices.service import (
    PAYMENT_STATUSES,
    finalize_invoice,
    invoice_actions,
    is_voidable,
    list_invoices,
    refresh_invoice,
    update_invoice,
    void_invoice,
)
from meterbill.organizations.service import get_organization
from meterbill.payment_providers import collection as provider_collection
from meterbill.payments.schemas import parse_payment
from meterbill.payments.service import PaymentFilters, create_manual_payment, list_payments
from meterbill.users.service import SessionUser

router = APIRouter(include_in_schema=False)

# Each action an invoice may allow, the permission it takes, in the menus' order.
ACTIONS = {
    "refresh": "invoices:update",
    "finalize": "invoices:update",
    "download": "invoices:view",
    "record_payment": "payments:create",
    "update_payment_status": "invoices:update",
    "credit_note": "credit_notes:create",
    "void": "invoices:void",
}
REFUSED = (ValidationFailed, MethodNotAllowed, Forbidden)
# The services' refusals in words, on the invoice's page.
REFUSALS = {
    "not_voidable": "This invoice cannot be voided: only a finalized invoice without "
    "standing credit notes can be.",
    "update_on_voided_invoice": "A voided invoice cannot be changed.",
    "payment_status_update_on_draft_invoice": "A draft has no payment status yet.",
    "invalid_status": "This invoice's status does not allow it.",
    "forbidden": "Only a subscription invoice can be refreshed or finalized here.",
    "invoice_not_found": "This invoice is no longer a draft.",
    "feature_unavailable": "Payments can only be recorded on a finalized invoice.",
    "payment_processor_is_currently_handling_payment": "A payment of this invoice is "
    "already under way at the payment provider.",
}


@dataclass(frozen=True)
class InvoiceRow:
    """An invoice as a list shows it: what it still asks for and what the member may do."""

    invoice: Invoice
    due_cents: int
    actions: tuple[str, ...]


def allowed_actions(user: SessionUser, invoice: Invoice, due_cents: int) -> tuple[str, ...]:
    possible = set(invoice_actions(invoice, due_cents))
    if has_pdf(invoice):
        possible.add("download")
    return tuple(
        action for action, permission in ACTIONS.items()
        if action in possible and user.can(permission)
    )  # fmt: skip


def invoice_rows(session: Session, user: SessionUser, invoices: list[Invoice]) -> list[InvoiceRow]:
    """A page of invoices with their amounts due (credit-note offsets in one query)."""
    offsets = offsets_by_invoice(session, [invoice.id for invoice in invoices])
    rows = []
    for invoice in invoices:
        due = total_due_amount_cents(invoice, offsets.get(invoice.id, 0))
        rows.append(InvoiceRow(invoice, due, allowed_actions(user, invoice, due)))
    return rows


# --- the list ------------------------------------------------------------------------


@router.get("/invoices", dependencies=[requires("invoices:view")])
def invoices_list(request: Request, page: Page) -> Response:
    state = invoice_filters.read_state(request.query_params)
    # The filters form sends its blank fields too: the address keeps only what is set.
    canonical = state.link(page=state.page)
    blank = any(value == "" for value in request.query_params.values())
    if blank and not is_htmx(request):
        return RedirectResponse(canonical, status_code=303)
    with page.db.transaction(write=False) as session:
        result = list_invoices(session, page.organization_id, state.filters, state.page_request())
        invoices = list(result.items)
        labels = customer_labels(session, list({invoice.customer_id for invoice in invoices}))
        rows = invoice_rows(session, page.user, invoices)
    total = result.meta["total_count"]
    first = (state.page - 1) * invoice_filters.PER_PAGE + 1
    context = {
        "section": "invoices",
        "rows": rows,
        "labels": labels,
        "meta": result.meta,
        "state": state,
        "values": state.values,
        "errors": state.errors,
        "quick_filters": invoice_filters.QUICK_FILTERS,
        "types": invoice_filters.TYPES,
        "payment_labels": invoice_filters.PAYMENT_LABELS,
        "currencies": invoice_filters.CURRENCY_OPTIONS,
        "range_start": first if total else 0,
        "range_end": min(first + len(rows) - 1, total),
    }
    status = 422 if state.errors else 200
    if is_htmx(request) and request.headers.get("hx-target") == "invoices-results":
        response = render(request, "invoices/_results.html", context, status_code=status)
        response.headers["HX-Push-Url"] = canonical
        return response
    if is_htmx(request) and request.headers.get("hx-target") == "invoices-body":
        return render(request, "invoices/_body.html", context, status_code=status)
    return render(request, "invoices/list.html", context, status_code=status)


# --- an invoice's page ---------------------------------------------------------------


def _invoice_context(session: Session, page: PageContext, invoice: Invoice) -> dict[str, Any]:
    organization = get_organization(session, page.organization_id)
    customer = session.get(Customer, invoice.customer_id)
    assert customer is not None
    label = customer_labels(session, [invoice.customer_id])[invoice.customer_id]
    offsetted = offsets_by_invoice(session, [invoice.id]).get(invoice.id, 0)
    due = total_due_amount_cents(invoice, offsetted)
    notes = list_credit_notes(
        session,
        organization,
        CreditNoteFilters(customer_id=invoice.customer_id, invoice_number=invoice.number),
        PageRequest(page=1, per_page=100),
    ).items
    payments = list_payments(
        session, page.organization_id, PaymentFilters(invoice_id=invoice.id),
        PageRequest(page=1, per_page=100),
    ).items  # fmt: skip
    return {
        "section": "invoices",
        "invoice": invoice,
        "customer": customer,
        "label": label,
        "customer_timezone": applicable_timezone(customer, organization),
        # The lines of the customer's document, in the dashboard's language.
        "document": invoice_document(session, invoice, page.now, locale="en"),
        "due_cents": due,
        "settled_cents": invoice.total_amount_cents - due,
        "credit_notes": [note for note in notes if note.invoice_id == invoice.id],
        "payments": payments,
        "actions": allowed_actions(page.user, invoice, due),
        "voidable": is_voidable(session, invoice),
        "payment_statuses": PAYMENT_STATUSES,
    }


def _invoice_page(
    request: Request,
    page: PageContext,
    invoice_id: str,
    *,
    template: str = "invoices/show.html",
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        invoice = find_invoice(session, page.organization_id, invoice_id)
        context = _invoice_context(session, page, invoice)
        context.update(extra or {})
        return render(request, template, context, status_code=status_code)


@router.get("/invoices/{invoice_id}", dependencies=[requires("invoices:view")])
def invoice_page(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
    return _invoice_page(request, page, invoice_id)


def _refusal(error: Exception) -> str:
    code = getattr(error, "code", None) or ""
    if isinstance(error, ValidationFailed):
        return "; ".join(
            forms.message(name, str(codes[0] if isinstance(codes, list) else codes))
            for name, codes in error.details.items()
        )
    return REFUSALS.get(code, "This action is not possible on this invoice.")


def _perform(
    request: Request,
    page: PageContext,
    invoice_id: str,
    act: Callable[[Session], None],
    flash: str,
    *,
    refused_template: str = "invoices/show.html",
) -> Response:
    """Run the service call in one transaction; a refusal shows the page again (422)
    with the reason, nothing written. An unknown invoice stays a 404 page."""
    with page.db.transaction(write=False) as session:
        find_invoice(session, page.organization_id, invoice_id)
    try:
        with page.db.transaction() as session:
            act(session)
    except (NotFound, *REFUSED) as error:
        # An invoice_not_found here is the service refusing the status of an invoice that
        # exists (looked up above); any other missing record stays a 404 page.
        if isinstance(error, NotFound) and error.code != "invoice_not_found":
            raise
        return _invoice_page(request, page, invoice_id, template=refused_template,
                             extra={"refusal": _refusal(error)}, status_code=422)  # fmt: skip
    return redirect_to(request, f"/invoices/{invoice_id}", flash=flash)


@router.post("/invoices/{invoice_id}/refresh", dependencies=[requires("invoices:update")])
def refresh(request: Request, page: Page, _form: Form, invoice_id: str) -> Response:
    def act(session: Session) -> None:
        refresh_invoice(session, page.organization_id, invoice_id, page.now)

    return _perform(request, page, invoice_id, act, "Invoice successfully refreshed")


@router.get("/invoices/{invoice_id}/finalize", dependencies=[requires("invoices:update")])
def finalize_dialog(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
    return _invoice_page(request, page, invoice_id, template="invoices/finalize.html")


@router.post("/invoices/{invoice_id}/finalize", dependencies=[requires("invoices:update")])
def finalize(request: Request, page: Page, _form: Form, invoice_id: str) -> Response:
    def act(session: Session) -> None:
        finalize_invoice(session, page.organization_id, invoice_id, page.now)

    return _perform(request, page, invoice_id, act, "Invoice successfully finalized",
                    refused_template="invoices/finalize.html")  # fmt: skip


@router.get("/invoices/{invoice_id}/payment-status", dependencies=[requires("invoices:update")])
def payment_status_dialog(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
    return _invoice_page(request, page, invoice_id, template="invoices/payment_status.html")


@router.post("/invoices/{invoice_id}/payment-status", dependencies=[requires("invoices:update")])
def payment_status(request: Request, page: Page, form: Form, invoice_id: str) -> Response:
    chosen = form.get("payment_status")

    def act(session: Session) -> None:
        update_invoice(session, page.organization_id, invoice_id, chosen, None, page.now)

    return _perform(request, page, invoice_id, act, "Payment status successfully updated",
                    refused_template="invoices/payment_status.html")  # fmt: skip


@router.get("/invoices/{invoice_id}/void", dependencies=[requires("invoices:void")])
def void_page(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
    return _invoice_page(request, page, invoice_id, template="invoices/void.html")


@router.post("/invoices/{invoice_id}/void", dependencies=[requires("invoices:void")])
def void(request: Request, page: Page, _form: Form, invoice_id: str) -> Response:
    def act(session: Session) -> None:
        void_invoice(session, page.organization_id, invoice_id, page.now)

    return _perform(request, page, invoice_id, act, "Invoice successfully voided",
                    refused_template="invoices/void.html")  # fmt: skip


@router.post("/invoices/{invoice_id}/retry-payment", dependencies=[requires("invoices:update")])
def retry_payment(request: Request, page: Page, _form: Form, invoice_id: str) -> Response:
    """POST /api/v1/invoices/{id}/retry_payment: the next tick charges it again."""

    def act(session: Session) -> None:
        invoice = find_invoice(session, page.organization_id, invoice_id, lock=True)
        provider_collection.retry_payment(session, invoice, page.now)

    return _perform(request, page, invoice_id, act, "Payment retry sent to the provider")


# --- Record a payment ----------------------------------------------------------------

PAYMENT_FIELDS = {"amount_cents": "amount", "paid_at": "paid_at", "reference": "reference"}


def _payment_form(
    request: Request, page: PageContext, invoice_id: str, values: dict[str, str],
    errors: forms.FormErrors, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    return _invoice_page(
        request, page, invoice_id, template="invoices/payment.html",
        extra={"values": values, "errors": errors.by_field}, status_code=status_code,
    )  # fmt: skip


@router.get("/invoices/{invoice_id}/payments/new", dependencies=[requires("payments:create")])
def new_payment(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        invoice = find_invoice(session, page.organization_id, invoice_id)
        offsetted = offsets_by_invoice(session, [invoice.id]).get(invoice.id, 0)
        due = total_due_amount_cents(invoice, offsetted)
        amount = format(from_cents(due, invoice.currency), "f") if due > 0 else ""
    values = {
        # What is due, in currency units ("12.50").
        "amount": amount,
        "paid_at": page.now.date().isoformat(),
        "reference": "",
    }
    return _payment_form(request, page, invoice_id, values, forms.FormErrors())


@router.post("/invoices/{invoice_id}/payments/new", dependencies=[requires("payments:create")])
def record_payment(request: Request, page: Page, form: Form, invoice_id: str) -> Response:
    values = {name: form.get(name).strip() for name in ("amount", "paid_at", "reference")}
    with page.db.transaction(write=False) as session:
        invoice = find_invoice(session, page.organization_id, invoice_id)
        currency = invoice.currency
    errors = forms.FormErrors()
    body: dict[str, Any] = {"invoice_id": invoice_id, "reference": values["reference"]}
    try:
        body["amount_cents"] = forms.money_cents(values["amount"], currency)
        if body["amount_cents"] <= 0:
            errors.add("amount", "must_be_positive")
    except ValueError as error:
        errors.add("amount", str(error) if values["amount"] else "value_is_mandatory")
    try:
        paid_on = forms.day(values["paid_at"])
        body["paid_at"] = paid_on.isoformat() if paid_on else None
    except ValueError as error:
        errors.add("paid_at", str(error))
    if not errors:
        try:
            with page.db.transaction() as session:
                create_manual_payment(session, page.organization_id, parse_payment(body), page.now)
        except REFUSED as error:
            errors = forms.refusal_errors(error, PAYMENT_FIELDS)
            if "feature_unavailable" in (getattr(error, "code", "") or ""):
                errors = forms.FormErrors({"base": REFUSALS["feature_unavailable"]})
    if errors:
        return _payment_form(request, page, invoice_id, values, errors, 422)
    return redirect_to(request, f"/invoices/{invoice_id}", flash="Payment successfully recorded")


# --- the document --------------------------------------------------------------------


@router.get("/invoices/{invoice_id}/document", dependencies=[requires("invoices:view")])
def invoice_document_page(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
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
