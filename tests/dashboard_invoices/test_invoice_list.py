"""The Invoices list: Lago's quick filters, the filters and the search, all in the URL;
amounts and badges; each row's actions as its status and the member's role allow."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from meterbill.core.db import Database
from meterbill.users import roles
from tests.conftest import Org
from tests.dashboard.conftest import log_in, make_user
from tests.dashboard_actions.conftest import text_of
from tests.dashboard_invoices.conftest import Invoices, invoice_ids


def shown(client: TestClient, query: str = "") -> set[str]:
    response = client.get(f"/invoices{query}")
    assert response.status_code == 200, response.text
    return set(invoice_ids(response.text))


def test_quick_filters_keep_lagos_statuses(client: TestClient, invoices: Invoices) -> None:
    i = invoices
    assert shown(client) == set(i.all())
    assert shown(client, "?status=draft") == {i.draft}
    # Outstanding: finalized and not paid yet (pending or failed).
    assert shown(client, "?status=outstanding") == {i.overdue, i.pending, i.failed}
    assert shown(client, "?status=succeeded") == {i.succeeded}
    assert shown(client, "?status=overdue") == {i.overdue}
    assert shown(client, "?status=voided") == {i.voided}
    # An unknown quick filter is "All invoices".
    assert shown(client, "?status=nonsense") == set(i.all())
    page = client.get("/invoices?status=outstanding").text
    link = '<a href="/invoices?status=outstanding" hx-get="/invoices?status=outstanding"'
    assert f'{link} aria-current="page">Outstanding</a>' in page
    assert 'Invoices <span class="count">3</span>' in page


def test_filters_combine_with_the_quick_filter(client: TestClient, invoices: Invoices) -> None:
    i = invoices
    assert shown(client, "?customer=globex") == {i.pending, i.succeeded, i.voided}
    assert shown(client, "?customer=globex&status=outstanding") == {i.pending}
    assert shown(client, "?currency=EUR") == set(i.all())
    assert shown(client, "?currency=usd") == set()
    assert shown(client, "?invoice_type=subscription") == {i.overdue, i.draft}
    assert shown(client, "?payment_status=failed") == {i.failed}
    # Subscription invoices are issued on Feb 4 and Mar 4, 2032 (billing day + 3 days);
    # the one-offs today. (2032: no other test's clock, run for every customer, reaches
    # these drafts.)
    year = "?issuing_date_from=2032-01-01&issuing_date_to=2032-12-31"
    assert shown(client, year) == {i.overdue, i.draft}
    assert shown(client, "?issuing_date_from=2032-03-01&issuing_date_to=2032-03-31") == {i.draft}
    # Amounts in euros: the one-offs are €50, €100, €150, €200; the subscription ones
    # €12 (€10 plan + 1 seat × €2) and €10.
    assert shown(client, "?amount_from=100&amount_to=150") == {i.succeeded, i.failed}
    assert shown(client, "?amount_to=12") == {i.overdue, i.draft}
    assert shown(client, "?amount_from=12.00&amount_to=12") == {i.overdue}
    page = client.get("/invoices?customer=globex&amount_from=100&status=voided")
    assert set(invoice_ids(page.text)) == {i.voided}
    # The form shows the filters applied, and the pager's links keep them.
    assert 'name="customer" type="text" value="globex"' in page.text
    assert '<input type="hidden" name="status" value="voided">' in page.text


def test_search_by_number_id_or_customer(client: TestClient, invoices: Invoices) -> None:
    i = invoices
    assert shown(client, "?search=acme") == {i.overdue, i.draft, i.failed}
    assert shown(client, "?search=AP%40GLOBEX") == {i.pending, i.succeeded, i.voided}
    assert shown(client, f"?search={i.numbers[i.succeeded]}") == {i.succeeded}
    assert shown(client, f"?search={i.failed}") == {i.failed}
    assert shown(client, "?search=acme&status=draft") == {i.draft}
    # Two characters do not narrow the list; LIKE's wildcards are plain characters.
    assert shown(client, "?search=ac") == set(i.all())
    assert shown(client, "?search=%25%25%25") == set()
    empty = text_of(client.get("/invoices?search=nobody-here").text)
    assert "There are no invoices" in empty
    assert "contains “nobody-here”" in empty


def test_amounts_badges_and_customers_in_the_rows(client: TestClient, invoices: Invoices) -> None:
    page = client.get(f"/invoices?search={invoices.numbers[invoices.succeeded]}").text
    row = text_of(page[page.index("<tbody>") : page.index("</tbody>")])
    number = invoices.numbers[invoices.succeeded]
    # Status, number, amount, amount due, payment, customer, issuing date.
    assert row.startswith(f"finalized {number} €100.00 €0.00 succeeded Globex ")
    overdue = client.get("/invoices?status=overdue").text
    overdue_row = text_of(overdue[overdue.index("<tbody>") : overdue.index("</tbody>")])
    assert "€12.00 €12.00 pending overdue Acme Corp Feb 4, 2032" in overdue_row
    draft = client.get("/invoices?status=draft").text
    draft_row = text_of(draft[draft.index("<tbody>") : draft.index("</tbody>")])
    assert "draft" in draft_row and "n/a Acme Corp Mar 4, 2032" in draft_row


def row_of(html: str, invoice_id: str) -> str:
    start = html.index(f'<tr data-invoice="{invoice_id}">')
    return html[start : html.index("</tr>", start)]


def row_actions(html: str, invoice_id: str) -> list[tuple[str, str]]:
    row = row_of(html, invoice_id)
    link = r'<a href="[^"]*"(?: class="danger")?(?: download)?>([^<]+)</a>'
    button = r'<button type="submit" class="menu-button">([^<]+)</button>'
    return re.findall(f"{link}|{button}", row)


def labels(html: str, invoice_id: str) -> list[str]:
    return [link or button for link, button in row_actions(html, invoice_id)][2:]


ADMIN_ACTIONS = {
    "draft": ["Refresh invoice", "Finalize invoice"],
    "overdue": ["Download PDF", "Record a payment", "Update payment status",
                "Issue a credit note", "Void invoice"],
    "pending": ["Download PDF", "Record a payment", "Update payment status",
                "Issue a credit note", "Void invoice"],
    # Paid: nothing left to record a payment for.
    "succeeded": ["Download PDF", "Update payment status", "Issue a credit note", "Void invoice"],
    "failed": ["Download PDF", "Record a payment", "Update payment status",
               "Issue a credit note", "Void invoice"],
    "voided": ["Download PDF"],
}  # fmt: skip


def test_row_actions_follow_the_status(client: TestClient, invoices: Invoices) -> None:
    page = client.get("/invoices").text
    for case, expected in ADMIN_ACTIONS.items():
        assert labels(page, getattr(invoices, case)) == expected, case


@pytest.mark.parametrize("role", ["finance", "manager"])
def test_row_actions_follow_the_role(
    browser_client: TestClient, database: Database, org: Org, invoices: Invoices, role: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    email = make_user(database, org, f"{role}-{org.id.hex[:10]}@example.test", role)
    assert log_in(browser_client, email).status_code == 303
    # Lago's finance and manager roles hold every invoice permission but deleting.
    page = browser_client.get("/invoices").text
    for case, expected in ADMIN_ACTIONS.items():
        assert labels(page, getattr(invoices, case)) == expected, case
    # A role without them (the matrix as a custom role would have it) is offered none.
    for permission in ("invoices:update", "invoices:void", "payments:create",
                       "credit_notes:create"):  # fmt: skip
        monkeypatch.setitem(roles.GRANTS, permission, ())
    page = browser_client.get("/invoices").text
    assert labels(page, invoices.draft) == []
    assert labels(page, invoices.pending) == ["Download PDF"]
    assert "<details" not in row_of(page, invoices.draft)


def test_pages_and_htmx_table(client: TestClient, invoices: Invoices) -> None:
    first = client.get("/invoices?per_page=2&page=1").text  # page size is the list's: 20
    assert len(invoice_ids(first)) == 6
    assert "1–6 of 6 invoices" in text_of(first)
    beyond = client.get("/invoices?page=5").text
    assert "No invoices on this page" in beyond
    assert 'href="/invoices"' in beyond
    # htmx asks for the table only.
    fragment = client.get(
        "/invoices?search=globex", headers={"HX-Request": "true", "HX-Target": "invoices-results"}
    )
    assert fragment.text.lstrip().startswith('<div id="invoices-results">')
    assert "<html" not in fragment.text
    assert len(invoice_ids(fragment.text)) == 3


def test_bad_filters_are_explained_not_applied(client: TestClient, invoices: Invoices) -> None:
    for query, field, message in (
        ("issuing_date_from=2032-13-01", "issuing_date_from", "This date is not valid."),
        ("amount_from=abc", "amount_from", "This value is not valid."),
        ("amount_to=1e30", "amount_to", "This value is out of range."),
        ("amount_from=1.234", "amount_from",
         "This amount has more decimals than the currency allows."),
        ("currency=XXX1", "currency", "This value is not valid."),
        ("invoice_type=gift", "invoice_type", "This value is not valid."),
        ("issuing_date_from=2032-05-01&issuing_date_to=2032-04-01", "issuing_date_to",
         "This date must not be before the first one."),
    ):  # fmt: skip
        response = client.get(f"/invoices?{query}")
        assert response.status_code == 422, query
        assert f'<p class="error" id="f-{field}-error">{message}</p>' in response.text, query
    # The other filters still apply.
    response = client.get("/invoices?amount_from=abc&customer=globex")
    assert set(invoice_ids(response.text)) == {
        invoices.pending,
        invoices.succeeded,
        invoices.voided,
    }
    assert client.get("/invoices?page=abc&search=" + "x" * 5000).status_code == 200
    # A NUL byte is refused before any page (PostgreSQL cannot store or compare it).
    assert client.get("/invoices?customer=%00").status_code == 400


def test_pages_of_a_search_and_of_a_filter_count_every_invoice(
    client: TestClient, org: Org, invoices: Invoices
) -> None:
    from tests.dashboard.test_customer_pages import rest
    from tests.dashboard_invoices.conftest import one_off

    rest(client, org, "POST", "/customers", {"customer": {
        "external_id": "initech", "name": "Initech", "currency": "EUR"}})  # fmt: skip
    made = [one_off(client, org, "initech", 1)["lago_id"] for _ in range(23)]
    newest_first = list(reversed(made))
    for query in ("?search=initech", "?customer=initech", "?customer=initech&status=outstanding"):
        first = client.get(f"/invoices{query}").text
        assert invoice_ids(first) == newest_first[:20], query
        assert "1–20 of 23 invoices" in text_of(first)
        second = client.get(f"/invoices{query}&page=2").text
        assert invoice_ids(second) == newest_first[20:], query
        assert "21–23 of 23 invoices" in text_of(second)
    assert len(invoice_ids(client.get("/invoices").text)) == 20
    assert "1–20 of 29 invoices" in text_of(client.get("/invoices").text)
