"""The customer view's Actions: assign a plan, apply a coupon, create a one-off invoice,
add a wallet and top one up.

Each form becomes the body the API accepts (dashboard/action_forms.py) and goes through
the API's own parser and service in one transaction; a refusal re-renders the form with
status 422, its values kept and the API's reason under the field. Success is a 303 to
the customer view with a flash message. The one-off invoice's total is computed by the
invoice's own creation, rehearsed and rolled back (invoices/one_off.py): live through
htmx, or with the "Compute total" button when JavaScript is off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from meterbill.add_ons.service import add_ons_by_name
from meterbill.core.errors import MethodNotAllowed, NotFound, ValidationFailed
from meterbill.coupons.models import Coupon
from meterbill.coupons.schemas import parse_applied_coupon
from meterbill.coupons.service import applicable_coupons, apply_coupon
from meterbill.customers.models import Customer
from meterbill.customers.service import find_customer_by_id
from meterbill.dashboard import action_forms as forms
from meterbill.dashboard.formats import money, plan_label
from meterbill.dashboard.web import Form, Page, redirect_to, render, requires
from meterbill.invoices.one_off import (
    OneOffPreview,
    create_one_off_invoice,
    parse_one_off,
    preview_one_off_invoice,
)
from meterbill.plans.service import assignable_plans
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from meterbill.wallets.models import Wallet
from meterbill.wallets.schemas import parse_transaction, parse_wallet
from meterbill.wallets.service import create_transactions, create_wallet, find_wallet

router = APIRouter(include_in_schema=False)

REFUSALS = (ValidationFailed, NotFound, MethodNotAllowed)


def _customer_url(customer: Customer, tab: str = "") -> str:
    return f"/customers/{customer.id}" + (f"/{tab}" if tab else "")


def _form_values(form: Any) -> dict[str, str]:
    return {key: form.get(key) for key in form.keys()}  # noqa: SIM118 (FormData is no mapping)


class _Refused(Exception):
    def __init__(self, errors: forms.FormErrors) -> None:
        super().__init__("refused")
        self.errors = errors


def _attempt(
    page: Page, act: Callable[[Session], None], renames: Mapping[str, str]
) -> forms.FormErrors:
    """Run `act` in one write transaction; its refusal (the form's own, or the API's
    parser's and service's) as form errors, with nothing written. An unknown customer
    or wallet stays a 404 page."""
    try:
        with page.db.transaction() as session:
            act(session)
    except _Refused as refused:
        return refused.errors
    except REFUSALS as error:
        if error.code in ("customer_not_found", "wallet_not_found") and isinstance(error, NotFound):
            raise
        return forms.refusal_errors(error, renames)
    return forms.FormErrors()


def _page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    return render(request, template, {"section": "customers", **context}, status_code=status_code)


# --- Assign a plan -------------------------------------------------------------------


def _plan_options(session: Session, organization_id: Any) -> list[dict[str, Any]]:
    return [
        {
            "code": plan.code,
            "currency": plan.amount_currency,
            "option": (plan.code, plan_label(plan)),
        }
        for plan in assignable_plans(session, organization_id)
    ]


def _subscription_form(
    request: Request, page: Page, customer_id: str, values: Mapping[str, str],
    errors: forms.FormErrors, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        plans = _plan_options(session, page.organization_id)
    return _page(
        request,
        "customers/actions/subscription.html",
        {"customer": customer, "plans": plans, "values": values, "errors": errors.by_field},
        status_code=status_code,
    )


@router.get(
    "/customers/{customer_id}/subscriptions/new", dependencies=[requires("subscriptions:create")]
)
def new_subscription(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    values = {"start_date": page.now.date().isoformat(), "billing_time": "calendar"}
    values.update({k: v for k, v in request.query_params.items() if k == "plan_code"})
    return _subscription_form(request, page, customer_id, values, forms.FormErrors())


@router.post(
    "/customers/{customer_id}/subscriptions/new", dependencies=[requires("subscriptions:create")]
)
def create_subscription_page(
    request: Request, page: Page, form: Form, customer_id: str
) -> Response:
    values = _form_values(form)
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)

    def act(session: Session) -> None:
        body, errors = forms.subscription_body(values, customer.external_id, page.now)
        if errors:
            raise _Refused(errors)
        create_subscription(
            session, page.organization_id, parse_subscription(body, creating=True), page.now
        )

    errors = _attempt(page, act, forms.SUBSCRIPTION_FIELDS)
    if errors:
        return _subscription_form(request, page, customer_id, values, errors, 422)
    target = _customer_url(customer)
    return redirect_to(request, target, flash="Subscription successfully created")


# --- Apply a coupon ------------------------------------------------------------------


def _coupon_terms(coupon: Coupon) -> str:
    if coupon.coupon_type == "percentage":
        value = f"{forms.decimal_or_error(str(coupon.percentage_rate)).normalize():f}%"
    else:
        value = money(coupon.amount_cents, coupon.amount_currency)
    frequency = {
        "once": "once",
        "forever": "forever",
        "recurring": f"for {coupon.frequency_duration} billing periods",
    }.get(coupon.frequency, coupon.frequency)
    return f"{value} {frequency}"


def _coupon_form(
    request: Request, page: Page, customer_id: str, values: Mapping[str, str],
    errors: forms.FormErrors, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        coupons = applicable_coupons(session, page.organization_id, customer, page.now)
        options = [
            {
                "code": coupon.code,
                "label": f"{coupon.name} · {_coupon_terms(coupon)}",
                "coupon_type": coupon.coupon_type,
                "amount": money(coupon.amount_cents, coupon.amount_currency)
                if coupon.amount_cents is not None
                else None,
                "currency": coupon.amount_currency,
                "percentage_rate": coupon.percentage_rate,
                "frequency": coupon.frequency,
                "frequency_duration": coupon.frequency_duration,
                "option": (coupon.code, f"{coupon.name} · {_coupon_terms(coupon)}"),
            }
            for coupon in coupons
        ]
    chosen = next((o for o in options if o["code"] == values.get("coupon_code")), None)
    return _page(
        request,
        "customers/actions/coupon.html",
        {"customer": customer, "coupons": options, "chosen": chosen, "values": values,
         "errors": errors.by_field},
        status_code=status_code,
    )  # fmt: skip


@router.get("/customers/{customer_id}/coupons/new", dependencies=[requires("coupons:attach")])
def new_coupon(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    values = {k: v for k, v in request.query_params.items() if k == "coupon_code"}
    return _coupon_form(request, page, customer_id, values, forms.FormErrors())


@router.post("/customers/{customer_id}/coupons/new", dependencies=[requires("coupons:attach")])
def apply_coupon_page(request: Request, page: Page, form: Form, customer_id: str) -> Response:
    values = _form_values(form)
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)

    def act(session: Session) -> None:
        body, errors = forms.applied_coupon_body(values, customer.external_id, customer.currency)
        if errors:
            raise _Refused(errors)
        apply_coupon(session, page.organization_id, parse_applied_coupon(body), page.now)

    errors = _attempt(page, act, forms.COUPON_FIELDS)
    if errors:
        return _coupon_form(request, page, customer_id, values, errors, 422)
    target = _customer_url(customer)
    return redirect_to(request, target, flash="Coupon successfully applied")


# --- One-off invoice -----------------------------------------------------------------


def _invoice_context(
    session: Session, page: Page, customer: Customer, currency: str | None
) -> dict[str, Any]:
    add_ons = add_ons_by_name(session, page.organization_id)
    currencies = sorted({add_on.amount_currency for add_on in add_ons})
    context: dict[str, Any] = {
        "customer": customer,
        "add_ons": [
            {"code": a.code, "label": f"{a.name} · {money(a.amount_cents, a.amount_currency)}"}
            for a in add_ons
        ],
        "currencies": currencies,
        "currency": customer.currency or currency or (currencies[0] if currencies else "EUR"),
        "currency_locked": customer.currency is not None,
    }
    chosen = context["currency"]
    context["currency_options"] = [(c, c) for c in sorted({*currencies, chosen})]
    return context


def _preview(
    page: Page, customer: Customer, lines: list[forms.InvoiceLine], currency: str
) -> tuple[OneOffPreview | None, forms.FormErrors]:
    body, errors = forms.one_off_body(lines, customer.external_id, currency)
    if errors:
        return None, errors
    try:
        preview = preview_one_off_invoice(
            page.db, page.organization_id, parse_one_off(body), page.now
        )
    except REFUSALS as error:
        return None, forms.refusal_errors(error, {"currency": "currency"})
    return preview, forms.FormErrors()


def _invoice_form(
    request: Request, page: Page, customer_id: str, lines: list[forms.InvoiceLine],
    currency: str | None, *, preview: OneOffPreview | None = None,
    errors: forms.FormErrors | None = None, status_code: int = 200,
    template: str = "customers/actions/invoice.html",
) -> HTMLResponse:  # fmt: skip
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        context = _invoice_context(session, page, customer, currency)
    return _page(
        request,
        template,
        {**context, "lines": lines, "preview": preview,
         "errors": (errors or forms.FormErrors()).by_field},
        status_code=status_code,
    )  # fmt: skip


@router.get("/customers/{customer_id}/invoices/new", dependencies=[requires("invoices:create")])
def new_invoice(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    lines = [forms.InvoiceLine(add_on_code=request.query_params.get("add_on_code", ""))]
    return _invoice_form(request, page, customer_id, lines, None)


@router.post(
    "/customers/{customer_id}/invoices/preview", dependencies=[requires("invoices:create")]
)
def invoice_totals(request: Request, page: Page, form: Form, customer_id: str) -> HTMLResponse:
    """The totals block alone (htmx swaps it in as the form changes)."""
    values = _form_values(form)
    lines = forms.invoice_lines(values)
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
    currency = customer.currency or values.get("currency") or "EUR"
    preview, errors = _preview(page, customer, lines, currency)
    return _invoice_form(
        request, page, customer_id, lines, currency, preview=preview, errors=errors,
        template="customers/actions/_invoice_totals.html",
    )  # fmt: skip


@router.post("/customers/{customer_id}/invoices/new", dependencies=[requires("invoices:create")])
def create_invoice_page(request: Request, page: Page, form: Form, customer_id: str) -> Response:
    values = _form_values(form)
    lines = forms.invoice_lines(values)
    action = values.get("action", "create")
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
    currency = customer.currency or values.get("currency") or "EUR"
    if action == "add_line":
        return _invoice_form(request, page, customer_id, [*lines, forms.InvoiceLine()], currency)
    if action.startswith("remove_"):
        index = action.removeprefix("remove_")
        kept = [line for i, line in enumerate(lines) if str(i) != index] or [forms.InvoiceLine()]
        return _invoice_form(request, page, customer_id, kept, currency)
    if action == "compute":
        preview, errors = _preview(page, customer, lines, currency)
        return _invoice_form(
            request, page, customer_id, lines, currency, preview=preview, errors=errors,
            status_code=422 if errors else 200,
        )  # fmt: skip

    def act(session: Session) -> None:
        body, errors = forms.one_off_body(lines, customer.external_id, currency)
        if errors:
            raise _Refused(errors)
        create_one_off_invoice(session, page.organization_id, parse_one_off(body), page.now)

    errors = _attempt(page, act, {"currency": "currency"})
    if errors:
        return _invoice_form(
            request, page, customer_id, lines, currency, errors=errors, status_code=422
        )
    return redirect_to(
        request, _customer_url(customer, "invoices"), flash="One-off invoice successfully created"
    )


# --- Wallets -------------------------------------------------------------------------


def _wallet_form(
    request: Request, page: Page, customer_id: str, values: Mapping[str, str],
    errors: forms.FormErrors, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
    return _page(
        request,
        "customers/actions/wallet.html",
        {"customer": customer, "values": values, "errors": errors.by_field,
         "currency_locked": customer.currency is not None},
        status_code=status_code,
    )  # fmt: skip


@router.get("/customers/{customer_id}/wallets/new", dependencies=[requires("wallets:create")])
def new_wallet(request: Request, page: Page, customer_id: str) -> HTMLResponse:
    return _wallet_form(request, page, customer_id, {"rate_amount": "1"}, forms.FormErrors())


@router.post("/customers/{customer_id}/wallets/new", dependencies=[requires("wallets:create")])
def create_wallet_page(request: Request, page: Page, form: Form, customer_id: str) -> Response:
    values = _form_values(form)
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
    if customer.currency is not None:
        # The field is shown disabled: the customer's currency is the wallet's.
        values["currency"] = customer.currency

    def act(session: Session) -> None:
        body, errors = forms.wallet_body(values, customer.external_id, page.now)
        if errors:
            raise _Refused(errors)
        parsed = parse_wallet(body, creating=True, external_customer_id=customer.external_id)
        create_wallet(session, page.organization_id, parsed, page.now)

    errors = _attempt(page, act, forms.WALLET_FIELDS)
    if errors:
        return _wallet_form(request, page, customer_id, values, errors, 422)
    target = _customer_url(customer)
    return redirect_to(request, target, flash="Wallet and top-up successfully created")


def _customer_wallet(session: Session, page: Page, customer: Customer, wallet_id: str) -> Wallet:
    wallet = find_wallet(session, page.organization_id, wallet_id)
    if wallet.customer_id != customer.id:
        raise NotFound("wallet")
    return wallet


def _top_up_form(
    request: Request, page: Page, customer_id: str, wallet_id: str, values: Mapping[str, str],
    errors: forms.FormErrors, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        wallet = _customer_wallet(session, page, customer, wallet_id)
    return _page(
        request,
        "customers/actions/top_up.html",
        {"customer": customer, "wallet": wallet, "values": values, "errors": errors.by_field},
        status_code=status_code,
    )


@router.get(
    "/customers/{customer_id}/wallets/{wallet_id}/top-up", dependencies=[requires("wallets:top_up")]
)
def top_up(request: Request, page: Page, customer_id: str, wallet_id: str) -> HTMLResponse:
    return _top_up_form(request, page, customer_id, wallet_id, {}, forms.FormErrors())


@router.post(
    "/customers/{customer_id}/wallets/{wallet_id}/top-up", dependencies=[requires("wallets:top_up")]
)
def top_up_page(
    request: Request, page: Page, form: Form, customer_id: str, wallet_id: str
) -> Response:
    values = _form_values(form)
    with page.db.transaction(write=False) as session:
        customer = find_customer_by_id(session, page.organization_id, customer_id)
        wallet = _customer_wallet(session, page, customer, wallet_id)

    def act(session: Session) -> None:
        body = forms.top_up_body(values, str(wallet.id))
        made = create_transactions(session, page.organization_id, parse_transaction(body), page.now)
        if not made:
            refused = forms.FormErrors()
            refused.add("paid_credits", "must_be_positive")
            raise _Refused(refused)

    errors = _attempt(page, act, {"wallet_id": "base"})
    if errors:
        return _top_up_form(request, page, customer_id, wallet_id, values, errors, 422)
    target = _customer_url(customer)
    return redirect_to(request, target, flash="Credits successfully added")
