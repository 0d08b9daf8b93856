"""The Subscriptions list and a subscription's page, over HTTP on both databases: the
forecast shows what GET .../invoice_forecast answers, the usage what GET
.../current_usage answers; Terminate and Upgrade / downgrade do what DELETE and POST
/subscriptions do, read back through the API."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import event

from meterbill.core.db import Database
from meterbill.dashboard.formats import money
from tests.dashboard_actions.conftest import Web, text_of
from tests.dashboard_subscriptions.conftest import Json, api


def customer(http: httpx.Client, external_id: str, name: str, **fields: Any) -> str:
    body = {"customer": {"external_id": external_id, "name": name, **fields}}
    return str(api(http, "POST", "/customers", body)["customer"]["lago_id"])


def plan(http: httpx.Client, code: str, amount: int, **fields: Any) -> Json:
    body = {"plan": {"name": code.title(), "code": code, "interval": "monthly",
                     "amount_cents": amount, "amount_currency": "EUR", **fields}}  # fmt: skip
    return api(http, "POST", "/plans", body)["plan"]


def subscribe(http: httpx.Client, customer_id: str, plan_code: str, external_id: str,
              **fields: Any) -> Json:  # fmt: skip
    body = {"subscription": {"external_customer_id": customer_id, "plan_code": plan_code,
                             "external_id": external_id, **fields}}  # fmt: skip
    return api(http, "POST", "/subscriptions", body)["subscription"]


def external_ids(page: str) -> list[str]:
    return re.findall(r'<td class="mono"><a href="/subscriptions/[^"]+">([^<]*)</a></td>', page)


def flash_after(web: Web, response: httpx.Response) -> tuple[str, str]:
    """(the next page's URL, its text) after a POST answered 303."""
    assert response.status_code == 303, response.text[:800]
    location = response.headers["location"]
    page = web.get(location)
    assert page.status_code == 200
    return location, text_of(page.text)


# --- the list ------------------------------------------------------------------------


def test_list_status_search_and_pages_in_the_url(web: Web, http: httpx.Client) -> None:
    customer(http, "acme", "Acme Corp")
    customer(http, "globex", "Globex")
    plan(http, "basic", 1_000)
    plan(http, "premium", 9_000)
    for index in range(21):
        subscribe(http, "acme", "basic", f"sub-{index:02d}")
    subscribe(http, "globex", "premium", "globex-main")
    api(http, "DELETE", "/subscriptions/sub-00")

    first = web.get("/subscriptions")
    assert first.status_code == 200
    shown = external_ids(first.text)
    # Active ones, newest first: 21 active (20 acme + 1 globex), 20 on the first page.
    assert shown == ["globex-main"] + [f"sub-{index:02d}" for index in range(20, 1, -1)]
    assert "1–20 of 21 results" in text_of(first.text)
    assert 'href="/subscriptions?page=2"' in first.text
    assert external_ids(web.get("/subscriptions?page=2").text) == ["sub-01"]
    row = text_of(first.text.split("globex-main", 1)[0].rsplit("<tr>", 1)[1])
    assert row.startswith("Globex Premium premium")
    # The status filter and the search keep each other in the links.
    assert external_ids(web.get("/subscriptions?status=terminated").text) == ["sub-00"]
    assert len(external_ids(web.get("/subscriptions?status=all&page=2").text)) == 2
    assert external_ids(web.get("/subscriptions?search=GLOBEX").text) == ["globex-main"]
    assert external_ids(web.get("/subscriptions?search=premi").text) == ["globex-main"]
    assert external_ids(web.get("/subscriptions?search=sub-1").text) == [
        f"sub-{index:02d}" for index in range(19, 9, -1)
    ]
    searched = web.get("/subscriptions?status=terminated&search=acme").text
    assert external_ids(searched) == ["sub-00"]
    assert 'href="/subscriptions?status=all&amp;search=acme"' in searched
    assert "No subscription found" in web.get("/subscriptions?search=zzzz").text
    for odd in ("?page=abc", "?status=nope", "?page=999", "?search=%25_%5C"):
        assert web.get(f"/subscriptions{odd}").status_code == 200


def test_list_reads_a_page_in_a_fixed_number_of_queries(
    web: Web, http: httpx.Client, database: Database
) -> None:
    plan(http, "basic", 1_000)

    def queries_for_list() -> int:
        statements: list[str] = []

        def count(*_args: Any) -> None:
            statements.append("q")

        event.listen(database.engine, "before_cursor_execute", count)
        try:
            assert web.get("/subscriptions").status_code == 200
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        return len(statements)

    customer(http, "c0", "Customer 0")
    subscribe(http, "c0", "basic", "s-0")
    one = queries_for_list()
    for index in range(1, 15):
        customer(http, f"c{index}", f"Customer {index}")
        subscribe(http, f"c{index}", "basic", f"s-{index}")
    assert queries_for_list() == one


# --- the subscription's page ---------------------------------------------------------


def seed_usage_plan(http: httpx.Client) -> None:
    customer(http, "acme", "Acme Corp")
    calls = api(http, "POST", "/billable_metrics", {"billable_metric": {
        "name": "API calls", "code": "calls", "aggregation_type": "count_agg"}})  # fmt: skip
    plan(http, "usage", 5_000, charges=[{
        "billable_metric_id": calls["billable_metric"]["lago_id"],
        "charge_model": "standard", "properties": {"amount": "0.25"}}])  # fmt: skip


def test_page_shows_the_api_forecast_and_current_usage(web: Web, http: httpx.Client) -> None:
    seed_usage_plan(http)
    # Anniversary: every period is a whole one, whatever today's date.
    sub = subscribe(http, "acme", "usage", "sub-usage", billing_time="anniversary")
    now = int(datetime.now(UTC).timestamp()) + 1
    events = [{"transaction_id": f"c{i}", "external_subscription_id": "sub-usage",
               "code": "calls", "timestamp": now} for i in range(7)]  # fmt: skip
    api(http, "POST", "/events/batch", {"events": events})

    page = web.get(f"/subscriptions/{sub['lago_id']}")
    assert page.status_code == 200
    forecast = api(http, "GET", "/subscriptions/sub-usage/invoice_forecast?periods=3")["invoices"]
    # Paid in arrears: the first period carries the 7 calls sent (7 × €0.25), the next two
    # only the plan's €50.
    assert [invoice["total_amount_cents"] for invoice in forecast] == [5_175, 5_000, 5_000]
    totals = re.findall(r"data-total>([^<]+)<", page.text)
    assert totals == [money(invoice["total_amount_cents"], "EUR") for invoice in forecast]
    assert totals == ["€51.75", "€50.00", "€50.00"]
    rows = page.text.split('id="forecast"', 1)[1].split("</section>", 1)[0]
    for invoice in forecast:
        issuing = date.fromisoformat(invoice["issuing_date"])
        assert issuing.strftime("%b %-d, %Y") in rows
    usage = api(http, "GET", "/customers/acme/current_usage?external_subscription_id=sub-usage")
    assert usage["customer_usage"]["amount_cents"] == 175
    total = re.search(r"data-usage-total>([^<]+)<", page.text)
    assert total and total.group(1) == "€1.75"
    units = re.search(r'data-charge="calls">.*?data-units>([^<]+)<', page.text, re.S)
    assert units and units.group(1) == "7"
    facts = text_of(page.text.split('id="subscription-facts"', 1)[1].split("</section>", 1)[0])
    assert "Customer Acme Corp acme" in facts
    assert "Plan Usage usage · Monthly · €50.00" in facts
    assert "Billing time Anniversary" in facts and "Terminated at -" in facts
    assert f'href="/customers/{sub["lago_customer_id"]}"' in page.text

    # N periods in the URL; a bad N says so and shows the default.
    two = web.get(f"/subscriptions/{sub['lago_id']}?periods=2").text
    assert re.findall(r"data-total>([^<]+)<", two) == ["€51.75", "€50.00"]
    for bad in ("abc", "0", "25", "-1"):
        odd = web.get(f"/subscriptions/{sub['lago_id']}?periods={bad}")
        assert odd.status_code == 200
        assert "The number of periods goes from 1 to 24: showing 3." in text_of(odd.text)
        assert len(re.findall(r"data-total>", odd.text)) == 3
    # The forecast wrote nothing: the API lists no invoice for the customer.
    assert api(http, "GET", "/invoices?external_customer_id=acme")["invoices"] == []


def test_unknown_or_foreign_subscription_is_not_found(web: Web, http: httpx.Client) -> None:
    assert web.get("/subscriptions/not-a-uuid").status_code == 404
    assert web.get("/subscriptions/00000000-0000-0000-0000-000000000000").status_code == 404


# --- Terminate -----------------------------------------------------------------------


def seed_in_advance(http: httpx.Client) -> Json:
    """A weekly plan of €70 paid in advance (anniversary: a whole week, €10 a day),
    invoiced at once when the subscription starts."""
    customer(http, "acme", "Acme Corp")
    plan(http, "weekly", 7_000, interval="weekly", pay_in_advance=True)
    sub = subscribe(http, "acme", "weekly", "sub-week", billing_time="anniversary")
    invoices = api(http, "GET", "/invoices?external_customer_id=acme")["invoices"]
    assert [invoice["total_amount_cents"] for invoice in invoices] == [7_000]
    return sub


def test_terminate_with_a_credit_note_for_the_unused_days(web: Web, http: httpx.Client) -> None:
    sub = seed_in_advance(http)
    dialog = web.get(f"/subscriptions/{sub['lago_id']}/terminate")
    assert dialog.status_code == 200
    text = text_of(dialog.text)
    assert "The unused part of the period paid in advance" in text
    assert 'value="credit" checked' in dialog.text and 'value="generate" checked' in dialog.text
    response = web.post(f"/subscriptions/{sub['lago_id']}/terminate", {
        "on_termination_credit_note": "credit", "on_termination_invoice": "generate"})  # fmt: skip
    _location, page = flash_after(web, response)
    assert "Subscription successfully terminated" in page
    ended = api(http, "GET", "/subscriptions/sub-week?status=terminated")["subscription"]
    assert ended["status"] == "terminated" and ended["on_termination_credit_note"] == "credit"
    notes = api(http, "GET", "/credit_notes?external_customer_id=acme")["credit_notes"]
    # Terminated on its first day: 6 unused days of 7 at €10 a day.
    assert [(note["credit_amount_cents"], note["refund_amount_cents"]) for note in notes] == [
        (6_000, 0)
    ]
    assert "Terminate subscription" not in web.get(f"/subscriptions/{sub['lago_id']}").text
    again = web.post(f"/subscriptions/{sub['lago_id']}/terminate", {})
    assert again.status_code == 422
    assert "This subscription is already terminated." in text_of(again.text)


def test_terminate_without_a_credit_note(web: Web, http: httpx.Client) -> None:
    sub = seed_in_advance(http)
    response = web.post(f"/subscriptions/{sub['lago_id']}/terminate", {
        "on_termination_credit_note": "skip", "on_termination_invoice": "skip"})  # fmt: skip
    flash_after(web, response)
    ended = api(http, "GET", "/subscriptions/sub-week?status=terminated")["subscription"]
    assert (ended["on_termination_credit_note"], ended["on_termination_invoice"]) == (
        "skip",
        "skip",
    )
    assert api(http, "GET", "/credit_notes?external_customer_id=acme")["credit_notes"] == []
    assert len(api(http, "GET", "/invoices?external_customer_id=acme")["invoices"]) == 1


def test_terminate_refusals_and_in_arrears_plans(web: Web, http: httpx.Client) -> None:
    sub = seed_in_advance(http)
    bad = web.post(f"/subscriptions/{sub['lago_id']}/terminate", {
        "on_termination_credit_note": "gift", "on_termination_invoice": "generate"})  # fmt: skip
    assert bad.status_code == 422
    assert "This value is not valid." in text_of(bad.text)
    assert 'value="generate" checked' in bad.text
    assert api(http, "GET", "/subscriptions/sub-week")["subscription"]["status"] == "active"
    # A plan paid in arrears has no credit note to offer.
    plan(http, "arrears", 1_000)
    other = subscribe(http, "acme", "arrears", "sub-arrears")
    dialog = text_of(web.get(f"/subscriptions/{other['lago_id']}/terminate").text)
    assert "Final invoice" in dialog and "unused part" not in dialog


def test_cancel_a_pending_subscription(web: Web, http: httpx.Client) -> None:
    customer(http, "acme", "Acme Corp")
    plan(http, "basic", 1_000)
    sub = subscribe(http, "acme", "basic", "later", subscription_at="2099-01-01T00:00:00Z")
    dialog = web.get(f"/subscriptions/{sub['lago_id']}/terminate")
    assert "has not started: canceling it invoices nothing" in text_of(dialog.text)
    _location, page = flash_after(web, web.post(f"/subscriptions/{sub['lago_id']}/terminate", {}))
    assert "Subscription successfully canceled" in page
    assert api(http, "GET", "/subscriptions/later?status=canceled")["subscription"]["status"] == (
        "canceled"
    )


# --- Upgrade / downgrade -------------------------------------------------------------


def test_upgrade_applies_now_and_downgrade_at_period_end(web: Web, http: httpx.Client) -> None:
    customer(http, "acme", "Acme Corp")
    plan(http, "basic", 2_000)
    plan(http, "pro", 5_000)
    plan(http, "mini", 1_000)
    # Yearly €120 against €240: a yearly plan is cheaper, a downgrade.
    plan(http, "yearly", 12_000, interval="yearly")
    plan(http, "dollars", 9_000, amount_currency="USD")
    sub = subscribe(http, "acme", "basic", "sub-1")

    form = web.get(f"/subscriptions/{sub['lago_id']}/change-plan")
    assert form.status_code == 200
    options = dict(
        re.findall(r'<option value="([^"]+)">([^<]+)</option>', html.unescape(form.text))
    )
    assert "basic" not in options
    assert options["pro"] == "Pro (pro) · Monthly · €50.00 — upgrade, applies now"
    assert options["mini"].endswith("— downgrade, applies at the end of the current billing period")
    assert options["yearly"].endswith(
        "— downgrade, applies at the end of the current billing period"
    )

    response = web.post(f"/subscriptions/{sub['lago_id']}/change-plan", {"plan_code": "pro"})
    location, page = flash_after(web, response)
    assert "Plan upgraded: the new plan applies now" in page
    upgraded = api(http, "GET", "/subscriptions/sub-1")["subscription"]
    assert (upgraded["plan_code"], upgraded["previous_plan_code"]) == ("pro", "basic")
    assert location == f"/subscriptions/{upgraded['lago_id']}"
    old = api(http, "GET", "/subscriptions/sub-1?status=terminated")["subscription"]
    assert old["lago_id"] == sub["lago_id"] and old["plan_code"] == "basic"

    response = web.post(f"/subscriptions/{upgraded['lago_id']}/change-plan", {"plan_code": "mini"})
    location, page = flash_after(web, response)
    current = api(http, "GET", "/subscriptions/sub-1")["subscription"]
    assert (current["plan_code"], current["next_plan_code"]) == ("pro", "mini")
    when = date.fromisoformat(current["downgrade_plan_date"]).strftime("%b %-d, %Y")
    assert f"Plan downgraded: mini applies at the end of the current period on {when}" in page
    assert (
        f"Downgrade to mini scheduled: it applies at the end of the current period, on {when}."
        in page
    )
    assert location == f"/subscriptions/{upgraded['lago_id']}"
    pending = api(http, "GET", "/subscriptions?external_customer_id=acme&status[]=pending")
    assert [s["plan_code"] for s in pending["subscriptions"]] == ["mini"]

    # A plan in another currency: the service's refusal, under the field.
    refused = web.post(
        f"/subscriptions/{upgraded['lago_id']}/change-plan", {"plan_code": "dollars"}
    )
    assert refused.status_code == 422
    assert "currencies_does_not_match" not in refused.text
    assert "The customer's currency and this one are different" in html.unescape(refused.text)
    empty = web.post(f"/subscriptions/{upgraded['lago_id']}/change-plan", {"plan_code": ""})
    assert empty.status_code == 422
    assert "This value is mandatory to move forward." in text_of(empty.text)
    unknown = web.post(f"/subscriptions/{upgraded['lago_id']}/change-plan", {"plan_code": "nope"})
    assert unknown.status_code == 422 and "Choose a plan." in text_of(unknown.text)
    # The terminated subscription cannot change plan.
    closed = web.post(f"/subscriptions/{sub['lago_id']}/change-plan", {"plan_code": "pro"})
    assert closed.status_code == 422
    assert api(http, "GET", "/subscriptions/sub-1")["subscription"]["plan_code"] == "pro"


# --- permissions ---------------------------------------------------------------------


def test_finance_sees_but_may_not_change(
    web: Web, finance: Web, manager: Web, http: httpx.Client
) -> None:
    customer(http, "acme", "Acme Corp")
    plan(http, "basic", 1_000)
    plan(http, "pro", 5_000)
    sub = subscribe(http, "acme", "basic", "sub-1")
    page = finance.get(f"/subscriptions/{sub['lago_id']}")
    assert page.status_code == 200
    assert "Terminate subscription" not in page.text and "change-plan" not in page.text
    assert finance.get(f"/subscriptions/{sub['lago_id']}/terminate").status_code == 403
    assert finance.get(f"/subscriptions/{sub['lago_id']}/change-plan").status_code == 403
    # Forged POSTs, with a valid CSRF token: refused, nothing changed.
    forged = finance.post(f"/subscriptions/{sub['lago_id']}/terminate", {})
    assert forged.status_code == 403
    forged = finance.post(f"/subscriptions/{sub['lago_id']}/change-plan", {"plan_code": "pro"})
    assert forged.status_code == 403
    current = api(http, "GET", "/subscriptions/sub-1")["subscription"]
    assert (current["status"], current["plan_code"]) == ("active", "basic")
    # A manager may (Lago's matrix).
    assert "Terminate subscription" in manager.get(f"/subscriptions/{sub['lago_id']}").text
    # Without the CSRF token, even an admin is refused.
    assert web.post(f"/subscriptions/{sub['lago_id']}/terminate", {}, csrf=False).status_code == 403
    assert api(http, "GET", "/subscriptions/sub-1")["subscription"]["status"] == "active"
