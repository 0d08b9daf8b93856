"""GET /api/v1/analytics/*: gross revenue, overdue balance and invoice collection.

Most invoices here are written straight to the database: the reports read only a few
invoice columns, and dates relative to the real current month keep `months` (which
counts back from today, as Lago's does) testable. One test goes through real billing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from sqlalchemy import select, update

from meterbill.analytics.service import SubscriptionFeeGroup, spread
from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.credit_notes.models import CreditNote
from meterbill.customers.models import Customer
from meterbill.invoices.models import Fee, Invoice
from meterbill.organizations.models import Organization
from tests.conftest import Org, make_org
from tests.db.test_current_usage import Setup, utc


def month_start(moment: date, back: int = 0) -> date:
    index = moment.year * 12 + moment.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


TODAY = datetime.now(UTC).date()
M0 = month_start(TODAY)  # the current month
M1 = month_start(TODAY, 1)
M2 = month_start(TODAY, 2)
M3 = month_start(TODAY, 3)
NEXT = month_start(TODAY, -1)


def label(month: date) -> str:
    return f"{month.isoformat()}T00:00:00.000Z"


class Books:
    """Customers and invoices of one organization, written directly."""

    def __init__(self, database: Database, org: Org) -> None:
        self.database, self.org = database, org
        self.customers: dict[str, uuid.UUID] = {}
        self.count = 0

    def created(self, month: date) -> None:
        """Move the organization's creation (reports start at its month)."""
        with self.database.transaction() as session:
            session.execute(
                update(Organization)
                .where(Organization.id == self.org.id)
                .values(created_at=datetime(month.year, month.month, 1, 8, tzinfo=UTC))
            )

    def customer(self, external_id: str) -> uuid.UUID:
        setup = Setup(self.database, self.org)
        setup.customer(external_id, currency="EUR")
        with self.database.transaction(write=False) as session:
            customer_id = session.scalar(
                select(Customer.id).where(
                    Customer.organization_id == self.org.id,
                    Customer.external_id == external_id,
                    Customer.deleted_at.is_(None),
                )
            )
        assert customer_id is not None
        self.customers[external_id] = customer_id
        return customer_id

    def invoice(self, customer: str = "cus", *, issued: date, total: int, due: date | None = None,
                status: str = "finalized", currency: str = "EUR", paid: int = 0,
                overdue: bool = False, payment_status: str = "pending",
                dispute_lost: bool = False) -> str:  # fmt: skip
        if customer not in self.customers:
            self.customer(customer)
        self.count += 1
        now = datetime.now(UTC)
        invoice = Invoice(
            id=uuid.uuid4(), organization_id=self.org.id, customer_id=self.customers[customer],
            number=f"T-{self.count:03}", invoice_type="one_off", status=status,
            payment_status=payment_status, payment_overdue=overdue, currency=currency,
            issuing_date=issued, payment_due_date=due or issued, billing_date=issued,
            fees_amount_cents=total, sub_total_excluding_taxes_amount_cents=total,
            sub_total_including_taxes_amount_cents=total, total_amount_cents=total,
            total_paid_amount_cents=paid,
            payment_dispute_lost_at=now if dispute_lost else None,
            created_at=now + timedelta(microseconds=self.count), updated_at=now,
        )  # fmt: skip
        with self.database.transaction() as session:
            session.add(invoice)
        return str(invoice.id)

    def instant_fee(self, customer: str, created: datetime, amount: int,
                    invoice_id: str | None = None, currency: str = "EUR") -> None:  # fmt: skip
        """A pay-in-advance charge fee; never invoiced when `invoice_id` is None."""
        if customer not in self.customers:
            self.customer(customer)
        fee = Fee(
            organization_id=self.org.id, customer_id=self.customers[customer],
            invoice_id=uuid.UUID(invoice_id) if invoice_id else None, fee_type="charge",
            item_code="calls", item_name="Calls", item_type="BillableMetric",
            pay_in_advance=True, invoiceable=invoice_id is not None, amount_currency=currency,
            amount_cents=amount, precise_amount_cents=amount, precise_unit_amount=0,
            units=1, total_aggregated_units=1, created_at=created, updated_at=created,
        )  # fmt: skip
        with self.database.transaction() as session:
            session.add(fee)

    def credit_note(self, invoice_id: str, *, refund: int = 0, offset: int = 0,
                    credit: int = 0, status: str = "finalized") -> None:  # fmt: skip
        """A credit note on an invoice written by `invoice`, split as asked."""
        with self.database.transaction() as session:
            invoice = session.get(Invoice, uuid.UUID(invoice_id))
            assert invoice is not None
            self.count += 1
            total = refund + offset + credit
            now = datetime.now(UTC)
            session.add(CreditNote(
                organization_id=self.org.id, customer_id=invoice.customer_id,
                invoice_id=invoice.id, sequential_id=self.count, number=f"CN-{self.count}",
                issuing_date=invoice.issuing_date, status=status, reason="other",
                currency=invoice.currency, total_amount_cents=total,
                precise_total_amount_cents=Decimal(total), taxes_amount_cents=0,
                precise_taxes_amount_cents=Decimal(0),
                sub_total_excluding_taxes_amount_cents=total, balance_amount_cents=credit,
                credit_amount_cents=credit, refund_amount_cents=refund,
                offset_amount_cents=offset, coupons_adjustment_amount_cents=0,
                precise_coupons_adjustment_amount_cents=Decimal(0), taxes_rate=Decimal(0),
                created_at=now, updated_at=now,
            ))  # fmt: skip

    def delete_customer(self, external_id: str) -> None:
        with self.database.transaction() as session:
            session.execute(
                update(Customer)
                .where(Customer.id == self.customers[external_id])
                .values(deleted_at=datetime.now(UTC))
            )


@pytest.fixture
def books(database: Database, org: Org) -> Books:
    return Books(database, org)


def gross(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get("/analytics/gross_revenue", params=params)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["gross_revenues"]  # not paginated: no meta
    return body["gross_revenues"]


def overdue(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get("/analytics/overdue_balance", params=params)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["overdue_balances"]
    return body["overdue_balances"]


def brief(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(row[key] for key in ("month", *keys)) for row in rows]


# Overdue balance


def test_overdue_balance_worked_example(
    books: Books, http: httpx.Client, lago: Client, org: Org
) -> None:
    # customers.md §10, moved to today: created two months ago; overdue invoices due two
    # months ago (1000) and twice this month (2000, 3000), plus one that is not overdue.
    books.created(M2)
    i1 = books.invoice(issued=M2, due=M2 + timedelta(days=3), total=1000, overdue=True)
    i2 = books.invoice(issued=M0, due=M0, total=2000, overdue=True)
    i3 = books.invoice(issued=M0, due=TODAY, total=3000, overdue=True)
    books.invoice(issued=M0, due=TODAY, total=4000, overdue=False)
    rows = overdue(http)
    assert rows == [
        {"month": label(M2), "amount_cents": 1000, "currency": "EUR", "lago_invoice_ids": [i1],
         "billing_entity_id": str(org.id)},
        {"month": label(M0), "amount_cents": 5000, "currency": "EUR",
         "lago_invoice_ids": [i2, i3], "billing_entity_id": str(org.id)},
    ]  # fmt: skip
    # The official client parses the same rows (integers, lists of ids).
    parsed = lago.overdue_balances.find_all()["overdue_balances"]
    assert [(r.month, r.amount_cents, r.currency, r.lago_invoice_ids) for r in parsed] == [
        (label(M2), 1000, "EUR", [i1]),
        (label(M0), 5000, "EUR", [i2, i3]),
    ]


def test_overdue_balance_amounts_and_filters(books: Books, http: httpx.Client) -> None:
    books.created(M3)
    # What remains to be paid counts, not the total.
    books.invoice(issued=M1, due=M1, total=10_000, paid=2_500, overdue=True)
    books.invoice(issued=M1, due=M1, total=700, overdue=True, currency="USD")
    other = books.invoice("other", issued=M1, due=M1, total=300, overdue=True)
    # Not counted: not overdue, hidden, or due before the organization existed.
    books.invoice(issued=M1, due=M1, total=1, overdue=False)
    books.invoice(issued=M1, due=M1, total=2, overdue=True, status="closed")
    books.invoice(issued=M3, due=month_start(M3, 1), total=4, overdue=True)
    assert brief(overdue(http), "currency", "amount_cents") == [
        (label(M1), "EUR", 7_800), (label(M1), "USD", 700),
    ]  # fmt: skip
    # Currency is upper-cased, then matched exactly.
    assert brief(overdue(http, currency="usd"), "amount_cents") == [(label(M1), 700)]
    assert overdue(http, currency="GBP") == []
    assert overdue(http, currency="") == overdue(http)
    # One customer; an unknown or deleted one has nothing.
    [row] = overdue(http, external_customer_id="other")
    assert (row["amount_cents"], row["lago_invoice_ids"]) == (300, [other])
    assert overdue(http, external_customer_id="nobody") == []
    books.delete_customer("other")
    assert overdue(http, external_customer_id="other") == []
    # An unknown billing entity code is ignored.
    assert overdue(http, billing_entity_code="nope") == overdue(http)


def test_months_counts_back_from_the_current_month(books: Books, http: httpx.Client) -> None:
    books.created(M3)
    for month, amount in ((M3, 1), (M2, 10), (M1, 100), (M0, 1000)):
        books.invoice(issued=month, due=month, total=amount, overdue=True)
    books.invoice(issued=NEXT, due=NEXT, total=5, overdue=True)  # never shown: the future

    def months(value: str | None) -> list[int]:
        params = {} if value is None else {"months": value}
        return [row["amount_cents"] for row in overdue(http, **params)]

    assert months(None) == [1, 10, 100, 1000]
    assert months("2") == [100, 1000]
    assert months("3") == [10, 100, 1000]
    assert months("24") == [1, 10, 100, 1000]
    # months <= 1 and values that are not numbers (Ruby's to_i gives 0) = this month only.
    for value in ("1", "0", "-4", "abc"):
        assert months(value) == [1000]
    assert months("2abc") == [100, 1000]  # to_i reads the leading digits
    assert months("") == [1, 10, 100, 1000]  # blank is absent


# Gross revenue


def test_gross_revenue_counts_finalized_invoices_and_instant_fees(
    books: Books, http: httpx.Client, lago: Client, org: Org
) -> None:
    books.created(M3)
    books.invoice(issued=M1, total=1_000)
    invoiced = books.invoice(issued=M1, total=2_500, payment_status="succeeded", paid=2_500)
    books.invoice(issued=M0, total=700)
    books.invoice(issued=M0, total=900, currency="USD")
    # Not revenue: drafts, voided, hidden, disputes lost, future months.
    for status in ("draft", "voided", "closed"):
        books.invoice(issued=M1, total=10_000, status=status)
    books.invoice(issued=M1, total=20_000, dispute_lost=True)
    books.invoice(issued=NEXT, total=40_000)
    # A pay-in-advance fee never invoiced counts in its creation month, with no invoice;
    # one already on an invoice is inside that invoice's total.
    created = datetime(M0.year, M0.month, 1, 0, 30, tzinfo=UTC)
    books.instant_fee("cus", created, 300)
    books.instant_fee("cus", created, 99_999, invoice_id=invoiced)
    # Another organization's revenue is not ours.
    Books(books.database, make_org(books.database, "Other Corp")).invoice(issued=M0, total=1)
    assert gross(http) == [
        {"month": label(M1), "amount_cents": 3_500, "currency": "EUR", "invoices_count": 2,
         "billing_entity_id": str(org.id)},
        {"month": label(M0), "amount_cents": 1_000, "currency": "EUR", "invoices_count": 1,
         "billing_entity_id": str(org.id)},
        {"month": label(M0), "amount_cents": 900, "currency": "USD", "invoices_count": 1,
         "billing_entity_id": str(org.id)},
    ]  # fmt: skip
    parsed = lago.gross_revenues.find_all({"currency": "eur", "months": 1})["gross_revenues"]
    assert [(r.month, r.amount_cents, r.currency, r.invoices_count) for r in parsed] == [
        (label(M0), 1_000, "EUR", 1)
    ]
    assert brief(gross(http, months="2", currency="USD"), "amount_cents") == [(label(M0), 900)]


def test_gross_revenue_per_customer(books: Books, http: httpx.Client) -> None:
    books.created(M1)
    books.invoice("a", issued=M0, total=100)
    books.invoice("b", issued=M0, total=20)
    books.instant_fee("b", datetime.now(UTC) - timedelta(minutes=1), 3)
    assert brief(gross(http), "amount_cents", "invoices_count") == [(label(M0), 123, 2)]
    assert brief(gross(http, external_customer_id="b"), "amount_cents", "invoices_count") == [
        (label(M0), 23, 1)
    ]
    assert gross(http, external_customer_id="c") == []
    books.delete_customer("b")
    assert gross(http, external_customer_id="b") == []


def test_credit_notes_reduce_gross_revenue_and_overdue(books: Books, http: httpx.Client) -> None:
    # Lago's queries: gross revenue subtracts the refunds of every credit note on the
    # invoice; the overdue amount subtracts the offsets of its finalized credit notes.
    books.created(M1)
    paid = books.invoice(issued=M0, total=10_000, paid=10_000, payment_status="succeeded")
    books.credit_note(paid, refund=1_500, credit=500)
    books.credit_note(paid, refund=250)
    late = books.invoice(issued=M0, due=M0, total=6_000, paid=1_000, overdue=True)
    books.credit_note(late, offset=2_000)
    books.credit_note(late, offset=700, status="draft")  # not finalized: no offset yet
    books.invoice(issued=M0, total=300, currency="USD")
    assert brief(gross(http), "currency", "amount_cents", "invoices_count") == [
        (label(M0), "EUR", 10_000 - 1_500 - 250 + 6_000, 2), (label(M0), "USD", 300, 1),
    ]  # fmt: skip
    [row] = overdue(http)
    assert (row["amount_cents"], row["lago_invoice_ids"]) == (6_000 - 1_000 - 2_000, [late])
    assert brief(gross(http, external_customer_id="cus", currency="EUR"), "amount_cents") == [
        (label(M0), 14_250)
    ]


def test_empty_organization_and_refusals(http: httpx.Client, server: str) -> None:
    # customers.md §13 item 40; no parameter value is refused.
    assert http.get("/analytics/gross_revenue").json() == {"gross_revenues": []}
    assert http.get("/analytics/overdue_balance").json() == {"overdue_balances": []}
    odd = {"months": "9" * 40, "currency": "x" * 500, "external_customer_id": "%00'; --"}
    for path in ("gross_revenue", "overdue_balance", "invoice_collection"):
        response = http.get(f"/analytics/{path}", params=odd)
        assert response.status_code == 200, path
        anonymous = httpx.get(f"{server}/api/v1/analytics/{path}")
        assert (anonymous.status_code, anonymous.json()) == (
            401, {"status": 401, "error": "Unauthorized"},
        )  # fmt: skip
    missing = http.get("/analytics/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "resource_not_found")


# Invoice collection


def test_invoice_collection_by_payment_status_zero_filled(
    books: Books, http: httpx.Client, lago: Client
) -> None:
    books.created(M2)
    books.invoice(issued=M1, total=100)
    books.invoice(issued=M1, total=50, payment_status="failed")
    books.invoice(issued=M1, total=7, payment_status="succeeded", paid=7)
    books.invoice(issued=M1, total=8, payment_status="succeeded", paid=8)
    books.invoice(issued=M1, total=9, currency="USD")
    books.invoice(issued=M1, total=1_000, status="draft")
    rows = http.get("/analytics/invoice_collection").json()["invoice_collections"]
    assert [(r["month"], r["payment_status"], r["currency"], r["invoices_count"],
             r["amount_cents"]) for r in rows] == [
        (label(M2), None, None, 0, 0),
        (label(M1), "failed", "EUR", 1, 50),
        (label(M1), "pending", "EUR", 1, 100),
        (label(M1), "pending", "USD", 1, 9),
        (label(M1), "succeeded", "EUR", 2, 15),
        (label(M0), None, None, 0, 0),
    ]  # fmt: skip
    # With a currency, months without data are left out (Lago's filter drops them).
    parsed = lago.invoice_collections.find_all({"currency": "usd"})["invoice_collections"]
    assert [(r.month, r.payment_status, r.invoices_count, r.amount_cents) for r in parsed] == [
        (label(M1), "pending", 1, 9)
    ]
    assert [r["month"] for r in http.get(
        "/analytics/invoice_collection", params={"months": 1}).json()["invoice_collections"]
    ] == [label(M0)]  # fmt: skip


# Through real billing


def test_billed_invoices_feed_the_reports(database: Database, org: Org, http: httpx.Client) -> None:
    setup = Setup(database, org)
    Books(database, org).created(date(2024, 1, 1))
    calls = setup.metric("calls")
    setup.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": "2"}}], amount_cents=1_000)  # fmt: skip
    setup.customer("cus", net_payment_term=3)
    setup.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    setup.events("sub", "calls", *[(utc(2024, 1, day), {}) for day in (3, 4, 5)])
    tick(database, utc(2024, 2, 1, 1))  # bills January: 10.00 + 3 × 2.00
    with database.transaction(write=False) as session:
        [invoice] = session.scalars(
            select(Invoice).where(Invoice.organization_id == org.id, Invoice.status == "finalized")
        ).all()
    assert (invoice.issuing_date, invoice.payment_due_date) == (date(2024, 2, 1), date(2024, 2, 4))
    assert invoice.total_amount_cents == 1_600
    assert brief(gross(http), "amount_cents", "invoices_count") == [
        ("2024-02-01T00:00:00.000Z", 1_600, 1)
    ]
    assert overdue(http) == []
    tick(database, utc(2024, 2, 5, 1))  # the due date has passed: overdue
    assert brief(overdue(http), "amount_cents", "lago_invoice_ids") == [
        ("2024-02-01T00:00:00.000Z", 1_600, [str(invoice.id)])
    ]


# MRR


def test_mrr_monthly_and_spread_yearly_in_advance(
    database: Database, org: Org, http: httpx.Client, lago: Client
) -> None:
    setup = Setup(database, org)
    Books(database, org).created(date(2024, 1, 1))
    setup.plan("monthly", [], amount_cents=1_000)
    setup.plan("yearly", [], amount_cents=12_000, interval="yearly", pay_in_advance=True)
    setup.customer("cus")
    setup.subscribe("cus", "monthly", "m", utc(2024, 1, 1))
    setup.subscribe("cus", "yearly", "y", utc(2024, 1, 1))
    tick(database, utc(2024, 1, 1, 1))  # the year, paid in advance
    tick(database, utc(2024, 2, 1, 1))  # January's monthly fee, in arrears
    rows = http.get("/analytics/mrr").json()["mrrs"]
    assert rows[0] == {"month": "2024-01-01T00:00:00.000Z", "amount_cents": 998, "currency": "EUR"}
    # Lago's year is (365 days 23:59) / 30.44 = 12.024 "months": 12 000 / 12.024 = 998.03 a
    # month, the first one prorated by the days left in it (all of January here).
    assert rows[1] == {
        "month": "2024-02-01T00:00:00.000Z",
        "amount_cents": 1_998,
        "currency": "EUR",
    }
    assert [r["amount_cents"] for r in rows[2:12]] == [998] * 10
    # The remainder lands in a 13th month; months without revenue are zero-filled.
    assert rows[12] == {"month": "2025-01-01T00:00:00.000Z", "amount_cents": 24, "currency": "EUR"}
    assert rows[13] == {"month": "2025-02-01T00:00:00.000Z", "amount_cents": None, "currency": None}
    assert rows[-1]["month"] == label(M0)
    parsed = lago.mrrs.find_all({"currency": "eur"})["mrrs"]
    assert [(r.month[:7], r.amount_cents) for r in parsed][:2] == [
        ("2024-01", 998),
        ("2024-02", 1_998),
    ]
    assert len(parsed) == 13  # with a currency, the empty months are left out
    assert http.get("/analytics/mrr", params={"months": "1"}).json()["mrrs"] == [
        {"month": label(M0), "amount_cents": None, "currency": None}
    ]


def test_spread_in_arrears_takes_the_remainder_in_the_oldest_month() -> None:
    # A quarter billed in arrears on April 1st: 90 days 23:59 = 2.989 "months" of 30.44
    # days, so 3 shares going back from April; the oldest takes what is left.
    group = SubscriptionFeeGroup(
        issuing_date=date(2024, 4, 1), currency="EUR", interval="quarterly",
        pay_in_advance=False, from_datetime=utc(2024, 1, 1),
        to_datetime=utc(2024, 3, 31, 23, 59, 59), amount=Decimal(3_000), count=1,
    )  # fmt: skip
    shares = spread(group)
    assert [month for month, _ in shares] == [date(2024, 4, 1), date(2024, 3, 1), date(2024, 2, 1)]
    assert sum(amount for _, amount in shares) == Decimal(3_000)
    assert round(shares[0][1], 2) == Decimal("1003.52")
    monthly = SubscriptionFeeGroup(date(2024, 4, 9), "EUR", "monthly", False, None, None,
                                   Decimal(7), 1)  # fmt: skip
    assert spread(monthly) == [(date(2024, 4, 1), Decimal(7))]
