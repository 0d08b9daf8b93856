"""Customers: the list, Add a customer, the customer view and its tabs, Edit, Delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.pagination import PageRequest
from meterbill.credit_notes.service import CreditNoteFilters, list_credit_notes
from meterbill.customers import deletion
from meterbill.customers.filters import CustomerFilters
from meterbill.customers.models import Customer
from meterbill.customers.overview import active_subscription_counts, customer_overview
from meterbill.customers.saving import add_customer, edit_customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.customers.service import (
    customer_taxes,
    find_customer_by_id,
    is_editable,
    list_customers,
)
from meterbill.dashboard import customer_form
from meterbill.dashboard.customer_tabs import TABS, tab_context
from meterbill.dashboard.web import (
    SEARCH_MIN,
    Form,
    Page,
    PageContext,
    is_htmx,
    list_url,
    redirect_to,
    render,
    requires,
    shown_range,
)
from meterbill.invoices.service import InvoiceFilters, list_invoices
from meterbill.organizations.service import get_organization
from meterbill.taxes.service import list_taxes

router = APIRouter(include_in_schema=False)

PAGE_SIZES = (20, 50, 100)


def _list_state(params: QueryParams) -> tuple[str, int, int]:
    search = params.get("search", "").strip()
    page = PageRequest.from_query({"page": params.get("page", "1")}).page
    try:
        per_page = int(params.get("per_page", "20"))
    except ValueError:
        per_page = 20
    return search, page, per_page if per_page in PAGE_SIZES else 20


@router.get("/customers", dependencies=[requires("customers:view")])
def customers_list(request: Request, page: Page) -> HTMLResponse:
    search, number, per_page = _list_state(request.query_params)
    term = search if len(search) >= SEARCH_MIN else None
    with page.db.transaction(write=False) as session:
        result = list_customers(
            session,
            page.organization_id,
            CustomerFilters(search_term=term),
            PageRequest(page=number, per_page=per_page),
        )
        customers = list(result.items)
        counts = active_subscription_counts(session, [customer.id for customer in customers])

    def link(**changes: Any) -> str:
        state = {"search": search, "page": number, "per_page": per_page, **changes}
        return list_url("/customers", state, {"per_page": 20})

    range_start, range_end = shown_range(number, per_page, result.meta["total_count"])
    context = {
        "section": "customers",
        "customers": customers,
        "counts": counts,
        "search": search,
        "searching": term is not None,
        "meta": result.meta,
        "range_start": range_start,
        "range_end": range_end,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "link": link,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "customers-results":
        return render(request, "customers/_table.html", context)
    return render(request, "customers/list.html", context)


# --- Add a customer ------------------------------------------------------------------


def _form_page(
    request: Request,
    session: Session,
    page: PageContext,
    form: customer_form.CustomerForm,
    *,
    customer: Customer | None = None,
    editable: bool = True,
    status: int = 200,
) -> HTMLResponse:
    taxes = list_taxes(session, page.organization_id, PageRequest(page=1, per_page=1000)).items
    return render(
        request,
        "customers/form.html",
        {
            "section": "customers",
            "customer": customer,
            "editable": editable,
            "form": form,
            "values": form.values,
            "errors": form.errors,
            "taxes": taxes,
            "options": customer_form,
        },
        status_code=status,
    )


@router.get("/customers/new", dependencies=[requires("customers:create")])
def new_customer(request: Request, page: Page) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        return _form_page(request, session, page, customer_form.empty_form())


@router.post("/customers/new", dependencies=[requires("customers:create")])
def create_customer(request: Request, page: Page, form: Form) -> Response:
    data = customer_form.read_form(form)
    try:
        parsed = customer_form.parse(data, editing=False)
        with page.db.transaction() as session:
            customer = add_customer(session, page.organization_id, parsed, page.now)
            customer_id = customer.id
    except (ValidationFailed, NotFound) as exc:
        _explain(data, exc)
        with page.db.transaction(write=False) as session:
            return _form_page(request, session, page, data, status=422)
    return redirect_to(request, f"/customers/{customer_id}", flash="Customer successfully created")


def _explain(data: customer_form.CustomerForm, exc: Exception) -> None:
    if isinstance(exc, ValidationFailed):
        if not data.errors:
            customer_form.explain(data, exc)
    elif isinstance(exc, NotFound):
        if exc.code == "tax_not_found":
            data.errors["tax_codes"] = customer_form.message("tax_codes", "tax_not_found")
        else:
            raise exc


# --- the customer view ---------------------------------------------------------------


def _show(request: Request, page: PageContext, customer_id: str, tab: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        organization = get_organization(session, page.organization_id)
        context: dict[str, Any] = {
            "section": "customers",
            "customer": customer,
            "organization": organization,
            "customer_timezone": applicable_timezone(customer, organization),
            "tab": tab,
            "tabs": TABS,
        }
        if tab == "overview":
            context["overview"] = customer_overview(session, customer)
        elif tab == "invoices":
            context["invoices"] = list_invoices(
                session,
                page.organization_id,
                InvoiceFilters(customer_id=customer.id),
                PageRequest.from_query({"page": request.query_params.get("page", "1")}),
            )
        elif tab == "credit-notes":
            context["credit_notes"] = list_credit_notes(
                session,
                organization,
                CreditNoteFilters(customer_id=customer.id),
                PageRequest.from_query({"page": request.query_params.get("page", "1")}),
            )
        elif tab == "information":
            context["taxes"] = customer_taxes(session, [customer.id])[customer.id]
        context.update(tab_context(tab, session, page, customer))
        return render(request, "customers/show.html", context)


@router.get("/customers/{customer_id}", dependencies=[requires("customers:view")])
def customer_overview_tab(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    return _show(request, page, customer_id, "overview")


@router.get("/customers/{customer_id}/analytics", dependencies=[requires("customers:view")])
def customer_analytics_tab(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    return _show(request, page, customer_id, "analytics")


@router.get("/customers/{customer_id}/invoices", dependencies=[requires("invoices:view")])
def customer_invoices_tab(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    return _show(request, page, customer_id, "invoices")


@router.get("/customers/{customer_id}/credit-notes", dependencies=[requires("credit_notes:view")])
def customer_credit_notes_tab(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    return _show(request, page, customer_id, "credit-notes")


@router.get("/customers/{customer_id}/information", dependencies=[requires("customers:view")])
def customer_information_tab(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    return _show(request, page, customer_id, "information")


# --- Edit ----------------------------------------------------------------------------


@router.get("/customers/{customer_id}/edit", dependencies=[requires("customers:update")])
def edit_customer_form(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        codes = [tax.code for tax in customer_taxes(session, [customer.id])[customer.id]]
        form = customer_form.form_of(customer, codes)
        return _form_page(
            request,
            session,
            page,
            form,
            customer=customer,
            editable=is_editable(session, customer),
        )


@router.post("/customers/{customer_id}/edit", dependencies=[requires("customers:update")])
def update_customer(request: Request, page: Page, form: Form, customer_id: str) -> Response:
    data = customer_form.read_form(form)
    # A locked external id is a disabled input, which the browser does not send.
    rename = "external_id" in data.values
    try:
        parsed = customer_form.parse(data, editing=True, external_id="-")
        with page.db.transaction() as session:
            edit_customer(
                session, page.organization_id, customer_id, parsed, page.now, rename=rename
            )
    except (ValidationFailed, NotFound) as exc:
        if isinstance(exc, NotFound) and exc.code == "customer_not_found":
            raise
        _explain(data, exc)
        with page.db.transaction(write=False) as session:
            customer = find_customer_by_id(session, page.organization_id, customer_id)
            data.values.setdefault("external_id", customer.external_id)
            data.values.setdefault("currency", customer.currency or "")
            return _form_page(
                request,
                session,
                page,
                data,
                customer=customer,
                editable=is_editable(session, customer),
                status=422,
            )
    return redirect_to(
        request, f"/customers/{customer_id}/information", flash="Customer successfully updated"
    )


# --- Delete --------------------------------------------------------------------------


@router.get("/customers/{customer_id}/delete", dependencies=[requires("customers:delete")])
def delete_customer_dialog(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        effects = deletion.deletion_effects(session, customer)
        return render(
            request,
            "customers/delete.html",
            {"section": "customers", "customer": customer, "effects": effects},
        )


@router.post("/customers/{customer_id}/delete", dependencies=[requires("customers:delete")])
def delete_customer(request: Request, page: Page, _form: Form, customer_id: str) -> Response:
    with page.db.transaction() as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        deletion.delete_customer(session, page.organization_id, customer.external_id, page.now)
    return redirect_to(request, "/customers", flash="Customer successfully deleted")
