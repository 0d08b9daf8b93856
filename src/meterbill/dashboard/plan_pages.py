"""Plans: the list, Add a plan / Edit (with its charge editor), the plan's page with a
price preview, and Delete.

The form becomes the body POST/PUT /api/v1/plans takes (dashboard/plan_form.py) and goes
through the API's parser and plan service in one transaction: a refusal re-renders the
form with status 422, every row kept and the reason beside the row it concerns. The
editor's buttons (add a charge, a tier, a filter) post the form back and get it again
with the row added, with or without JavaScript.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.core.money import CURRENCIES
from meterbill.core.pagination import PageRequest
from meterbill.dashboard import plan_form
from meterbill.dashboard.formats import LOCALE
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
from meterbill.organizations.service import get_organization
from meterbill.plans import preview as plan_preview
from meterbill.plans.models import Plan
from meterbill.plans.schemas import ALL_FILTER_VALUES, parse_plan
from meterbill.plans.service import (
    chargeable_metrics,
    create_plan,
    delete_plan,
    deletion_effects,
    find_plan_by_id,
    list_plans,
    plan_counts,
    plan_view,
    update_plan,
)
from meterbill.taxes.service import list_taxes

router = APIRouter(include_in_schema=False)

PER_PAGE = 20
REFUSALS = (ValidationFailed, NotFound, MethodNotAllowed)
# Enough for every tax of an organization in the form's pickers.
CATALOG_PAGE = PageRequest(page=1, per_page=100)


def price(amount: Any, currency: str) -> str:
    """A unit price as typed in a charge (a decimal string in currency units), with every
    decimal it has: "0.005" USD -> "$0.005", "2" -> "$2.00"."""
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        return str(amount)
    if currency not in CURRENCIES:
        return format_decimal(value, locale=LOCALE)
    return format_currency(
        value, currency, format="¤#,##0.00##########", locale=LOCALE, currency_digits=False
    )


# --- the list ------------------------------------------------------------------------


@router.get("/plans", dependencies=[requires("plans:view")])
def plans_list(request: Request, page: Page) -> HTMLResponse:
    search = request.query_params.get("search", "").strip()
    number = PageRequest.from_query({"page": request.query_params.get("page", "1")}).page
    term = search if len(search) >= SEARCH_MIN else None
    with page.db.transaction(write=False) as session:
        result = list_plans(
            session,
            page.organization_id,
            PageRequest(page=number, per_page=PER_PAGE),
            search_term=term,
        )
        plans = list(result.items)
        counts = plan_counts(session, [plan.id for plan in plans])

    def link(**changes: Any) -> str:
        return list_url("/plans", {"search": search, "page": number, **changes})

    range_start, range_end = shown_range(number, PER_PAGE, result.meta["total_count"])
    context = {
        "section": "plans",
        "plans": plans,
        "counts": counts,
        "search": search,
        "searching": term is not None,
        "meta": result.meta,
        "range_start": range_start,
        "range_end": range_end,
        "link": link,
        "intervals": dict(plan_form.INTERVAL_OPTIONS),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "plans-results":
        return render(request, "plans/_table.html", context)
    return render(request, "plans/list.html", context)


# --- the form ------------------------------------------------------------------------


def _metric_choices(session: Session, organization_id: uuid.UUID) -> list[dict[str, Any]]:
    return [
        {
            "id": str(metric.id),
            "name": metric.name,
            "code": metric.code,
            "aggregation_type": metric.aggregation_type,
            "filters": [(item.key, list(item.values)) for item in metric.filters],
        }
        for metric in chargeable_metrics(session, organization_id)
    ]


def _form_page(
    request: Request,
    session: Session,
    page: PageContext,
    draft: plan_form.PlanDraft,
    *,
    plan: Plan | None = None,
    status: int = 200,
) -> HTMLResponse:
    metrics = _metric_choices(session, page.organization_id)
    taxes = list_taxes(session, page.organization_id, CATALOG_PAGE).items
    counts = plan_counts(session, [plan.id]).get(plan.id) if plan else None
    return render(
        request,
        "plans/form.html",
        {
            "section": "plans",
            "plan": plan,
            "subscriptions": counts.active_subscriptions if counts else 0,
            "draft": draft,
            "values": draft.values,
            "errors": draft.errors,
            "metrics": metrics,
            "metrics_by_id": {metric["id"]: metric for metric in metrics},
            "metric_options": [(m["id"], f"{m['name']} ({m['code']})") for m in metrics],
            "open_options": plan_form.options_open(draft),
            "taxes": [(tax.code, f"{tax.name} ({price(tax.rate, '')}%)") for tax in taxes],
            "options": plan_form,
            "all_values": ALL_FILTER_VALUES,
            "action_url": f"/plans/{plan.id}/edit" if plan else "/plans/new",
        },
        status_code=status,
    )


@router.get("/plans/new", dependencies=[requires("plans:create")])
def new_plan(request: Request, page: Page) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        organization = get_organization(session, page.organization_id)
        return _form_page(
            request, session, page, plan_form.empty_form(organization.default_currency)
        )


def _save(
    page: Page, form: Form, plan_id: str | None
) -> tuple[plan_form.PlanDraft, uuid.UUID | None, int]:
    """Apply the pressed button, or save: (the form, the saved plan's id, the status the
    form is shown again with)."""
    draft = plan_form.read_form(form)
    if plan_form.apply_action(draft, form.get("action"), form.get("new_charge_metric")):
        return draft, None, 200
    body = plan_form.plan_body(draft, creating=plan_id is None)
    if draft.errors:
        return draft, None, 422
    try:
        with page.db.transaction() as session:
            if plan_id is None:
                data = parse_plan(body, creating=True)
                saved = create_plan(session, page.organization_id, data, page.now)
            else:
                current = find_plan_by_id(session, page.organization_id, plan_id)
                data = parse_plan(body, creating=False)
                saved = update_plan(session, page.organization_id, current.code, data, page.now)
            saved_id = saved.id
    except REFUSALS as error:
        if isinstance(error, NotFound) and error.code == "plan_not_found":
            raise
        plan_form.explain(draft, error)
        return draft, None, 422
    return draft, saved_id, 200


@router.post("/plans/new", dependencies=[requires("plans:create")])
def create_plan_page(request: Request, page: Page, form: Form) -> Response:
    draft, saved, status = _save(page, form, None)
    if saved is not None:
        return redirect_to(request, f"/plans/{saved}", flash="Plan successfully created")
    with page.db.transaction(write=False) as session:
        return _form_page(request, session, page, draft, status=status)


@router.get("/plans/{plan_id}/edit", dependencies=[requires("plans:update")])
def edit_plan(request: Request, page: Page, plan_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        plan = find_plan_by_id(session, page.organization_id, plan_id)
        view = plan_view(session, [plan])
        commitment = view.commitments.get(plan.id)
        draft = plan_form.form_of(
            plan,
            commitment,
            [tax.code for tax in view.plan_taxes.get(plan.id, [])],
            {key: [tax.code for tax in taxes] for key, taxes in view.charge_taxes.items()},
        )
        return _form_page(request, session, page, draft, plan=plan)


@router.post("/plans/{plan_id}/edit", dependencies=[requires("plans:update")])
def update_plan_page(request: Request, page: Page, form: Form, plan_id: str) -> Response:
    draft, saved, status = _save(page, form, plan_id)
    if saved is not None:
        return redirect_to(request, f"/plans/{saved}", flash="Plan successfully updated")
    with page.db.transaction(write=False) as session:
        plan = find_plan_by_id(session, page.organization_id, plan_id)
        return _form_page(request, session, page, draft, plan=plan, status=status)


# --- the plan's page -------------------------------------------------------------------


@router.get("/plans/{plan_id}", dependencies=[requires("plans:view")])
def plan_page(request: Request, page: Page, plan_id: str) -> HTMLResponse:
    units, chosen = plan_preview.unit_counts(request.query_params.get("units"))
    with page.db.transaction(write=False) as session:
        plan = find_plan_by_id(session, page.organization_id, plan_id)
        view = plan_view(session, [plan])
        charges = list(plan.charges)
        metrics = {
            metric["id"]: metric for metric in _metric_choices(session, page.organization_id)
        }
        counts = plan_counts(session, [plan.id])[plan.id]
        rows = plan_preview.preview(plan, charges, units)
        return render(
            request,
            "plans/show.html",
            {
                "section": "plans",
                "plan": plan,
                "charges": charges,
                "metrics": metrics,
                "view": view,
                "counts": counts,
                "commitment": view.commitments.get(plan.id),
                "rows": rows,
                "chosen_units": chosen,
                "typed_units": request.query_params.get("units", ""),
                "price": price,
                "labels": plan_form.MODEL_LABELS,
                "intervals": dict(plan_form.INTERVAL_OPTIONS),
                "tiers": plan_form.TIERS,
                "all_values": ALL_FILTER_VALUES,
            },
        )


# --- Delete --------------------------------------------------------------------------


@router.get("/plans/{plan_id}/delete", dependencies=[requires("plans:delete")])
def delete_plan_dialog(request: Request, page: Page, plan_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        plan = find_plan_by_id(session, page.organization_id, plan_id)
        effects = deletion_effects(session, plan)
        return render(
            request,
            "plans/delete.html",
            {"section": "plans", "plan": plan, "effects": effects},
        )


@router.post("/plans/{plan_id}/delete", dependencies=[requires("plans:delete")])
def delete_plan_page(request: Request, page: Page, _form: Form, plan_id: str) -> Response:
    with page.db.transaction() as session:
        plan = find_plan_by_id(session, page.organization_id, plan_id)
        delete_plan(session, page.organization_id, plan.code, page.now)
    return redirect_to(request, "/plans", flash="Plan successfully deleted")
