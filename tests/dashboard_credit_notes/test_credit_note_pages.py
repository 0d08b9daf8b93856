"""The Credit notes list (search, pages, empty states), a credit note's page, its PDF and
void, and who may do what: the same figures as the API's, the permission of each
route enforced on the server."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select

from meterbill.core.db import Database
from meterbill.credit_notes.models import CreditNote
from meterbill.dashboard import credit_note_pages
from meterbill.users.roles import ROLES, can
from tests.conftest import Org, make_org
from tests.dashboard_credit_notes.conftest import E15, Web, login_as, text_of


def issue(http: httpx.Client, invoice: E15, fee: Any, amount: int, **split: int) -> dict[str, Any]:
    body = {"invoice_id": str(invoice.invoice_id), "reason": "duplicated_charge",
            "items": [{"fee_id": str(fee), "amount_cents": amount}], **split}  # fmt: skip
    response = http.post("/credit_notes", json={"credit_note": body})
    assert response.status_code == 200, response.text
    return response.json()["credit_note"]  # type: ignore[no-any-return]


def rows(html: str) -> list[str]:
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    return [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]


def test_the_list_searches_and_pages_with_its_state_in_the_url(
    web: Web, http: httpx.Client, invoice: E15
) -> None:
    assert "No credit notes yet" in text_of(web.get("/credit-notes").text)
    # 21 notes of 1.00 on the 179.00 fee (+ 10 % VAT: 1.10 each), credited.
    for _ in range(21):
        issue(http, invoice, invoice.fee_p1, 1_00, credit_amount_cents=1_10)
    first = web.get("/credit-notes")
    assert "Credit notes 21" in text_of(first.text)
    listed = rows(first.text)
    assert len(listed) == 20
    # Newest first: the 21st note heads the list.
    assert listed[0].startswith(f"{invoice.number}-CN021 cus {invoice.number} available - €1.10 ")
    assert 'href="/credit-notes?page=2"' in first.text and "Page 1 of 2" in first.text
    second = web.get("/credit-notes?page=2")
    assert [row.split()[0] for row in rows(second.text)] == [f"{invoice.number}-CN001"]
    found = web.get("/credit-notes?search=CN007")
    assert [row.split()[0] for row in rows(found.text)] == [f"{invoice.number}-CN007"]
    assert len(rows(web.get("/credit-notes?search=cus").text)) == 20
    assert 'href="/credit-notes?search=cus&amp;page=2"' in web.get("/credit-notes?search=cus").text
    empty = text_of(web.get("/credit-notes?search=nothing-like-it").text)
    assert "No credit note matches “nothing-like-it”" in empty
    # htmx asks for the results alone.
    htmx = {"HX-Request": "true", "HX-Target": "credit-notes-results"}
    partial = web.get("/credit-notes?search=CN007", headers=htmx)
    assert partial.text.lstrip().startswith('<div id="credit-notes-results">')
    assert web.get("/credit-notes?page=abc").status_code == 200


def test_the_page_shows_the_apis_figures_its_pdf_and_void(
    web: Web, http: httpx.Client, database: Database, invoice: E15
) -> None:
    note = issue(http, invoice, invoice.fee_p2, 26_260, refund_amount_cents=12_00,
                 credit_amount_cents=105_67)  # fmt: skip
    page = web.get(f"/credit-notes/{note['lago_id']}")
    assert page.status_code == 200
    shown = dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', page.text))
    assert shown == {
        "coupons": "-€164.54", "sub_total": "€98.06", "taxes": "€19.61", "total": "€117.67",
        "offset": "€0.00", "refund": "€12.00", "credit": "€105.67", "balance": "€105.67",
    }  # fmt: skip
    text = text_of(page.text)
    assert "Reason Duplicate charge" in text and "Refund status pending" in text
    # Its item, and a tax line per rate (10 % + 10 % of 98.06: 9.81 each).
    assert re.search(r"p2 \w{3} \d+, 2023 – \w{3} \d+, 2023 €262.60", text), text
    assert text.count("(10%) €9.81") == 2
    pdf = web.get(f"/credit-notes/{note['lago_id']}/document.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert f"{note['number']}.pdf" in pdf.headers["content-disposition"]
    # Void: the credit left goes; the refund stays.
    assert 'href="/credit-notes/' + note["lago_id"] + '/void"' in page.text
    dialog = web.get(f"/credit-notes/{note['lago_id']}/void")
    assert "Its remaining credit, €105.67, will no longer be deducted" in text_of(dialog.text)
    voided = web.post(f"/credit-notes/{note['lago_id']}/void", {})
    assert voided.status_code == 303
    after = web.get(voided.headers["location"], cookies=voided.cookies)
    assert "Credit note successfully voided" in after.text
    assert "Credit status voided" in text_of(after.text)
    assert "/void" not in after.text
    found = http.get(f"/credit_notes/{note['lago_id']}").json()["credit_note"]
    assert (found["credit_status"], found["balance_amount_cents"]) == ("voided", 0)
    assert found["refund_amount_cents"] == 12_00
    again = web.post(f"/credit-notes/{note['lago_id']}/void", {})
    assert again.status_code == 303
    assert "nothing left to void" in web.get(again.headers["location"], cookies=again.cookies).text


def test_a_refund_only_note_offers_no_void(web: Web, http: httpx.Client, invoice: E15) -> None:
    note = issue(http, invoice, invoice.fee_p1, 10_00, refund_amount_cents=11_00)
    page = web.get(f"/credit-notes/{note['lago_id']}")
    assert "Void credit note" not in page.text
    assert "Credit status -" in text_of(page.text)


def test_another_organizations_notes_are_not_found(
    web: Web, http: httpx.Client, database: Database, server: str, invoice: E15
) -> None:
    note = issue(http, invoice, invoice.fee_p1, 10_00, credit_amount_cents=11_00)
    stranger = login_as(server, database, make_org(database, "Other Corp"), "admin")
    try:
        for path in (f"/credit-notes/{note['lago_id']}", f"/credit-notes/{note['lago_id']}/void",
                     f"/credit-notes/{note['lago_id']}/document.pdf",
                     f"/invoices/{invoice.invoice_id}/credit-notes/new"):  # fmt: skip
            assert stranger.get(path).status_code == 404, path
        assert stranger.post(f"/credit-notes/{note['lago_id']}/void", {}).status_code == 404
        assert "No credit notes yet" in text_of(stranger.get("/credit-notes").text)
    finally:
        stranger.client.close()
    missing = "00000000-0000-0000-0000-000000000000"
    assert web.get(f"/credit-notes/{missing}").status_code == 404
    assert web.get("/credit-notes/not-a-uuid").status_code == 404
    assert web.get(f"/credit-notes/{missing}/document.pdf").status_code == 404


def test_each_route_names_its_permission_and_every_role_holds_it() -> None:
    permissions = {
        (sorted(route.methods)[0], route.path): dependency.dependency.__closure__[0].cell_contents
        for route in credit_note_pages.router.routes
        for dependency in route.dependencies  # type: ignore[attr-defined]
    }
    assert permissions == {
        ("GET", "/invoices/{invoice_id}/credit-notes/new"): "credit_notes:create",
        ("POST", "/invoices/{invoice_id}/credit-notes/new"): "credit_notes:create",
        ("POST", "/invoices/{invoice_id}/credit-notes/estimate"): "credit_notes:create",
        ("GET", "/credit-notes"): "credit_notes:view",
        ("GET", "/credit-notes/{credit_note_id}"): "credit_notes:view",
        ("GET", "/credit-notes/{credit_note_id}/document.pdf"): "credit_notes:view",
        ("GET", "/credit-notes/{credit_note_id}/void"): "credit_notes:void",
        ("POST", "/credit-notes/{credit_note_id}/void"): "credit_notes:void",
    }
    # Lago's matrix: admin, finance and manager all hold the credit note permissions.
    assert all(can(role, permission) for role in ROLES for permission in permissions.values())


def test_finance_and_manager_issue_notes_and_a_forged_form_is_refused(
    member: Callable[[str], Web], http: httpx.Client, database: Database, org: Org,
    invoice: E15,
) -> None:  # fmt: skip
    url = f"/invoices/{invoice.invoice_id}/credit-notes/new"
    for role in ("finance", "manager"):
        web = member(role)
        assert web.get(url).status_code == 200
        response = web.post(url, [("reason", "other"), (f"item-{invoice.fee_p1}-checked", "on"),
                                  (f"item-{invoice.fee_p1}-amount", "10"),
                                  ("credit_amount", "11")])  # fmt: skip
        assert response.status_code == 303, response.text
        assert web.get("/credit-notes").status_code == 200
    web = member("finance")
    before = count(database, invoice)
    forged = web.post(url, [("reason", "other"), (f"item-{invoice.fee_p1}-checked", "on"),
                            (f"item-{invoice.fee_p1}-amount", "10"), ("credit_amount", "11")],
                      csrf=False)  # fmt: skip
    assert forged.status_code == 403
    assert count(database, invoice) == before == 2
    # Logged out: to the login page, nothing shown.
    with httpx.Client(base_url=str(web.client.base_url)) as anonymous:
        assert anonymous.get("/credit-notes").status_code == 303
        assert anonymous.post(url, data={"reason": "other"}).status_code in (303, 403)


def count(database: Database, invoice: E15) -> int:
    with database.transaction(write=False) as session:
        query = select(func.count()).where(CreditNote.invoice_id == invoice.invoice_id)
        return session.scalar(query) or 0
