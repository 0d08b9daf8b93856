"""The organization's Analytics page over HTTP, on both databases: three months of
invoices in two currencies, and each card's table shows, cent for cent, what the
analytics endpoints answer for the same currency and months."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.dashboard.formats import money
from meterbill.invoices.models import Invoice
from meterbill.invoices.one_off import create_one_off_invoice, parse_one_off
from meterbill.invoices.scope import Scope
from meterbill.invoices.service import change_payment_status
from meterbill.subscriptions.schemas import SubscriptionInput
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.dashboard_actions.conftest import Web, text_of
from tests.dashboard_subscriptions.conftest import api


def months_back(first: date, count: int) -> date:
    index = first.year * 12 + first.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def at(month: date, day: int, hour: int = 10) -> datetime:
    return datetime.combine(month.replace(day=day), time(hour), UTC)


@pytest.fixture
def months() -> tuple[date, date, date]:
    """The current month (UTC) and the two before it: the page's and the API's last 3."""
    current = datetime.now(UTC).date().replace(day=1)
    return months_back(current, 2), months_back(current, 1), current


def seed(http: httpx.Client, database: Database, org: Org, months: tuple[date, ...]) -> None:
    """Two customers, one in EUR and one in USD, each on a monthly plan paid in advance
    (€30 / $45) from the first day of the month two months ago, billed on each first day
    since; a one-off invoice each (€123.45 last month, $99.99 two months ago). The EUR
    invoice of two months ago is paid; the clock flags the other past ones overdue."""
    two_ago, last, current = months
    ids = {}
    for currency, amount in (("EUR", 3_000), ("USD", 4_500)):
        code = currency.lower()
        body = {"customer": {"external_id": code, "name": f"Customer {currency}"}}
        ids[code] = uuid.UUID(api(http, "POST", "/customers", body)["customer"]["lago_id"])
        api(http, "POST", "/plans", {"plan": {
            "name": f"Plan {currency}", "code": f"plan-{code}", "interval": "monthly",
            "amount_cents": amount, "amount_currency": currency,
            "pay_in_advance": True}})  # fmt: skip
        api(http, "POST", "/add_ons", {"add_on": {
            "name": f"Setup {currency}", "code": f"setup-{code}", "amount_cents": 100,
            "amount_currency": currency}})  # fmt: skip
        with database.transaction() as session:
            create_subscription(
                session, org.id,
                SubscriptionInput(external_customer_id=code, plan_code=f"plan-{code}",
                                  external_id=f"sub-{code}"),
                at(two_ago, 1),
            )  # fmt: skip

    def one_off(code: str, amount: int, instant: datetime) -> None:
        fee = {"add_on_code": f"setup-{code}", "unit_amount_cents": amount}
        body = {"external_customer_id": code, "fees": [fee]}
        with database.transaction() as session:
            create_one_off_invoice(session, org.id, parse_one_off(body), instant)

    def run_clock(instant: datetime) -> None:
        for customer_id in ids.values():
            tick(database, instant, Scope(customer_id, org.id))

    one_off("usd", 9_999, at(two_ago, 20))
    with database.transaction() as session:
        invoice = session.scalars(
            select(Invoice).where(
                Invoice.customer_id == ids["eur"], Invoice.issuing_date == two_ago
            )
        ).one()
        change_payment_status(session, invoice, "succeeded", at(two_ago, 5))
    run_clock(at(last, 1, 0) + timedelta(minutes=5))
    one_off("eur", 12_345, at(last, 10))
    run_clock(at(current, 1, 0) + timedelta(minutes=5))


def cells(page: str, card: str) -> list[list[str]]:
    """The rows of a card's table, as the text of their cells."""
    section = page.split(f'<section class="card" id="{card}">', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def by_month(rows: list[dict[str, Any]], currency: str) -> dict[str, dict[str, Any]]:
    return {row["month"][:7]: row for row in rows if row["currency"] == currency}


def test_figures_equal_the_analytics_api(
    web: Web, http: httpx.Client, database: Database, org: Org, months: tuple[date, ...]
) -> None:
    seed(http, database, org, months)
    two_ago, last, current = months
    keys = [month.strftime("%Y-%m") for month in months]
    names = [month.strftime("%B %Y") for month in months]
    for currency in ("EUR", "USD"):
        page = web.get(f"/analytics?currency={currency}&months=3")
        assert page.status_code == 200
        query = f"?currency={currency}&months=3"
        gross = by_month(
            api(http, "GET", f"/analytics/gross_revenue{query}")["gross_revenues"], currency
        )
        mrr = by_month(api(http, "GET", f"/analytics/mrr{query}")["mrrs"], currency)
        overdue = by_month(
            api(http, "GET", f"/analytics/overdue_balance{query}")["overdue_balances"], currency
        )
        collection = api(http, "GET", f"/analytics/invoice_collection{query}")[
            "invoice_collections"
        ]

        def amount(rows: dict[str, dict[str, Any]], key: str, currency: str = currency) -> str:
            return money(rows[key]["amount_cents"] if key in rows else 0, currency)

        assert cells(page.text, "gross-revenue") == [
            [name, amount(gross, key), str(gross[key]["invoices_count"] if key in gross else 0)]
            for name, key in zip(names, keys, strict=True)
        ]
        assert cells(page.text, "mrr") == [
            [name, amount(mrr, key)] for name, key in zip(names, keys, strict=True)
        ]
        assert cells(page.text, "overdue-balance") == [
            [name, amount(overdue, key),
             str(len(overdue[key]["lago_invoice_ids"]) if key in overdue else 0)]
            for name, key in zip(names, keys, strict=True)
        ]  # fmt: skip
        expected = []
        for name, key in zip(names, keys, strict=True):
            row = [name]
            found = [item for item in collection if item["month"][:7] == key]
            for status in ("succeeded", "pending", "failed"):
                hit = [item for item in found if item["payment_status"] == status]
                cents = hit[0]["amount_cents"] if hit else 0
                count = hit[0]["invoices_count"] if hit else 0
                row.append(f"{money(cents, currency)} ({count})")
            total = sum(item["amount_cents"] for item in found)
            row.append(f"{money(total, currency)} ({sum(i['invoices_count'] for i in found)})")
            expected.append(row)
        assert cells(page.text, "invoice-collection") == expected

    # The same figures by hand. EUR: €30 each month, €123.45 last month; the first paid.
    eur = web.get("/analytics?currency=EUR&months=3").text
    assert cells(eur, "gross-revenue") == [
        [names[0], "€30.00", "1"], [names[1], "€153.45", "2"], [names[2], "€30.00", "1"]
    ]  # fmt: skip
    assert cells(eur, "mrr") == [[names[0], "€30.00"], [names[1], "€30.00"], [names[2], "€30.00"]]
    assert cells(eur, "invoice-collection") == [
        [names[0], "€30.00 (1)", "€0.00 (0)", "€0.00 (0)", "€30.00 (1)"],
        [names[1], "€0.00 (0)", "€153.45 (2)", "€0.00 (0)", "€153.45 (2)"],
        [names[2], "€0.00 (0)", "€30.00 (1)", "€0.00 (0)", "€30.00 (1)"],
    ]
    # Overdue: last month's two (due on their issuing day, flagged by the clock since).
    assert cells(eur, "overdue-balance") == [
        [names[0], "€0.00", "0"], [names[1], "€153.45", "2"], [names[2], "€0.00", "0"]
    ]  # fmt: skip
    assert "€213.45" in text_of(eur.split('id="gross-revenue"', 1)[1].split("</header>", 1)[0])
    # USD: $45 each month, $99.99 two months ago; nothing paid.
    usd = web.get("/analytics?currency=USD&months=3").text
    assert cells(usd, "gross-revenue") == [
        [names[0], "$144.99", "2"], [names[1], "$45.00", "1"], [names[2], "$45.00", "1"]
    ]  # fmt: skip
    assert cells(usd, "overdue-balance") == [
        [names[0], "$144.99", "2"], [names[1], "$45.00", "1"], [names[2], "$0.00", "0"]
    ]  # fmt: skip
    assert cells(usd, "mrr") == [[names[0], "$45.00"], [names[1], "$45.00"], [names[2], "$45.00"]]
    # One chart per card, drawn on the server.
    assert eur.count('<svg class="chart"') == 4
    assert 'aria-label="Gross revenue per month in EUR"' in eur
    assert two_ago < last < current


def test_filters_default_and_refusals(web: Web, http: httpx.Client) -> None:
    # No invoice yet: the organization's default currency, every card empty at zero.
    page = web.get("/analytics")
    assert page.status_code == 200
    assert '<option value="USD" selected>USD</option>' in page.text
    assert '<option value="12" selected>Last 12 months</option>' in page.text
    # The organization was created in the test's NOW month: the window starts there.
    rows = cells(page.text, "gross-revenue")
    assert rows and all(row[1:] == ["$0.00", "0"] for row in rows)
    for odd, note in (
        ("?currency=XYZ", "No invoice in XYZ: showing USD."),
        ("?months=7", "Choose 3, 6, 12 or 24 months: showing 12."),
        ("?months=abc&currency=%3Cb%3E", "No invoice in <B>: showing USD."),
    ):
        answer = web.get(f"/analytics{odd}")
        assert answer.status_code == 200
        assert note in html.unescape(text_of(answer.text))
        assert "<B>" not in answer.text


def test_a_failing_card_leaves_the_others(
    web: Web, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> list[Any]:
        raise SQLAlchemyError("the MRR query failed")

    monkeypatch.setattr("meterbill.dashboard.analytics_page.mrrs", broken)
    page = web.get("/analytics")
    assert page.status_code == 200
    mrr = text_of(page.text.split('id="mrr"', 1)[1].split("</section>", 1)[0])
    assert "MRR could not be loaded." in mrr
    assert cells(page.text, "gross-revenue")
    assert page.text.count('<svg class="chart"') == 3


def test_a_manager_may_not_open_analytics(manager: Web, finance: Web) -> None:
    refused = manager.get("/analytics")
    assert refused.status_code == 403
    assert 'href="/analytics"' not in manager.get("/subscriptions").text
    assert finance.get("/analytics").status_code == 200
