"""No input to the credit note pages gives a 500: any value in any field of the form is
a 422 page with nothing written, any list query a page; every input has a label."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.credit_notes.models import CreditNote
from tests.dashboard_credit_notes.conftest import E15, Web

HOSTILE_VALUES = [
    "x" * 100_000,
    "\x00",
    "a\x00b",
    "99999999999999999999999999",
    "-1",
    "1e400",
    "NaN",
    "<script>alert(1)</script>",
    "",
]


def test_any_value_in_any_field_is_a_page_not_a_500(
    web: Web, database: Database, invoice: E15
) -> None:
    url = f"/invoices/{invoice.invoice_id}/credit-notes/new"
    estimate = f"/invoices/{invoice.invoice_id}/credit-notes/estimate"
    fields = ["reason", "description", f"item-{invoice.fee_p1}-amount", "credit_amount",
              "refund_amount", "offset_amount"]  # fmt: skip
    issued = 0
    for value in HOSTILE_VALUES:
        for name in fields:
            data = {"reason": "other", f"item-{invoice.fee_p1}-checked": "on",
                    f"item-{invoice.fee_p1}-amount": "1", "credit_amount": "1.10",
                    name: value}  # fmt: skip
            response = web.post(url, data)
            # Any internal note is one (NULs dropped) unless too long; an empty offset or
            # refund is 0: those forms issue a note.
            accepted = (name == "description" and len(value) < 1_000) or (
                name in ("refund_amount", "offset_amount") and value.strip("\x00") == ""
            )
            assert response.status_code == (303 if accepted else 422), (name, value[:20])
            issued += accepted
            assert "<script>alert(1)</script>" not in response.text
            assert web.post(estimate, data, htmx=True).status_code == 200, (name, value[:20])
    with database.transaction(write=False) as session:
        notes = list(session.scalars(
            select(CreditNote).where(CreditNote.invoice_id == invoice.invoice_id)
        ))  # fmt: skip
    # Eight internal notes (all but the too long one), two empty refunds, two offsets.
    assert len(notes) == issued == 12
    assert {note.description for note in notes} >= {"ab", "<script>alert(1)</script>", None}
    # What the note's page shows of it is escaped.
    [scripted] = [note for note in notes if note.description and "<" in note.description]
    page = web.get(f"/credit-notes/{scripted.id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


@pytest.mark.parametrize(
    "query",
    ["page=-1", "page=abc", "page=2147483647", "search=%25%25",
     "search=" + "a" * 5000, "search=%E2%80%8B", "page=1.5&search=_"],
)  # fmt: skip
def test_any_list_query_is_a_page(web: Web, query: str) -> None:
    response = web.get(f"/credit-notes?{query}")
    assert response.status_code == 200, query
    assert response.headers["content-type"].startswith("text/html")


def test_every_input_has_a_label(web: Web, invoice: E15) -> None:
    for path in (f"/invoices/{invoice.invoice_id}/credit-notes/new", "/credit-notes"):
        html = web.get(path).text
        labels = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag:
                continue
            found = re.search(r'id="([^"]+)"', tag)
            assert found and found.group(1) in labels, (path, tag)
