"""Previews and forecasts of one customer, many at a time: never a deadlock, never a
false 404, every answer the one a lone request gets; and real billing of that customer
runs through meanwhile (issue 13, point 4).

The customer has a plan paid in advance (its start invoice is billed at once), a
credit note on that invoice and a recurring coupon, so that every rehearsed invoice
touches the rows billing shares: the subscription, the invoice numbering, the applied
coupon and the credit note.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.applied_coupon import AppliedCoupon
from lago_python_client.models.coupon import Coupon
from lago_python_client.models.credit_note import CreditNote, Item, Items
from lago_python_client.models.customer import Customer
from lago_python_client.models.plan import Plan
from lago_python_client.models.subscription import Subscription
from lago_python_client.models.tax import Tax

from meterbill.clock import TickReport, tick
from meterbill.core.db import Database
from meterbill.invoices.scope import Scope
from tests.conftest import Org

PREVIEW = {"customer": {"external_id": "cus"}, "subscriptions": {"external_ids": ["sub"]}}
NEW_SUBSCRIPTION = {
    "customer": {"external_id": "cus"},
    "plan_code": "pro",
    "billing_time": "anniversary",
}
# What is asked, by name: (path, body of a POST or None for a GET).
REQUESTS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "next invoice": ("/invoices/preview", PREVIEW),
    # The request's coupons replace the customer's: "ten" again, from its first period.
    "with a coupon": ("/invoices/preview", {**PREVIEW, "coupons": [{"code": "ten"}]}),
    "new subscription": ("/invoices/preview", NEW_SUBSCRIPTION),
    "forecast": ("/subscriptions/sub/invoice_forecast?periods=2", None),
}
AMOUNTS = (
    "fees_amount_cents",
    "coupons_amount_cents",
    "taxes_amount_cents",
    "credit_notes_amount_cents",
    "total_amount_cents",
)
# 5 000 a month, 10 % off (500), 20 % VAT on 4 500 (900): 5 400, less the credit note's
# 1 200 while it lasts.
FIRST = (5_000, 500, 900, 1_200, 4_200)
SECOND = (5_000, 500, 900, 0, 5_400)


@pytest.fixture
def customer(lago: Client) -> str:
    """Plan 5 000 a month paid in advance + 20 % VAT; the start invoice (6 000) gets a
    credit note of 1 200; then a coupon of 10 % for 3 periods is applied. Returns the
    start invoice's number."""
    lago.taxes.create(Tax(name="VAT", code="vat", rate=20, applied_to_organization=True))
    plan = Plan(name="Pro", code="pro", interval="monthly", amount_cents=5_000,
                amount_currency="EUR", pay_in_advance=True)  # fmt: skip
    lago.plans.create(plan)
    lago.customers.create(Customer(external_id="cus", name="Jane"))
    lago.subscriptions.create(
        Subscription(
            external_customer_id="cus", plan_code="pro", external_id="sub",
            billing_time="anniversary",
        )
    )  # fmt: skip
    [start] = lago.invoices.find_all({"external_customer_id": "cus"})["invoices"]
    assert (start.fees_amount_cents, start.total_amount_cents) == (5_000, 6_000)
    fee_id = lago.invoices.find(start.lago_id).fees.__root__[0].lago_id
    lago.credit_notes.create(
        CreditNote(
            invoice_id=start.lago_id, reason="other", credit_amount_cents=1_200,
            items=Items(__root__=[Item(fee_id=fee_id, amount_cents=1_000)]),
        )
    )  # fmt: skip
    coupon = Coupon(name="Ten", code="ten", coupon_type="percentage", percentage_rate=10.0,
                    frequency="recurring", frequency_duration=3,
                    expiration="no_expiration")  # fmt: skip
    lago.coupons.create(coupon)
    lago.applied_coupons.create(AppliedCoupon(external_customer_id="cus", coupon_code="ten"))
    return str(start.number)


def _seen(invoice: dict[str, Any]) -> dict[str, Any]:
    """What a user compares between two previews: everything but fresh ids and stamps."""
    fields = (
        "number",
        "sequential_id",
        "status",
        "invoice_type",
        "currency",
        "issuing_date",
        "payment_due_date",
        "sub_total_excluding_taxes_amount_cents",
        "sub_total_including_taxes_amount_cents",
        "prepaid_credit_amount_cents",
        *AMOUNTS,
    )
    fees = [(fee["item"]["code"], fee["amount_cents"], fee["taxes_amount_cents"])
            for fee in invoice["fees"]]  # fmt: skip
    credits = [(credit["item"]["code"], credit["amount_cents"]) for credit in invoice["credits"]]
    return {key: invoice[key] for key in fields} | {"fees": fees, "credits": credits}


def _ask(client: httpx.Client, name: str) -> tuple[int, Any]:
    """(status, what the answer shows): one invoice, a list of them, or the error."""
    path, body = REQUESTS[name]
    response = client.get(path) if body is None else client.post(path, json=body)
    answer = response.json()
    if "invoice" in answer:
        return response.status_code, _seen(answer["invoice"])
    if "invoices" in answer:
        return response.status_code, [_seen(invoice) for invoice in answer["invoices"]]
    return response.status_code, answer


def _amounts(invoice: dict[str, Any]) -> tuple[int, ...]:
    return tuple(invoice[key] for key in AMOUNTS)


def _many_at_once(
    server: str, org: Org, names: list[str], meanwhile: Callable[[], None] | None = None
) -> list[tuple[str, Any]]:
    """Every request of `names`, 8 at a time; `meanwhile` runs once the first answered."""
    first = threading.Event()
    headers = {"Authorization": f"Bearer {org.api_key}"}

    def ask(name: str) -> tuple[str, Any]:
        with httpx.Client(base_url=f"{server}/api/v1", timeout=120, headers=headers) as client:
            answer = _ask(client, name)
        first.set()
        return name, answer

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = pool.map(ask, names)
        if meanwhile is not None:
            assert first.wait(timeout=120)
            meanwhile()
        return list(answers)


def test_eight_at_a_time_answer_as_one_alone(
    server: str, org: Org, http: httpx.Client, customer: str
) -> None:
    alone = {name: _ask(http, name) for name in REQUESTS}
    assert {name: status for name, (status, _answer) in alone.items()} == dict.fromkeys(
        REQUESTS, 200
    )
    previews = ("next invoice", "with a coupon", "new subscription")
    assert [_amounts(alone[name][1]) for name in previews] == [FIRST] * 3
    assert [_amounts(invoice) for invoice in alone["forecast"][1]] == [FIRST, SECOND]
    assert alone["forecast"][1][0] == alone["next invoice"][1]
    # A rehearsal numbers nothing (the next real invoice may take that number first).
    draft = f"{customer.removesuffix('-001-001')}-DRAFT"
    numbers = {(alone[name][1]["number"], alone[name][1]["sequential_id"]) for name in previews}
    assert numbers == {(draft, None)}

    names = [list(REQUESTS)[index % len(REQUESTS)] for index in range(48)]
    answers = _many_at_once(server, org, names)
    assert [(name, answer) for name, answer in answers if answer != alone[name]] == []
    # All rolled back: the start invoice is still the only one.
    listed = http.get("/invoices").json()["invoices"]
    assert [invoice["number"] for invoice in listed] == [customer]


def test_real_billing_runs_through_while_rehearsals_run(
    server: str, org: Org, http: httpx.Client, database: Database, customer: str
) -> None:
    names = ["next invoice", "forecast"] * 24
    alone = {name: _ask(http, name) for name in set(names)}
    # Real billing of the next period, in advance, on its billing day: the clock's own
    # code, not rehearsed, kept to this customer (the database holds other tests' ones).
    billing_day = date.fromisoformat(alone["next invoice"][1]["issuing_date"])
    instant = datetime.combine(billing_day, time(1), UTC)
    scope = Scope(uuid.UUID(http.get("/customers/cus").json()["customer"]["lago_id"]), org.id)
    reports: list[TickReport] = []
    answers = _many_at_once(
        server, org, names, meanwhile=lambda: reports.append(tick(database, instant, scope))
    )
    [report] = reports
    listed = http.get("/invoices", params={"external_customer_id": "cus"}).json()["invoices"]
    [real] = [invoice for invoice in listed if invoice["number"] != customer]
    assert (_amounts(real), real["number"], real["issuing_date"]) == (
        FIRST, f"{customer.removesuffix('001')}002", billing_day.isoformat())  # fmt: skip
    assert report.billing.invoices == [uuid.UUID(real["lago_id"])]

    # Every rehearsal answered as alone (amounts and dates): rehearsed, or, once real
    # billing had committed, that real invoice.
    def shown(answer: Any) -> list[tuple[tuple[int, ...], str]]:
        invoices = answer if isinstance(answer, list) else [answer]
        return [(_amounts(invoice), invoice["issuing_date"]) for invoice in invoices]

    assert {status for _name, (status, _answer) in answers} == {200}
    assert [name for name, (_s, answer) in answers if shown(answer) != shown(alone[name][1])] == []
