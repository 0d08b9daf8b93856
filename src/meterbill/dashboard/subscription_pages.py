"""Subscriptions: the list, a subscription's page (dates, the next invoices forecast,
current usage), Terminate and Upgrade / downgrade.

Every figure and every change goes through the API's own services: the forecast is
`invoices.preview.forecast` (GET /subscriptions/{id}/invoice_forecast, rehearsed and
rolled back), the usage block is the one of the customer's Analytics tab (GET
/customers/{id}/current_usage), Terminate is DELETE /subscriptions/{id}'s
`terminate_subscription` and a plan change is POST /subscriptions' `create_subscription`
with the same external id; the service decides whether a change is an upgrade (now) or
a downgrade (at the end of the period), and the page says what it decided.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from meterbill.core.errors import MeterbillError, NotFound, ValidationFailed
from meterbill.core.pagination import PageRequest
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.dashboard import action_forms as forms
from meterbill.dashboard.analytics import usage_block_view
from meterbill.dashboard.formats import INTERVALS, plan_label
from meterbill.dashboard.web import (
    SEARCH_MIN,
    Form,
    Page,
    PageContext,
    list_url,
    redirect_to,
    render,
    requires,
    shown_range,
)
from meterbill.invoices import preview
from meterbill.invoices.models import Invoice
from meterbill.organizations.service import get_organization
from meterbill.plans.models import Plan
from meterbill.plans.service import assignable_plans
from meterbill.subscriptions.models import Subscription
from meterbill.subscriptions.schemas import (
    STATUSES,
    TERMINATION_CREDIT_NOTES,
    TERMINATION_INVOICES,
    SubscriptionInput,
)
from meterbill.subscriptions.service import (
    can_change_plan,
    create_subscription,
    find_subscription_by_id,
    plan_change,
    subscription_rows,
    subscription_views,
    terminate_subscription,
)
from meterbill.usage.report import usage_block

router = APIRouter(include_in_schema=False)
logger = logging.getLogger("meterbill.dashboard")

PER_PAGE = 20
DEFAULT_PERIODS = 3
# The list's quick filters: key in the URL, label, statuses (none: every status).
STATUS_VIEWS: list[tuple[str, str, tuple[str, ...]]] = [
    ("active", "Active", ("active",)),
    ("pending", "Pending", ("pending",)),
    ("terminated", "Terminated", ("terminated",)),
    ("canceled", "Canceled", ("canceled",)),
    ("all", "All", ()),
]
assert {key for key, _label, _s in STATUS_VIEWS} - {"all"} == set(STATUSES)
# The termination options in words (DELETE /subscriptions' on_termination_* values).
CREDIT_NOTE_CHOICES = {
    "credit": "Credit the unused days to the customer's balance (a credit note)",
    "refund": "Refund the unused days (the paid part refunded, the unpaid part credited)",
    "offset": "Offset the unused days (the paid part refunded, the rest off the invoice)",
    "skip": "No credit note",
}
INVOICE_CHOICES = {
    "generate": "Issue the final invoice now (usage and in-arrears fees up to today)",
    "skip": "Do not issue a final invoice",
}
assert set(CREDIT_NOTE_CHOICES) == set(TERMINATION_CREDIT_NOTES)
assert set(INVOICE_CHOICES) == set(TERMINATION_INVOICES)


# --- the list ------------------------------------------------------------------------


def _list_state(params: QueryParams) -> tuple[str, str, int]:
    view = params.get("status", "active")
    if view not in {key for key, _label, _statuses in STATUS_VIEWS}:
        view = "active"
    search = params.get("search", "").strip()
    number = PageRequest.from_query({"page": params.get("page", "1")}).page
    return view, search, number


@router.get("/subscriptions", dependencies=[requires("subscriptions:view")])
def subscriptions_list(request: Request, page: Page) -> HTMLResponse:
    view, search, number = _list_state(request.query_params)
    statuses = next(s for key, _label, s in STATUS_VIEWS if key == view)
    term = search if len(search) >= SEARCH_MIN else None
    with page.db.transaction(write=False) as session:
        result = subscription_rows(
            session, page.organization_id, statuses, term, PageRequest(number, PER_PAGE)
        )

    def link(**changes: Any) -> str:
        state = {"status": view, "search": search, "page": number, **changes}
        return list_url("/subscriptions", state, {"status": "active"})

    range_start, range_end = shown_range(number, PER_PAGE, result.meta["total_count"])
    return render(
        request,
        "subscriptions/list.html",
        {
            "section": "subscriptions",
            "rows": result.items,
            "meta": result.meta,
            "views": STATUS_VIEWS,
            "view": view,
            "search": search,
            "searching": term is not None,
            "range_start": range_start,
            "range_end": range_end,
            "intervals": INTERVALS,
            "link": link,
        },
    )


# --- a subscription's page -----------------------------------------------------------


@dataclass(frozen=True)
class ForecastFee:
    label: str
    units: Any
    amount_cents: int


@dataclass(frozen=True)
class ForecastInvoice:
    """One forecast invoice as the page shows it (read inside the rolled-back rehearsal)."""

    issuing_date: date
    currency: str
    period_from: datetime | None
    period_to: datetime | None
    fees: list[ForecastFee]
    fees_amount_cents: int
    coupons_amount_cents: int
    taxes_amount_cents: int
    total_amount_cents: int


def _forecast_view(session: Session, invoices: list[Invoice]) -> list[ForecastInvoice]:
    shown = []
    for invoice in invoices:
        period = invoice.billing_periods[0] if invoice.billing_periods else None
        shown.append(
            ForecastInvoice(
                issuing_date=invoice.issuing_date,
                currency=invoice.currency,
                period_from=period.from_datetime if period else None,
                period_to=period.to_datetime if period else None,
                fees=[
                    ForecastFee(
                        fee.invoice_display_name or fee.item_name, fee.units, fee.amount_cents
                    )
                    for fee in invoice.fees
                    if fee.invoiceable and (fee.amount_cents or fee.fee_type == "subscription")
                ],
                fees_amount_cents=invoice.fees_amount_cents,
                coupons_amount_cents=invoice.coupons_amount_cents,
                taxes_amount_cents=invoice.taxes_amount_cents,
                total_amount_cents=invoice.total_amount_cents,
            )
        )
    return shown


def _periods(params: QueryParams) -> tuple[int, str | None]:
    raw = params.get("periods", str(DEFAULT_PERIODS))
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= preview.FORECAST_MAX_PERIODS:
        return int(raw), None
    return DEFAULT_PERIODS, (
        f"The number of periods goes from 1 to {preview.FORECAST_MAX_PERIODS}: "
        f"showing {DEFAULT_PERIODS}."
    )


def _forecast(
    page: PageContext, subscription: Subscription, periods: int
) -> tuple[list[ForecastInvoice], str | None]:
    """The next `periods` billing days' invoices (GET .../invoice_forecast), or why not."""
    if subscription.status not in ("active", "pending"):
        return [], None
    try:
        result = preview.forecast(
            page.db, page.organization_id, subscription.external_id, periods, page.now,
            _forecast_view, PageRequest(1, 1000),
        )  # fmt: skip
    except (MeterbillError, SQLAlchemyError):
        logger.exception("forecast of subscription %s", subscription.id)
        return [], "The forecast could not be computed."
    return list(result.items), None


def _labels(session: Session, subscription: Subscription) -> tuple[Customer, Plan, str]:
    customer = session.get(Customer, subscription.customer_id)
    plan = session.get(Plan, subscription.plan_id)
    assert customer is not None and plan is not None
    timezone = applicable_timezone(customer, get_organization(session, customer.organization_id))
    return customer, plan, timezone


@router.get("/subscriptions/{subscription_id}", dependencies=[requires("subscriptions:view")])
def subscription_page(request: Request, page: Page, subscription_id: str) -> HTMLResponse:
    periods, periods_error = _periods(request.query_params)
    with page.db.transaction(write=False) as session:
        subscription = find_subscription_by_id(session, page.organization_id, subscription_id)
        customer, plan, timezone = _labels(session, subscription)
        view = subscription_views(session, [subscription], page.now)[subscription.id]
        usage = None
        if subscription.status == "active":
            usage = usage_block_view(
                usage_block(session, customer.external_id, subscription, plan, timezone, page.now)
            )
        # The pending downgrade, or the subscription this one replaced.
        previous = (
            session.get(Subscription, subscription.previous_subscription_id)
            if subscription.previous_subscription_id
            else None
        )
        following = session.scalars(
            select(Subscription.id).where(
                Subscription.previous_subscription_id == subscription.id,
                Subscription.status == "pending",
            )
        ).first()
    forecast, forecast_error = _forecast(page, subscription, periods)
    return render(
        request,
        "subscriptions/show.html",
        {
            "section": "subscriptions",
            "subscription": subscription,
            "customer": customer,
            "plan": plan,
            "interval": INTERVALS.get(plan.interval, plan.interval),
            "customer_timezone": timezone,
            "view": view,
            "downgrade_date": _downgrade_date(view.downgrade_plan_date),
            "previous": previous,
            "next_id": following,
            "usage": usage,
            "periods": periods,
            "periods_error": periods_error,
            "forecast": forecast,
            "forecast_error": forecast_error,
            "forecast_total": sum(invoice.total_amount_cents for invoice in forecast),
            "changeable": can_change_plan(subscription),
        },
    )


def _downgrade_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


# --- Terminate -----------------------------------------------------------------------


def _terminate_page(
    request: Request, page: PageContext, subscription_id: str, values: dict[str, str],
    errors: forms.FormErrors, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    with page.db.transaction(write=False) as session:
        subscription = find_subscription_by_id(session, page.organization_id, subscription_id)
        customer, plan, _timezone = _labels(session, subscription)
    return render(
        request,
        "subscriptions/terminate.html",
        {
            "section": "subscriptions",
            "subscription": subscription,
            "customer": customer,
            "plan": plan,
            "values": values,
            "errors": errors.by_field,
            "credit_note_choices": CREDIT_NOTE_CHOICES,
            "invoice_choices": INVOICE_CHOICES,
        },
        status_code=status_code,
    )


@router.get(
    "/subscriptions/{subscription_id}/terminate", dependencies=[requires("subscriptions:update")]
)
def terminate_dialog(request: Request, page: Page, subscription_id: str) -> HTMLResponse:
    values = {"on_termination_credit_note": "credit", "on_termination_invoice": "generate"}
    return _terminate_page(request, page, subscription_id, values, forms.FormErrors())


@router.post(
    "/subscriptions/{subscription_id}/terminate", dependencies=[requires("subscriptions:update")]
)
def terminate(request: Request, page: Page, form: Form, subscription_id: str) -> Response:
    values = {
        key: form.get(key) for key in ("on_termination_credit_note", "on_termination_invoice")
    }
    try:
        with page.db.transaction() as session:
            subscription = find_subscription_by_id(session, page.organization_id, subscription_id)
            if subscription.status not in ("active", "pending"):
                raise ValidationFailed.single("base", "subscription_not_active")
            pending = subscription.status == "pending"
            # The service keeps the credit-note option for plans paid in advance only.
            terminate_subscription(
                session, page.organization_id, subscription.external_id, subscription.status,
                page.now,
                on_termination_credit_note=values["on_termination_credit_note"] or None,
                on_termination_invoice=values["on_termination_invoice"] or None,
            )  # fmt: skip
    except ValidationFailed as error:
        errors = forms.refusal_errors(error)
        return _terminate_page(request, page, subscription_id, values, errors, 422)
    flash = (
        "Subscription successfully canceled" if pending else "Subscription successfully terminated"
    )
    return redirect_to(request, f"/subscriptions/{subscription_id}", flash=flash)


# --- Upgrade / downgrade -------------------------------------------------------------

CHANGE_WORDS = {
    "upgrade": "upgrade, applies now",
    "downgrade": "downgrade, applies at the end of the current billing period",
    "replace": "replaces the plan before the subscription starts",
}


def _change_page(
    request: Request, page: PageContext, subscription_id: str, values: dict[str, str],
    errors: forms.FormErrors, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    with page.db.transaction(write=False) as session:
        subscription = find_subscription_by_id(session, page.organization_id, subscription_id)
        customer, plan, timezone = _labels(session, subscription)
        view = subscription_views(session, [subscription], page.now)[subscription.id]
        options = []
        for candidate in assignable_plans(session, page.organization_id):
            kind = plan_change(session, subscription, candidate)
            if kind == "same":
                continue
            options.append(
                {
                    "code": candidate.code,
                    "kind": kind,
                    "option": (candidate.code, f"{plan_label(candidate)} — {CHANGE_WORDS[kind]}"),
                }
            )
    return render(
        request,
        "subscriptions/change_plan.html",
        {
            "section": "subscriptions",
            "subscription": subscription,
            "customer": customer,
            "plan": plan,
            "plan_label": plan_label(plan),
            "customer_timezone": timezone,
            "view": view,
            "options": options,
            "values": values,
            "errors": errors.by_field,
            "changeable": can_change_plan(subscription),
        },
        status_code=status_code,
    )


@router.get(
    "/subscriptions/{subscription_id}/change-plan",
    dependencies=[requires("subscriptions:update")],
)
def change_plan_form(request: Request, page: Page, subscription_id: str) -> HTMLResponse:
    return _change_page(request, page, subscription_id, {}, forms.FormErrors())


@router.post(
    "/subscriptions/{subscription_id}/change-plan",
    dependencies=[requires("subscriptions:update")],
)
def change_plan(request: Request, page: Page, form: Form, subscription_id: str) -> Response:
    values = {"plan_code": form.get("plan_code").strip()}
    try:
        with page.db.transaction() as session:
            subscription = find_subscription_by_id(session, page.organization_id, subscription_id)
            if not can_change_plan(subscription):
                raise ValidationFailed.single("base", "subscription_not_active")
            if not values["plan_code"]:
                raise ValidationFailed.single("plan_code", "value_is_mandatory")
            customer = session.get(Customer, subscription.customer_id)
            assert customer is not None
            before = subscription.plan_id
            result = create_subscription(
                session,
                page.organization_id,
                SubscriptionInput(
                    external_customer_id=customer.external_id,
                    plan_code=values["plan_code"],
                    external_id=subscription.external_id,
                ),
                page.now,
            )
            flash, target = _outcome(session, subscription, before, result, page.now)
    except (ValidationFailed, NotFound) as error:
        if isinstance(error, NotFound) and error.code == "subscription_not_found":
            raise
        # The customer's currency refusal is about the plan chosen.
        errors = forms.refusal_errors(error, {"currency": "plan_code"})
        return _change_page(request, page, subscription_id, values, errors, 422)
    return redirect_to(request, target, flash=flash)


def _outcome(
    session: Session, current: Subscription, before: Any, result: Subscription, now: datetime
) -> tuple[str, str]:
    """What the service did, in words, and the page to show next."""
    if result.id != current.id:
        return "Plan upgraded: the new plan applies now", f"/subscriptions/{result.id}"
    if result.status == "pending":
        changed = result.plan_id != before
        return ("Plan changed" if changed else "Nothing changed"), f"/subscriptions/{current.id}"
    view = subscription_views(session, [current], now)[current.id]
    if view.next_plan_code is None:
        return "Nothing changed", f"/subscriptions/{current.id}"
    when = _downgrade_date(view.downgrade_plan_date)
    on = f" on {when:%b %-d, %Y}" if when else ""
    return (
        f"Plan downgraded: {view.next_plan_code} applies at the end of the current period{on}",
        f"/subscriptions/{current.id}",
    )
