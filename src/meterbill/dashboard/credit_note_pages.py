"""Credit notes: the form that issues one on an invoice, the Credit notes list, a credit
note's page with its PDF, and void.

The form goes through the credit note API's own parser and service (create, estimate)
in one transaction; a refusal re-renders it with status 422, values kept and the reason
under the field. Its totals are the service's estimate for the ticked items: swapped in
by htmx as the form changes, or computed by the "Compute totals" button without
JavaScript. No amount is computed in the browser.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.pagination import PageRequest
from meterbill.credit_notes import service
from meterbill.credit_notes.schemas import ItemInput, parse_credit_note
from meterbill.customers.overview import customer_labels
from meterbill.dashboard import credit_note_form as forms
from meterbill.dashboard.action_forms import FormErrors
from meterbill.dashboard.web import Form, Page, list_url, redirect_to, render, requires
from meterbill.documents.service import current_pdf, file_name, has_pdf
from meterbill.invoices.lookup import find_invoice
from meterbill.invoices.models import Invoice
from meterbill.organizations.service import get_organization

router = APIRouter(include_in_schema=False)

REFUSALS = (ValidationFailed, NotFound, MethodNotAllowed)
PER_PAGE = 20


# --- The form ------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceFacts:
    """The form's "Invoice information", as the service counts it."""

    invoice: Invoice
    fees: list[service.CreditableFee]
    paid: int
    paid_left: int
    due: int
    max_creditable: int
    max_refundable: int

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def creditable(self) -> dict[str, int]:
        return {str(entry.fee.id): entry.creditable_cents for entry in self.fees}

    def limits(self) -> forms.Limits:
        return forms.Limits(
            self.currency, self.creditable, self.paid_left, self.due, self.max_creditable
        )

    def groups(self) -> list[tuple[str | None, list[service.CreditableFee]]]:
        """The fees by subscription (in the invoice's order), other fees last."""
        grouped: dict[uuid.UUID | None, list[service.CreditableFee]] = {}
        for entry in self.fees:
            grouped.setdefault(entry.subscription_id, []).append(entry)
        order = sorted(grouped, key=lambda key: key is None)
        return [(grouped[key][0].subscription_label, grouped[key]) for key in order]


def _facts(session: Session, page: Page, invoice_id: str) -> InvoiceFacts:
    invoice, fees = service.creditable_fees(session, page.organization_id, invoice_id)
    issued = service.issued_on(session, invoice.id)
    whole = [ItemInput(str(entry.fee.id), entry.creditable_cents) for entry in fees]
    everything = service.estimate(session, page.organization_id, invoice_id, whole)
    return InvoiceFacts(
        invoice=invoice,
        fees=fees,
        paid=invoice.total_paid_amount_cents,
        paid_left=max(issued.paid_left(invoice), 0),
        due=max(issued.due(invoice), 0),
        max_creditable=everything.max_creditable_amount_cents,
        max_refundable=everything.max_refundable_amount_cents,
    )


@dataclass(frozen=True)
class Totals:
    """The estimate for the ticked items and how the typed allocation compares to it."""

    estimate: service.Estimate | None
    allocated: int
    error: str | None = None

    @property
    def total(self) -> int:
        return self.estimate.max_creditable_amount_cents if self.estimate else 0

    @property
    def balanced(self) -> bool:
        # The service accepts a cent of rounding either way.
        return self.estimate is not None and abs(self.allocated - self.total) <= 1


def _totals(page: Page, invoice_id: str, form: forms.CreditNoteForm, currency: str) -> Totals:
    chosen, errors = forms.items(form, currency)
    split, split_errors = forms.allocation_cents(form, currency)
    allocated = sum(split.values())
    if errors or split_errors:
        return Totals(None, allocated, "Fix the amounts above to see the totals.")
    if not chosen:
        return Totals(None, allocated)
    try:
        with page.db.transaction(write=False) as session:
            estimate = service.estimate(session, page.organization_id, invoice_id, chosen)
    except REFUSALS as error:
        return Totals(None, allocated, _estimate_refusal(error))
    return Totals(estimate, allocated)


def _estimate_refusal(error: Exception) -> str:
    if isinstance(error, ValidationFailed) and "amount_cents" in error.details:
        return "An amount is above what its item can still give back."
    return "These items cannot be credited."


def _form_page(
    request: Request, page: Page, invoice_id: str, form: forms.CreditNoteForm | None,
    errors: FormErrors | None = None, *, status_code: int = 200,
    template: str = "credit_notes/new.html",
) -> HTMLResponse:  # fmt: skip
    with page.db.transaction(write=False) as session:
        facts = _facts(session, page, invoice_id)
        label = customer_labels(session, [facts.invoice.customer_id])[facts.invoice.customer_id]
    form = form or forms.blank(facts.creditable, facts.currency)
    totals = _totals(page, invoice_id, form, facts.currency)
    return render(
        request,
        template,
        {
            "section": "invoices",
            "facts": facts,
            "invoice": facts.invoice,
            "currency": facts.currency,
            "label": label,
            "form": form,
            "totals": totals,
            "reasons": forms.REASONS,
            "item_field": forms.item_field,
            "errors": (errors or FormErrors()).by_field,
            "values": {"reason": form.reason, "description": form.description,
                       **form.allocation},
        },
        status_code=status_code,
    )  # fmt: skip


def _not_creditable(request: Request, error: MethodNotAllowed) -> HTMLResponse:
    return render(
        request,
        "credit_notes/not_creditable.html",
        {"section": "invoices", "code": error.code},
        status_code=422,
    )


NEW = "/invoices/{invoice_id}/credit-notes/new"


@router.get(NEW, dependencies=[requires("credit_notes:create")])
def new_credit_note(request: Request, page: Page, invoice_id: str) -> HTMLResponse:
    try:
        return _form_page(request, page, invoice_id, None)
    except MethodNotAllowed as error:
        return _not_creditable(request, error)


@router.post(
    "/invoices/{invoice_id}/credit-notes/estimate", dependencies=[requires("credit_notes:create")]
)
def estimate_fragment(request: Request, page: Page, form: Form, invoice_id: str) -> HTMLResponse:
    """The totals block alone (htmx swaps it in as the form changes)."""
    try:
        with page.db.transaction(write=False) as session:
            invoice, fees = service.creditable_fees(session, page.organization_id, invoice_id)
    except MethodNotAllowed:
        # Voided meanwhile: the block says so instead of an error page swapped into it.
        refused = Totals(None, 0, "This invoice can no longer be credited: reload the page.")
        return render(request, "credit_notes/_totals.html", {"totals": refused, "currency": ""})
    typed = forms.read(form, [str(entry.fee.id) for entry in fees])
    totals = _totals(page, invoice_id, typed, invoice.currency)
    return render(
        request, "credit_notes/_totals.html", {"totals": totals, "currency": invoice.currency}
    )


@router.post(NEW, dependencies=[requires("credit_notes:create")])
def issue_credit_note(request: Request, page: Page, form: Form, invoice_id: str) -> Response:
    try:
        with page.db.transaction(write=False) as session:
            facts = _facts(session, page, invoice_id)
    except MethodNotAllowed as error:
        return _not_creditable(request, error)
    typed = forms.read(form, list(facts.creditable))
    if form.get("action") == "compute":
        return _form_page(request, page, invoice_id, typed)
    body, errors = forms.body(typed, str(facts.invoice.id), facts.currency)
    chosen, _ = forms.items(typed, facts.currency)
    issued: list[uuid.UUID] = []
    if not errors:
        try:
            with page.db.transaction() as session:
                note = service.create_credit_note(
                    session, page.organization_id, parse_credit_note(body), page.now
                )
                issued.append(note.id)
        except REFUSALS as error:
            errors = forms.refusal_errors(error, facts.limits(), chosen)
    if errors:
        return _form_page(request, page, invoice_id, typed, errors, status_code=422)
    return redirect_to(
        request, f"/credit-notes/{issued[0]}", flash="Credit note successfully issued"
    )


# --- The list ------------------------------------------------------------------------


def _list_state(params: Mapping[str, str]) -> tuple[str, int]:
    search = params.get("search", "").strip()[:200]
    try:
        number = max(int(params.get("page", "1")), 1)
    except ValueError:
        number = 1
    return search, min(number, 100_000)


@router.get("/credit-notes", dependencies=[requires("credit_notes:view")])
def credit_notes_list(request: Request, page: Page) -> HTMLResponse:
    search, number = _list_state(request.query_params)
    filters = service.CreditNoteFilters(search_term=search or None)
    with page.db.transaction(write=False) as session:
        organization = get_organization(session, page.organization_id)
        result = service.list_credit_notes(
            session, organization, filters, PageRequest(page=number, per_page=PER_PAGE)
        )
        notes = list(result.items)
        labels = customer_labels(session, list({note.customer_id for note in notes}))
        numbers = service.invoice_numbers(session, [note.invoice_id for note in notes])

    def link(**changes: Any) -> str:
        return list_url("/credit-notes", {"search": search, "page": number, **changes})

    context = {
        "section": "credit-notes",
        "notes": notes,
        "labels": labels,
        "numbers": numbers,
        "search": search,
        "meta": result.meta,
        "link": link,
        "reason_labels": forms.REASON_LABELS,
    }
    if request.headers.get("hx-target") == "credit-notes-results":
        return render(request, "credit_notes/_table.html", context)
    return render(request, "credit_notes/list.html", context)


# --- A credit note -------------------------------------------------------------------


def _note_context(session: Session, page: Page, credit_note_id: str) -> dict[str, Any]:
    note = service.find_credit_note(session, page.organization_id, credit_note_id)
    invoice = find_invoice(session, page.organization_id, str(note.invoice_id))
    label = customer_labels(session, [note.customer_id])[note.customer_id]
    fees = {fee.id: fee for fee in invoice.fees}
    return {
        "section": "credit-notes",
        "note": note,
        "invoice": invoice,
        "label": label,
        "lines": [(item, fees.get(item.fee_id)) for item in note.items],
        "reason_label": forms.REASON_LABELS.get(note.reason, note.reason),
        "voidable": service.voidable(note),
        "has_pdf": has_pdf(note),
    }


@router.get("/credit-notes/{credit_note_id}", dependencies=[requires("credit_notes:view")])
def credit_note_page(request: Request, page: Page, credit_note_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        context = _note_context(session, page, credit_note_id)
    return render(request, "credit_notes/show.html", context)


@router.get(
    "/credit-notes/{credit_note_id}/document.pdf", dependencies=[requires("credit_notes:view")]
)
def credit_note_pdf(request: Request, page: Page, credit_note_id: str) -> Response:
    with page.db.transaction(write=False) as session:
        note = service.find_credit_note(session, page.organization_id, credit_note_id)
        storage = request.app.state.storage
        content = current_pdf(session, storage, "credit_note", note, page.now)
        name = file_name(note.number, "pdf")
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/credit-notes/{credit_note_id}/void", dependencies=[requires("credit_notes:void")])
def void_page(request: Request, page: Page, credit_note_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        context = _note_context(session, page, credit_note_id)
    return render(request, "credit_notes/void.html", context)


@router.post("/credit-notes/{credit_note_id}/void", dependencies=[requires("credit_notes:void")])
def void_credit_note(request: Request, page: Page, form: Form, credit_note_id: str) -> Response:
    target = f"/credit-notes/{credit_note_id}"
    try:
        with page.db.transaction() as session:
            note = service.void_credit_note(session, page.organization_id, credit_note_id, page.now)
            target = f"/credit-notes/{note.id}"
    except MethodNotAllowed:
        return redirect_to(request, target, flash="This credit note has nothing left to void")
    return redirect_to(request, target, flash="Credit note successfully voided")
