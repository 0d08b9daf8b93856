"""Issuing a credit note with a refund allocation in Chromium, JavaScript on (the totals
come live from the server) and off (the "Compute totals" button): the form, the note's
page and the list, a screenshot of each under test-output/dashboard/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import OUTPUT, chromium, open_page, sign_in  # noqa: F401  (fixture)
from tests.dashboard_credit_notes.conftest import E15, PASSWORD, login_as


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def page(request: pytest.FixtureRequest, chromium: Any, server: str) -> Iterator[Any]:  # noqa: F811
    yield from open_page(chromium, server, request, javascript=request.param)


def test_issue_a_credit_note_with_a_refund(
    page: Any, server: str, database: Database, org: Org, http: httpx.Client, invoice: E15
) -> None:
    member = login_as(server, database, org, "finance")
    member.client.close()
    target = f"/invoices/{invoice.invoice_id}/credit-notes/new"
    sign_in(page, member.email, PASSWORD, target)
    assert page.get_by_role("heading", level=1).inner_text() == (
        f"Issue a credit note on {invoice.number}"
    )
    page.get_by_label("Reason").select_option(label="Order change")
    page.get_by_label("Internal note (optional)").fill("Two seats removed")
    p2 = page.locator("table.credit-items", has=page.locator("caption", has_text="p2"))
    p2.get_by_role("checkbox").check()
    p2.get_by_role("textbox").fill("262.60")
    # 13.00 refunded of 12.00 paid: refused, the form shown again with what was typed.
    page.get_by_label("Refund (EUR)").fill("13.00")
    page.get_by_label("Credit on customer's account (EUR)").fill("104.67")
    page.get_by_role("button", name="Issue credit note").click()
    refusal = page.locator("#f-refund_amount-error")
    refusal.wait_for()
    assert refusal.inner_text() == "Refund cannot exceed the amount paid (€12.00)"
    assert p2.get_by_role("textbox").input_value() == "262.60"
    assert page.get_by_label("Reason").input_value() == "order_change"
    page.screenshot(path=str(OUTPUT / f"credit_note_refused_{page_id(page)}.png"), full_page=True)
    page.get_by_label("Refund (EUR)").fill("12.00")
    page.get_by_label("Credit on customer's account (EUR)").fill("105.67")
    totals = page.locator("#credit-note-totals")
    if not page.javascript:
        page.get_by_role("button", name="Compute totals").click()
    # The server's estimate: 262.60 less 164.54 of coupon = 98.06, + 19.61 of taxes.
    total = totals.locator('[data-figure="total"]')
    total.wait_for()
    # htmx swaps the totals as the allocation is typed: wait for the last swap.
    totals.locator('[data-figure="allocated"]', has_text="the allocation matches").wait_for()
    assert total.inner_text() == "€117.67"
    assert totals.locator('[data-figure="coupons"]').inner_text() == "-€164.54"
    assert totals.locator('[data-figure="taxes"]').inner_text() == "€19.61"
    page.screenshot(path=str(OUTPUT / f"credit_note_form_{page_id(page)}.png"), full_page=True)
    page.get_by_role("button", name="Issue credit note").click()
    page.wait_for_url("**/credit-notes/*")
    assert page.get_by_role("status").first.inner_text() == "Credit note successfully issued"
    assert page.get_by_role("heading", level=1).inner_text() == f"{invoice.number}-CN001"
    assert page.locator('[data-figure="refund"]').inner_text() == "€12.00"
    assert page.locator('[data-figure="credit"]').inner_text() == "€105.67"
    page.screenshot(path=str(OUTPUT / f"credit_note_page_{page_id(page)}.png"), full_page=True)
    note_id = page.url.rsplit("/", 1)[1]
    found = http.get(f"/credit_notes/{note_id}").json()["credit_note"]
    assert (found["refund_amount_cents"], found["credit_amount_cents"]) == (12_00, 105_67)
    page.get_by_role("link", name="Credit notes").first.click()
    page.wait_for_url("**/credit-notes")
    row = page.locator("tbody tr").first
    assert row.locator("td").nth(0).inner_text() == f"{invoice.number}-CN001"
    assert row.locator("td").nth(5).inner_text() == "€117.67"
    # The refused form's 422 is the one resource error Chromium reports; no script failed.
    assert [e for e in page.console_errors if "status of 422" not in e] == []


def page_id(page: Any) -> str:
    return "js" if page.javascript else "nojs"
