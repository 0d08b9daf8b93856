"""The catalogue besides plans: billable metrics, coupons, add-ons and taxes.

Each kind has the same four pages, registered from its `Kind` below: the list (search
and page in the URL, one query for the page's counts, an empty state), Add, Edit, and
Delete (a confirmation that says beforehand what deleting does). A form becomes the
body the API's POST/PUT takes (dashboard/catalog_forms.py) and goes through the API's
parser and service in one transaction: a refusal re-renders the form with status 422,
the values kept and the reason under its input.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from meterbill.add_ons import service as add_ons
from meterbill.add_ons.models import AddOn
from meterbill.add_ons.schemas import parse_add_on
from meterbill.core.errors import MeterbillError, NotFound
from meterbill.core.pagination import PageRequest
from meterbill.core.records import find_live, uuid_or_none
from meterbill.coupons import service as coupons
from meterbill.coupons.models import Coupon
from meterbill.coupons.schemas import parse_coupon
from meterbill.dashboard import catalog_forms as forms
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
)
from meterbill.metrics import service as metrics
from meterbill.metrics.models import BillableMetric
from meterbill.metrics.schemas import parse_metric
from meterbill.organizations.service import get_organization
from meterbill.plans.service import list_plans
from meterbill.taxes import service as taxes
from meterbill.taxes.models import Tax
from meterbill.taxes.schemas import parse_tax

router = APIRouter(include_in_schema=False)

PER_PAGE = 20
# Enough for an organization's plans, metrics and taxes in a form's pickers.
PICKER_PAGE = PageRequest(page=1, per_page=100)


@dataclass(frozen=True)
class Kind:
    """One kind of catalogue record and what its pages need from the services."""

    key: str  # templates/catalog/_<key>_fields.html and _<key>_cells.html
    path: str  # its list's URL
    section: str  # the side menu entry shown as current
    title: str
    singular: str
    permission: str  # <permission>:view / :create / :update / :delete
    model: Any
    resource: str  # the 404's resource name
    columns: list[str]
    lister: Callable[..., Any]
    counts: Callable[[Session, list[uuid.UUID]], dict[uuid.UUID, int]]
    empty_text: str
    parse: Callable[..., Any]
    create: Callable[..., Any]
    update: Callable[..., Any]
    delete: Callable[..., Any]
    body: Callable[[forms.CatalogForm], dict[str, Any]]
    read_form: Callable[[Any], forms.CatalogForm]
    # (session, organization_id) -> a new form; (session, record) -> its edit form.
    empty_form: Callable[[Session, uuid.UUID], forms.CatalogForm]
    form_of: Callable[[Session, Any], forms.CatalogForm]
    # (session, record) -> the sentences Delete shows before the user confirms.
    deletion: Callable[[Session, Any], list[str]]
    # Lago's matrix has one permission for every change of some kinds (taxes: update).
    change_permission: str | None = None

    @property
    def a_singular(self) -> str:
        """ "a coupon", "an add-on"."""
        return ("an " if self.singular[0] in "aeiou" else "a ") + self.singular

    def can(self, action: str) -> str:
        if action != "view" and self.change_permission:
            return self.change_permission
        return f"{self.permission}:{action}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- what each kind's pages need ----------------------------------------------------------


def _metric_form(session: Session, metric: BillableMetric) -> forms.CatalogForm:
    del session  # the metric's filters are its relationship
    return forms.metric_form_of(metric, {item.key: list(item.values) for item in metric.filters})


def _metric_deletion(session: Session, metric: BillableMetric) -> list[str]:
    counts = metrics.metric_counts(session, metric)
    plans, active = counts["plans_count"], counts["active_subscriptions_count"]
    if not plans:
        return ["No plan charges this metric: deleting it changes no invoice."]
    return [
        f"Its charges are removed from {_plural(plans, 'plan')} "
        f"({_plural(active, 'active subscription')}): their usage of this metric is no "
        "longer billed, from the next invoice on.",
        "Events already received with this code are kept.",
    ]


def _coupon_form(session: Session, coupon: Coupon) -> forms.CatalogForm:
    plan_codes, metric_codes = coupons.coupon_targets(session, coupon)
    return forms.coupon_form_of(coupon, plan_codes, metric_codes)


def _coupon_deletion(session: Session, coupon: Coupon) -> list[str]:
    applied = coupons.customers_counts(session, [coupon.id]).get(coupon.id, 0)
    if not applied:
        return ["This coupon is applied to no customer."]
    return [
        f"It is applied to {_plural(applied, 'customer')}: those applications are "
        "terminated, and their next invoices no longer take it off.",
        "Invoices already issued keep the discount they had.",
    ]


def _add_on_form(session: Session, add_on: AddOn) -> forms.CatalogForm:
    found = add_ons.add_on_taxes(session, [add_on.id]).get(add_on.id, [])
    return forms.add_on_form_of(add_on, [tax.code for tax in found])


def _add_on_deletion(session: Session, add_on: AddOn) -> list[str]:
    billed = add_ons.customers_counts(session, [add_on.id]).get(add_on.id, 0)
    return [
        "Invoices already issued keep their lines"
        + (f" ({_plural(billed, 'customer')} billed it)." if billed else "."),
        "It can no longer be added to a one-off invoice.",
    ]


def _tax_deletion(session: Session, tax: Tax) -> list[str]:
    carried = taxes.customers_counts(session, [tax.id]).get(tax.id, 0)
    sentences = ["Invoices already finalized keep the tax they were issued with."]
    if carried:
        sentences.insert(
            0,
            f"It is removed from {_plural(carried, 'customer')}: their draft and upcoming "
            "invoices are computed without it.",
        )
    return sentences


def _default_currency(session: Session, organization_id: uuid.UUID) -> str:
    return get_organization(session, organization_id).default_currency or "USD"


KINDS = [
    Kind(
        key="metric",
        path="/billable-metrics",
        section="billable-metrics",
        title="Billable metrics",
        singular="billable metric",
        permission="billable_metrics",
        model=BillableMetric,
        resource="billable_metric",
        columns=["Billable metric", "Aggregation", "Plans ", "Creation date", ""],
        lister=metrics.list_metrics,
        counts=metrics.plans_counts,
        empty_text="A billable metric says what is measured from the events you send: "
        "calls counted, storage summed, seats at their latest value…",
        parse=parse_metric,
        create=metrics.create_metric,
        update=metrics.update_metric,
        delete=metrics.delete_metric,
        body=forms.metric_body,
        read_form=forms.read_metric_form,
        empty_form=lambda _session, _org: forms.empty_metric_form(),
        form_of=_metric_form,
        deletion=_metric_deletion,
    ),
    Kind(
        key="coupon",
        path="/coupons",
        section="coupons",
        title="Coupons",
        singular="coupon",
        permission="coupons",
        model=Coupon,
        resource="coupon",
        columns=["Coupon", "Discount", "Customers ", "Expiration", "Status", ""],
        lister=coupons.list_coupons,
        counts=coupons.customers_counts,
        empty_text="A coupon takes a fixed amount or a percentage off a customer's "
        "invoices, once, for some months or forever.",
        parse=parse_coupon,
        create=coupons.create_coupon,
        update=coupons.update_coupon,
        delete=coupons.delete_coupon,
        body=forms.coupon_body,
        read_form=forms.read_coupon_form,
        empty_form=lambda session, org: forms.empty_coupon_form(_default_currency(session, org)),
        form_of=_coupon_form,
        deletion=_coupon_deletion,
    ),
    Kind(
        key="add_on",
        path="/add-ons",
        section="add-ons",
        title="Add-ons",
        singular="add-on",
        permission="addons",
        model=AddOn,
        resource="add_on",
        columns=["Add-on", "Amount ", "Customers ", "Creation date", ""],
        lister=add_ons.list_add_ons,
        counts=add_ons.customers_counts,
        empty_text="An add-on is a one-time charge (a setup fee, a workshop) billed on a "
        "one-off invoice.",
        parse=parse_add_on,
        create=add_ons.create_add_on,
        update=add_ons.update_add_on,
        delete=add_ons.delete_add_on,
        body=forms.add_on_body,
        read_form=forms.read_add_on_form,
        empty_form=lambda session, org: forms.empty_add_on_form(_default_currency(session, org)),
        form_of=_add_on_form,
        deletion=_add_on_deletion,
    ),
    Kind(
        key="tax",
        path="/settings/taxes",
        section="settings",
        title="Taxes",
        singular="tax",
        permission="organization:taxes",
        model=Tax,
        resource="tax",
        columns=["Tax", "Rate ", "Customers ", ""],
        lister=taxes.list_taxes,
        counts=taxes.customers_counts,
        empty_text="A tax rate applies to customers (or to the whole organization by "
        "default), to add-ons and to plans.",
        parse=parse_tax,
        create=taxes.create_tax,
        update=taxes.update_tax,
        delete=taxes.delete_tax,
        body=forms.tax_body,
        read_form=forms.read_tax_form,
        empty_form=lambda _session, _org: forms.empty_tax_form(),
        form_of=lambda _session, tax: forms.tax_form_of(tax),
        deletion=_tax_deletion,
        change_permission="organization:taxes:update",
    ),
]


# --- shared page logic ---------------------------------------------------------------------


def _find(session: Session, kind: Kind, organization_id: uuid.UUID, record_id: str) -> Any:
    key = uuid_or_none(record_id)
    if key is None:
        raise NotFound(kind.resource)
    return find_live(session, kind.model, organization_id, kind.resource, id=key)


def _pickers(session: Session, kind: Kind, organization_id: uuid.UUID) -> dict[str, Any]:
    """The choices a kind's form offers: plans and metrics for a coupon, taxes for an
    add-on (codes and names, first hundred of each)."""
    if kind.key == "coupon":
        return {
            "plan_options": [
                (plan.code, plan.name)
                for plan in list_plans(session, organization_id, PICKER_PAGE).items
            ],
            "metric_options": [
                (metric.code, metric.name)
                for metric in metrics.list_metrics(session, organization_id, PICKER_PAGE).items
            ],
        }
    if kind.key == "add_on":
        return {
            "tax_options": [
                (tax.code, f"{tax.name} ({forms._plain_decimal(tax.rate)}%)")
                for tax in taxes.list_taxes(session, organization_id, PICKER_PAGE).items
            ]
        }
    return {}


def _list(request: Request, page: PageContext, kind: Kind) -> HTMLResponse:
    search = request.query_params.get("search", "").strip()
    number = PageRequest.from_query({"page": request.query_params.get("page", "1")}).page
    term = search if len(search) >= SEARCH_MIN else None
    with page.db.transaction(write=False) as session:
        result = kind.lister(
            session,
            page.organization_id,
            PageRequest(page=number, per_page=PER_PAGE),
            search_term=term,
        )
        counts = kind.counts(session, [item.id for item in result.items])

    def link(**changes: Any) -> str:
        return list_url(kind.path, {"search": search, "page": number, **changes})

    context = {
        "kind": kind,
        "section": kind.section,
        "items": result.items,
        "meta": result.meta,
        "counts": counts,
        "search": search,
        "searching": term is not None,
        "link": link,
        "now": page.now,
    }
    full = "catalog/taxes.html" if kind.key == "tax" else "catalog/list.html"
    template = "catalog/_results.html" if is_htmx(request) else full
    return render(request, template, context)


def _form_page(
    request: Request,
    page: PageContext,
    kind: Kind,
    draft: forms.CatalogForm,
    record: Any = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        pickers = _pickers(session, kind, page.organization_id)
    action = f"{kind.path}/{record.id}/edit" if record is not None else f"{kind.path}/new"
    return render(
        request,
        "catalog/form.html",
        {
            "kind": kind,
            "section": kind.section,
            "record": record,
            "form": draft,
            "values": draft.values,
            "errors": draft.errors,
            "action": action,
            **pickers,
            **forms.OPTIONS,
        },
        status_code=status_code,
    )


def _save(
    request: Request, page: PageContext, kind: Kind, form: Any, record_id: str | None
) -> Response:
    draft = kind.read_form(form)
    record = None
    if record_id is not None:
        with page.db.transaction(write=False) as session:
            record = _find(session, kind, page.organization_id, record_id)
    if form.get("action") == "check_expression":
        return _check_expression(request, page, kind, draft, record)
    if form.get("action") == "add_filter":
        return _form_page(request, page, kind, draft, record)
    body = kind.body(draft)
    if draft.errors:
        return _form_page(request, page, kind, draft, record, status_code=422)
    try:
        with page.db.transaction() as session:
            parsed = kind.parse(body, creating=record is None)
            if record is None:
                saved = kind.create(session, page.organization_id, parsed, page.now)
            else:
                saved = kind.update(session, page.organization_id, record.code, parsed, page.now)
            name = saved.name
    except MeterbillError as error:
        if error.status >= 500:
            raise
        draft.explain(error)
        return _form_page(request, page, kind, draft, record, status_code=422)
    verb = "added" if record is None else "saved"
    singular = kind.singular[0].upper() + kind.singular[1:]
    return redirect_to(request, kind.path, flash=f"{singular} “{name}” {verb}")


def _check_expression(
    request: Request, page: PageContext, kind: Kind, draft: forms.CatalogForm, record: Any
) -> HTMLResponse:
    """Lago's "Test expression": the value the typed expression gives for the typed
    properties, computed by the API's evaluate-expression service."""
    event = forms.test_event(draft)
    expression = draft.values.get("expression") or ""
    if not expression:
        draft.refuse("expression", "value_is_mandatory")
    elif event is not None:
        try:
            draft.check_result = metrics.evaluate_expression(expression, event, page.now)
        except MeterbillError as error:
            draft.explain(error)
    status = 422 if draft.errors else 200
    return _form_page(request, page, kind, draft, record, status_code=status)


def _register(kind: Kind) -> None:
    path = kind.path

    @router.get(path, dependencies=[requires(kind.can("view"))], name=f"{kind.key}_list")
    def listing(request: Request, page: Page) -> HTMLResponse:
        return _list(request, page, kind)

    @router.get(f"{path}/new", dependencies=[requires(kind.can("create"))], name=f"{kind.key}_new")
    def new(request: Request, page: Page) -> HTMLResponse:
        with page.db.transaction(write=False) as session:
            draft = kind.empty_form(session, page.organization_id)
        return _form_page(request, page, kind, draft)

    @router.post(f"{path}/new", dependencies=[requires(kind.can("create"))])
    def create(request: Request, page: Page, form: Form) -> Response:
        return _save(request, page, kind, form, None)

    @router.get(f"{path}/{{record_id}}/edit", dependencies=[requires(kind.can("update"))])
    def edit(request: Request, page: Page, record_id: str) -> HTMLResponse:
        with page.db.transaction(write=False) as session:
            record = _find(session, kind, page.organization_id, record_id)
            draft = kind.form_of(session, record)
        return _form_page(request, page, kind, draft, record)

    @router.post(f"{path}/{{record_id}}/edit", dependencies=[requires(kind.can("update"))])
    def update(request: Request, page: Page, form: Form, record_id: str) -> Response:
        return _save(request, page, kind, form, record_id)

    @router.get(f"{path}/{{record_id}}/delete", dependencies=[requires(kind.can("delete"))])
    def confirm_delete(request: Request, page: Page, record_id: str) -> HTMLResponse:
        with page.db.transaction(write=False) as session:
            record = _find(session, kind, page.organization_id, record_id)
            sentences = kind.deletion(session, record)
        return render(
            request,
            "catalog/delete.html",
            {"kind": kind, "section": kind.section, "record": record, "sentences": sentences},
        )

    @router.post(f"{path}/{{record_id}}/delete", dependencies=[requires(kind.can("delete"))])
    def delete(request: Request, page: Page, _form: Form, record_id: str) -> Response:
        with page.db.transaction() as session:
            record = _find(session, kind, page.organization_id, record_id)
            name = record.name
            kind.delete(session, page.organization_id, record.code, page.now)
        singular = kind.singular[0].upper() + kind.singular[1:]
        return redirect_to(request, kind.path, flash=f"{singular} “{name}” deleted")


for _kind in KINDS:
    _register(_kind)

COUPONS = next(kind for kind in KINDS if kind.key == "coupon")


@router.get("/coupons/{record_id}/terminate", dependencies=[requires("coupons:update")])
def confirm_terminate_coupon(request: Request, page: Page, record_id: str) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        coupon = _find(session, COUPONS, page.organization_id, record_id)
        applied = coupons.customers_counts(session, [coupon.id]).get(coupon.id, 0)
    return render(
        request,
        "catalog/terminate.html",
        {"kind": COUPONS, "section": COUPONS.section, "record": coupon, "applied": applied},
    )


@router.post("/coupons/{record_id}/terminate", dependencies=[requires("coupons:update")])
def terminate_coupon(request: Request, page: Page, _form: Form, record_id: str) -> Response:
    with page.db.transaction() as session:
        coupon = _find(session, COUPONS, page.organization_id, record_id)
        coupons.terminate_coupon(session, page.organization_id, coupon.code, page.now)
        name = coupon.name
    return redirect_to(request, COUPONS.path, flash=f"Coupon “{name}” terminated")
