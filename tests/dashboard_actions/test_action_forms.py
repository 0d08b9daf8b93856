"""The customer view's actions over HTTP, on both databases: each form creates its object
through the API's service (what the API then lists), and each refusal is the form again
with status 422, the values kept and the reason in words under the field."""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest

from tests.conftest import make_org
from tests.dashboard_actions.conftest import Web, login, text_of

Json = dict[str, Any]


def api(http: httpx.Client, method: str, path: str, body: Json | None = None) -> Json:
    response = http.request(method, path, json=body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def customer(http: httpx.Client, external_id: str = "acme", **fields: Any) -> str:
    body = {"customer": {"external_id": external_id, "name": "Acme", **fields}}
    return str(api(http, "POST", "/customers", body)["customer"]["lago_id"])


def metric(http: httpx.Client, code: str = "calls") -> str:
    body = {
        "billable_metric": {"name": code.title(), "code": code, "aggregation_type": "count_agg"}
    }
    return str(api(http, "POST", "/billable_metrics", body)["billable_metric"]["lago_id"])


def plan(http: httpx.Client, code: str = "starter", currency: str = "EUR", **fields: Any) -> None:
    body = {"plan": {"name": code.title(), "code": code, "interval": "monthly",
                     "amount_cents": 1_000, "amount_currency": currency, **fields}}  # fmt: skip
    api(http, "POST", "/plans", body)


def add_on(http: httpx.Client, code: str = "setup", amount: int = 10_000, **fields: Any) -> None:
    body = {"add_on": {"name": code.title(), "code": code, "amount_cents": amount,
                       "amount_currency": "EUR", **fields}}  # fmt: skip
    api(http, "POST", "/add_ons", body)


def coupon(http: httpx.Client, code: str, **fields: Any) -> None:
    body = {"coupon": {"name": code.title(), "code": code, "frequency": "once",
                       "expiration": "no_expiration", **fields}}  # fmt: skip
    api(http, "POST", "/coupons", body)


def error_under(page: str, field: str) -> str:
    """The message under a field (the component's `f-<name>-error` paragraph)."""
    marker = f'id="f-{field}-error">'
    assert marker in page, f"no error under {field}"
    return html.unescape(page.split(marker, 1)[1].split("</p>", 1)[0])


def flash_after(web: Web, response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:500]
    page = web.get(response.headers["location"])
    assert page.status_code == 200
    return text_of(page.text)


# Assign a plan


def test_assign_a_plan(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http)
    plan(http, "starter")
    form = web.get(f"/customers/{lago_id}/subscriptions/new")
    assert form.status_code == 200
    assert "Assign a plan to Acme" in text_of(form.text)
    assert '<option value="starter"' in form.text
    response = web.post(f"/customers/{lago_id}/subscriptions/new", {
        "plan_code": "starter", "name": "Main", "external_id": "sub-1",
        "start_date": "", "billing_time": "anniversary",
    })  # fmt: skip
    # The start date is required: the form comes back with what was typed.
    assert response.status_code == 422
    assert error_under(response.text, "start_date") == "This value is mandatory to move forward."
    assert 'value="Main"' in response.text and 'value="sub-1"' in response.text
    today = web.get(f"/customers/{lago_id}/subscriptions/new").text.split(
        'name="start_date" type="date" value="', 1)[1][:10]  # fmt: skip
    response = web.post(f"/customers/{lago_id}/subscriptions/new", {
        "plan_code": "starter", "name": "Main", "external_id": "sub-1",
        "start_date": today, "billing_time": "anniversary",
    })  # fmt: skip
    assert response.headers["location"] == f"/customers/{lago_id}"
    assert "Subscription successfully created" in flash_after(web, response)
    [subscription] = api(http, "GET", "/subscriptions?external_customer_id=acme")["subscriptions"]
    assert (subscription["external_id"], subscription["name"], subscription["plan_code"],
            subscription["billing_time"], subscription["status"]) == (
        "sub-1", "Main", "starter", "anniversary", "active")  # fmt: skip
    # The plan fixed the customer's currency.
    assert api(http, "GET", "/customers/acme")["customer"]["currency"] == "EUR"


def test_assign_a_plan_refusals(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http, currency="USD")
    plan(http, "euro")
    path = f"/customers/{lago_id}/subscriptions/new"
    response = web.post(path, {"plan_code": "", "start_date": "2026-01-01"})
    assert (response.status_code, error_under(response.text, "plan_code")) == (
        422,
        "Choose a plan.",
    )
    # The API's own refusal: a plan in another currency.
    response = web.post(path, {"plan_code": "euro", "start_date": "2026-01-01"})
    assert response.status_code == 422
    assert error_under(response.text, "plan_code").startswith(
        "The customer's currency and this one are different"
    )
    response = web.post(path, {"plan_code": "euro", "start_date": "2026-01-05",
                               "end_date": "2026-01-01"})  # fmt: skip
    assert error_under(response.text, "end_date") == (
        "End date can't be in the past and should be greater than start date."
    )
    response = web.post(path, {"plan_code": "gone", "start_date": "2026-01-01"})
    assert error_under(response.text, "plan_code") == "Choose a plan."
    assert api(http, "GET", "/subscriptions?external_customer_id=acme")["subscriptions"] == []


# Apply a coupon


def test_apply_a_coupon_with_its_amount(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http, currency="EUR")
    coupon(http, "welcome", coupon_type="fixed_amount", amount_cents=1_000, amount_currency="EUR")
    coupon(http, "dollars", coupon_type="fixed_amount", amount_cents=500, amount_currency="USD")
    coupon(http, "tenth", coupon_type="percentage", percentage_rate="10")
    form = web.get(f"/customers/{lago_id}/coupons/new")
    text = text_of(form.text)
    # Each coupon with its amount; one in another currency is not offered.
    assert "Welcome · €10.00 once" in text and "Tenth · 10% once" in text
    assert "Dollars" not in text
    chosen = web.get(f"/customers/{lago_id}/coupons/new", params={"coupon_code": "welcome"})
    assert 'placeholder="€10.00"' in chosen.text
    response = web.post(f"/customers/{lago_id}/coupons/new", {
        "coupon_code": "welcome", "amount": "7.50", "amount_currency": "EUR",
        "frequency": "recurring", "frequency_duration": "3",
    })  # fmt: skip
    assert "Coupon successfully applied" in flash_after(web, response)
    [applied] = api(http, "GET", "/applied_coupons?external_customer_id=acme")["applied_coupons"]
    assert (applied["coupon_code"], applied["amount_cents"], applied["amount_currency"],
            applied["frequency"], applied["frequency_duration"]) == (
        "welcome", 750, "EUR", "recurring", 3)  # fmt: skip


def test_apply_a_coupon_refusals(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http, currency="EUR")
    coupon(http, "dollars", coupon_type="fixed_amount", amount_cents=500, amount_currency="USD")
    coupon(http, "single", coupon_type="percentage", percentage_rate="5", reusable=False)
    path = f"/customers/{lago_id}/coupons/new"
    # A forged choice is refused as the API refuses it.
    response = web.post(path, {"coupon_code": "dollars"})
    assert response.status_code == 422
    assert error_under(response.text, "coupon_code").startswith(
        "The customer's currency and this one are different"
    )
    response = web.post(path, {"coupon_code": "single", "percentage_rate": "0"})
    assert error_under(response.text, "percentage_rate") == "This value must be greater than 0."
    assert web.post(path, {"coupon_code": "single"}).status_code == 303
    response = web.post(path, {"coupon_code": "single"})
    assert error_under(response.text, "coupon_code") == (
        "This coupon is not reusable and is already applied to this customer."
    )
    response = web.post(path, {"coupon_code": "single", "amount": "abc"})
    assert error_under(response.text, "amount") == "This value is not valid."


# One-off invoice


def invoice_form(lines: list[tuple[str, str, str, str]], action: str) -> list[tuple[str, str]]:
    pairs = [("currency", "EUR"), ("action", action)]
    for index, (code, units, price, description) in enumerate(lines):
        pairs += [(f"lines-{index}-add_on_code", code), (f"lines-{index}-units", units),
                  (f"lines-{index}-unit_price", price),
                  (f"lines-{index}-description", description)]  # fmt: skip
    return pairs


def test_one_off_invoice_total_then_creation(web: Web, http: httpx.Client) -> None:
    api(http, "POST", "/taxes", {"tax": {"name": "VAT", "code": "vat", "rate": "20"}})
    lago_id = customer(http, currency="EUR")
    add_on(http, "setup", 10_000, tax_codes=["vat"])
    add_on(http, "training", 333)
    path = f"/customers/{lago_id}/invoices/new"
    lines = [("setup", "2", "", "Onboarding"), ("training", "1.5", "10.01", "")]
    # Without JavaScript: "Compute total" renders the form with the server's total.
    computed = web.post(path, invoice_form(lines, "compute"))
    assert computed.status_code == 200
    text = text_of(computed.text)
    # 2 × €100.00 + 1.5 × €10.01 (€15.02) = €215.02; VAT 20 % of €200.00 = €40.00.
    assert "Subtotal (excl. tax) €215.02" in text and "VAT (20%) €40.00" in text
    assert "Total amount due €255.02" in text
    assert 'value="Onboarding"' in computed.text  # the lines are kept
    # With htmx: the totals block alone.
    live = web.post(f"/customers/{lago_id}/invoices/preview", invoice_form(lines, ""), htmx=True)
    assert live.status_code == 200 and live.text.lstrip().startswith("<section")
    assert "€255.02" in live.text
    # Adding a line keeps the others and adds an empty one.
    more = web.post(path, invoice_form(lines, "add_line"))
    assert 'name="lines-2-add_on_code"' in more.text
    assert api(http, "GET", "/invoices?external_customer_id=acme")["invoices"] == []
    created = web.post(path, invoice_form(lines, "create"))
    assert created.headers["location"] == f"/customers/{lago_id}/invoices"
    assert "One-off invoice successfully created" in flash_after(web, created)
    [invoice] = api(http, "GET", "/invoices?external_customer_id=acme")["invoices"]
    assert (invoice["invoice_type"], invoice["status"], invoice["total_amount_cents"],
            invoice["taxes_amount_cents"]) == ("one_off", "finalized", 25_502, 4_000)  # fmt: skip


def test_one_off_invoice_refusals(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http, currency="EUR")
    add_on(http, "setup")
    path = f"/customers/{lago_id}/invoices/new"
    response = web.post(path, invoice_form([("setup", "0", "", "")], "create"))
    assert response.status_code == 422
    assert error_under(response.text, "lines-0-units") == "This value must be greater than 0."
    response = web.post(path, invoice_form([("setup", "1", "1.234", "")], "compute"))
    assert error_under(response.text, "lines-0-unit_price") == (
        "This amount has more decimals than the currency allows."
    )
    response = web.post(path, invoice_form([("", "1", "", "")], "create"))
    assert response.status_code == 422
    assert "You must add at least one item." in text_of(response.text)
    response = web.post(path, invoice_form([("gone", "1", "", "")], "create"))
    assert response.status_code == 422 and "Add on not found" in text_of(response.text)
    assert api(http, "GET", "/invoices?external_customer_id=acme")["invoices"] == []


# Wallets


def test_add_a_wallet_then_top_it_up(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http, currency="EUR")
    form = web.get(f"/customers/{lago_id}/wallets/new")
    assert form.status_code == 200 and 'value="EUR" disabled' in form.text
    response = web.post(f"/customers/{lago_id}/wallets/new", {
        "name": "Prepaid", "rate_amount": "1.5", "paid_credits": "10", "granted_credits": "4",
        "expiration_date": "2999-12-31",
    })  # fmt: skip
    assert "Wallet and top-up successfully created" in flash_after(web, response)
    [wallet] = api(http, "GET", "/wallets?external_customer_id=acme")["wallets"]
    # Granted credits at once (4 × €1.50); paid ones wait for their credit invoice.
    assert (wallet["name"], wallet["rate_amount"], wallet["currency"], wallet["balance_cents"],
            wallet["expiration_at"]) == (
        "Prepaid", "1.5", "EUR", 600, "2999-12-31T23:59:59Z")  # fmt: skip
    [credit] = api(http, "GET", "/invoices?external_customer_id=acme")["invoices"]
    assert (credit["invoice_type"], credit["total_amount_cents"]) == ("credit", 1_500)
    path = f"/customers/{lago_id}/wallets/{wallet['lago_id']}/top-up"
    assert web.get(path).status_code == 200
    refused = web.post(path, {"paid_credits": "", "granted_credits": ""})
    assert refused.status_code == 422
    assert error_under(refused.text, "paid_credits") == "This value must be greater than 0."
    response = web.post(path, {"granted_credits": "2"})
    assert "Credits successfully added" in flash_after(web, response)
    assert api(http, "GET", f"/wallets/{wallet['lago_id']}")["wallet"]["balance_cents"] == 900


def test_wallet_refusals(web: Web, http: httpx.Client) -> None:
    lago_id = customer(http)  # no currency yet
    path = f"/customers/{lago_id}/wallets/new"
    response = web.post(path, {"name": "W", "rate_amount": "", "currency": "EUR"})
    assert response.status_code == 422
    assert error_under(response.text, "rate_amount") == "This value is mandatory to move forward."
    assert 'value="W"' in response.text
    response = web.post(path, {"rate_amount": "1", "currency": "EUR",
                               "expiration_date": "2001-01-01"})  # fmt: skip
    assert error_under(response.text, "expiration_date") == "Expiration date must be in the future."
    response = web.post(path, {"rate_amount": "-1", "currency": "EUR"})
    assert error_under(response.text, "rate_amount") == "This value is out of range."
    assert api(http, "GET", "/wallets?external_customer_id=acme")["wallets"] == []
    # Another customer's wallet is no page of this one.
    other = customer(http, "other", currency="EUR")
    assert web.post(f"/customers/{other}/wallets/new", {"rate_amount": "1"}).status_code == 303
    [wallet] = api(http, "GET", "/wallets?external_customer_id=other")["wallets"]
    assert web.get(f"/customers/{lago_id}/wallets/{wallet['lago_id']}/top-up").status_code == 404


# Guards


def test_forms_need_the_csrf_token_and_the_organization(
    web: Web, http: httpx.Client, server: str, database: Any
) -> None:
    lago_id = customer(http, currency="EUR")
    plan(http, "starter")
    path = f"/customers/{lago_id}/subscriptions/new"
    body = {"plan_code": "starter", "start_date": "2026-01-01"}
    assert web.post(path, body, csrf=False).status_code == 403
    stranger = login(server, database, make_org(database, "Other Corp"))
    try:
        for action in ("subscriptions", "coupons", "invoices", "wallets"):
            assert stranger.get(f"/customers/{lago_id}/{action}/new").status_code == 404
        assert stranger.post(path, body).status_code == 404
    finally:
        stranger.client.close()
    assert api(http, "GET", "/subscriptions?external_customer_id=acme")["subscriptions"] == []
    anonymous = httpx.get(f"{server}{path}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


@pytest.mark.parametrize("name", ["<script>alert(1)</script>"])
def test_forms_escape_what_they_show(web: Web, http: httpx.Client, name: str) -> None:
    lago_id = customer(http, name=name, currency="EUR")
    add_on(http, "setup", name=name)
    page = web.get(f"/customers/{lago_id}/invoices/new").text
    assert name not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
