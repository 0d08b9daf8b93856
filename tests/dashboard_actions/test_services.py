"""The service functions behind the dashboard's actions and reports, on both databases:
each gives the figures of the API path it reuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from meterbill.add_ons.schemas import parse_add_on
from meterbill.add_ons.service import create_add_on
from meterbill.analytics.service import (
    CurrencyTotal,
    MonthlyAmount,
    billing_overview,
    monthly_gross_revenue,
)
from meterbill.core.db import Database
from meterbill.core.errors import NotFound
from meterbill.coupons.schemas import parse_applied_coupon, parse_coupon
from meterbill.coupons.service import applicable_coupons, apply_coupon, create_coupon
from meterbill.customers.service import find_customer
from meterbill.invoices.models import Invoice
from meterbill.invoices.one_off import (
    create_one_off_invoice,
    parse_one_off,
    preview_one_off_invoice,
)
from meterbill.plans.service import assignable_plans
from meterbill.usage.report import usage_report
from meterbill.usage.schemas import customer_usage_object
from tests.api.test_analytics import M0, M1, TODAY, Books, gross, overdue
from tests.conftest import Org
from tests.db.test_current_usage import Setup, utc


@pytest.fixture
def setup(database: Database, org: Org) -> Setup:
    return Setup(database, org)


# Billing overview


def test_billing_overview_adds_up_the_analytics_endpoints(
    database: Database, org: Org, http: httpx.Client
) -> None:
    books = Books(database, org)
    books.created(M1)
    first = books.invoice("cus", issued=M1, total=10_000, paid=10_000, payment_status="succeeded")
    books.credit_note(first, refund=1_000)
    books.invoice("cus", issued=M0, total=2_500)
    late = books.invoice("cus", issued=M1, due=M1, total=4_000, paid=500, overdue=True)
    books.credit_note(late, offset=1_200)
    books.invoice("cus", issued=M0, due=M0, total=900, overdue=True)
    books.invoice("cus", issued=M0, total=700, currency="USD")
    books.invoice("other", issued=M0, total=123_456, overdue=True)
    with database.transaction(write=False) as session:
        overview = billing_overview(session, org.id, "cus", utc_now())
        series = monthly_gross_revenue(session, org.id, "cus", "EUR", utc_now(), months=3)
    # 10 000 - 1 000 + 2 500 + 4 000 + 900 = 16 400 EUR over 4 invoices.
    assert overview.gross_revenue == [
        CurrencyTotal("EUR", 16_400, 4), CurrencyTotal("USD", 700, 1)
    ]  # fmt: skip
    # (4 000 - 500 - 1 200) + 900 = 3 200 over 2 invoices.
    assert overview.overdue == [CurrencyTotal("EUR", 3_200, 2)]
    # The same figures as the endpoints filtered by the customer.
    rows = gross(http, external_customer_id="cus")
    for total in overview.gross_revenue:
        mine = [row for row in rows if row["currency"] == total.currency]
        assert sum(row["amount_cents"] for row in mine) == total.amount_cents
        assert sum(row["invoices_count"] for row in mine) == total.invoices_count
    late_rows = overdue(http, external_customer_id="cus")
    assert sum(row["amount_cents"] for row in late_rows) == 3_200
    assert sum(len(row["lago_invoice_ids"]) for row in late_rows) == 2
    # Three months back, the organization's creation month first: M1, M0 (no earlier).
    assert series == [
        MonthlyAmount(M1, 10_000 - 1_000 + 4_000, 2), MonthlyAmount(M0, 2_500 + 900, 2)
    ]  # fmt: skip


def utc_now() -> datetime:
    return datetime.now(UTC)


def test_billing_overview_of_a_customer_without_invoices(database: Database, org: Org) -> None:
    books = Books(database, org)
    books.customer("quiet")
    with database.transaction(write=False) as session:
        overview = billing_overview(session, org.id, "quiet", utc_now())
        series = monthly_gross_revenue(session, org.id, "quiet", "EUR", utc_now(), months=2)
    assert (overview.gross_revenue, overview.overdue) == ([], [])
    assert [item.amount_cents for item in series] == [0] * len(series)
    assert series[-1].month == date(TODAY.year, TODAY.month, 1)


# Current usage report


def test_usage_report_is_the_current_usage_of_each_active_subscription(setup: Setup) -> None:
    storage = setup.metric("storage", "sum_agg", field_name="gb",
                           filters=[{"key": "region", "values": ["us", "eu"]}])  # fmt: skip
    calls = setup.metric("calls", "count_agg")
    setup.plan("p", [
        {"billable_metric_id": storage, "charge_model": "standard", "properties": {"amount": "1"},
         "filters": [{"values": {"region": ["us"]}, "properties": {"amount": "2"}}]},
        {"billable_metric_id": calls, "charge_model": "standard",
         "properties": {"amount": "0.5"}},
    ])  # fmt: skip
    setup.plan("q", [{"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": "3"}}])  # fmt: skip
    setup.customer("cus", timezone="Europe/Paris")
    setup.subscribe("cus", "p", "sub", utc(2024, 3, 1))
    setup.subscribe("cus", "q", "sub2", utc(2024, 3, 5, 10))
    setup.events("sub", "storage", (utc(2024, 3, 2, 8), {"gb": 3, "region": "us"}),
                 (utc(2024, 3, 2, 23, 30), {"gb": "1.5", "region": "eu"}),
                 (utc(2024, 3, 4), {"gb": 2}))  # fmt: skip
    setup.events("sub", "calls", *[(utc(2024, 3, 3, hour), {}) for hour in (0, 12, 22, 23)])
    setup.events("sub2", "calls", (utc(2024, 3, 6), {}))
    now = utc(2024, 3, 6, 12)
    with setup.database.transaction(write=False) as session:
        blocks = usage_report(session, setup.org.id, "cus", now)
        rendered = [customer_usage_object(block.usage) for block in blocks if block.usage]
    assert [block.subscription.external_id for block in blocks] == ["sub", "sub2"]
    assert rendered == [setup.usage("cus", "sub", now), setup.usage("cus", "sub2", now)]
    first = blocks[0]
    # The period in the customer's time zone: from the subscription's start (1 am in
    # Paris), to the end of March (summer time by then).
    assert first.period_from is not None and first.period_to is not None
    assert (first.period_from.isoformat(), first.period_to.isoformat()) == (
        "2024-03-01T01:00:00+01:00", "2024-03-31T23:59:59+02:00",
    )  # fmt: skip
    assert rendered[0]["amount_cents"] == 600 + 350 + 200
    # Daily series in Paris days, up to today: 23:30 UTC on the 2nd is the 3rd in Paris,
    # and 23:00 UTC on the 3rd is the 4th.
    by_label = {series.label: series for series in first.daily}
    # The whole period is shown, the days to come at 0.
    assert [(d.day, v) for d, v in by_label["Storage"].days] == [
        (1, Decimal(0)), (2, Decimal(3)), (3, Decimal("1.5")), (4, Decimal(2)),
    ] + [(day, Decimal(0)) for day in range(5, 32)]  # fmt: skip
    assert [v for _d, v in by_label["Calls"].days] == [0, 0, 3, 1] + [0] * 27
    assert by_label["Calls"].measure == "units"
    # The second subscription started on the 5th at 11:00 in Paris.
    assert [(d.day, v) for d, v in blocks[1].daily[0].days][:3] == [(5, 0), (6, 1), (7, 0)]
    assert len(blocks[1].daily[0].days) == 27


@pytest.mark.parametrize("timezone", ["Asia/Kolkata", "UTC", "America/New_York"])
def test_daily_series_from_rollups_and_scans_agree(setup: Setup, timezone: str) -> None:
    # Kolkata's days begin at hh:30 UTC: its days are scanned, the others read rollups
    # for whole hours (and scan the subscription's first, partial hour).
    calls = setup.metric("calls", "count_agg")
    seats = setup.metric("seats", "unique_count_agg", field_name="user")
    setup.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                      "properties": {"amount": "1"}},
                     {"billable_metric_id": seats, "charge_model": "standard",
                      "properties": {"amount": "1"}}])  # fmt: skip
    setup.customer("cus", timezone=timezone)
    setup.subscribe("cus", "p", "sub", utc(2024, 3, 1, 0, 10))
    moments = [utc(2024, 3, 2, hour, minute) for hour in range(24) for minute in (0, 45)]
    setup.events("sub", "calls", *[(moment, {}) for moment in moments])
    setup.events("sub", "seats", *[(moment, {"user": "u"}) for moment in moments[:5]])
    now = utc(2024, 3, 3, 12)
    with setup.database.transaction(write=False) as session:
        [block] = usage_report(session, setup.org.id, "cus", now)
    assert block.usage is not None
    zone = ZoneInfo(timezone)
    expected: dict[date, int] = {}
    for moment in moments:
        expected[moment.astimezone(zone).date()] = (
            expected.get(moment.astimezone(zone).date(), 0) + 1
        )
    first = block.usage.period.start.astimezone(zone).date()
    last = block.usage.period.end.astimezone(zone).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    by_label = {series.label: series for series in block.daily}
    assert by_label["Calls"].days == [(day, Decimal(expected.get(day, 0))) for day in days]
    # Not additive: the events of each day.
    seat_days: dict[date, int] = {}
    for moment in moments[:5]:
        seat_days[moment.astimezone(zone).date()] = (
            seat_days.get(moment.astimezone(zone).date(), 0) + 1
        )
    assert by_label["Seats"].measure == "events"
    assert by_label["Seats"].days == [(day, Decimal(seat_days.get(day, 0))) for day in days]


# One-off invoice preview


def test_one_off_preview_is_the_invoice_creation_rolled_back(setup: Setup) -> None:
    setup.tax("vat", "20")
    setup.tax("extra", "5.5")
    setup.customer("cus", currency="EUR")
    with setup.database.transaction() as session:
        create_add_on(session, setup.org.id, parse_add_on(
            {"name": "Setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR",
             "tax_codes": ["vat"]}, creating=True), utc(2024, 1, 1))  # fmt: skip
        create_add_on(session, setup.org.id, parse_add_on(
            {"name": "Training", "code": "training", "amount_cents": 333,
             "amount_currency": "EUR"}, creating=True), utc(2024, 1, 1))  # fmt: skip
    body = {"external_customer_id": "cus", "currency": "EUR", "fees": [
        {"add_on_code": "setup", "units": "2", "description": "Onboarding"},
        {"add_on_code": "training", "units": "1.5", "unit_amount_cents": 1_001,
         "tax_codes": ["vat", "extra"]},
    ]}  # fmt: skip
    now = utc(2024, 3, 6, 12)
    preview = preview_one_off_invoice(setup.database, setup.org.id, parse_one_off(body), now)
    with setup.database.transaction(write=False) as session:
        mine = Invoice.organization_id == setup.org.id
        assert session.scalar(select(func.count()).select_from(Invoice).where(mine)) == 0
        customer = find_customer(session, setup.org.id, "cus")
        assert customer.currency == "EUR"
    # 2 × 100.00 = 200.00 at 20 %; 1.5 × 10.01 = 15.015 → 15.02 at 25.5 %.
    assert [(line.name, line.units, line.unit_amount_cents, line.amount_cents, line.description)
            for line in preview.lines] == [
        ("Setup", Decimal(2), 10_000, 20_000, "Onboarding"),
        ("Training", Decimal("1.5"), 1_001, 1_502, None),
    ]  # fmt: skip
    assert preview.sub_total_excluding_taxes_amount_cents == 21_502
    assert preview.taxes_amount_cents == 4_000 + 300 + 83
    assert preview.total_amount_cents == 21_502 + 4_383
    with setup.database.transaction() as session:
        invoice = create_one_off_invoice(session, setup.org.id, parse_one_off(body), now)
        assert (invoice.total_amount_cents, invoice.taxes_amount_cents) == (
            preview.total_amount_cents, preview.taxes_amount_cents,
        )  # fmt: skip
        assert invoice.number.endswith("001")
    with pytest.raises(NotFound):
        preview_one_off_invoice(setup.database, setup.org.id, parse_one_off(
            {"external_customer_id": "cus", "fees": [{"add_on_code": "nope"}]}), now)  # fmt: skip


# Form helpers


def test_applicable_coupons_and_assignable_plans(setup: Setup) -> None:
    setup.customer("cus", currency="EUR")
    now = utc(2024, 3, 6)

    def coupon(code: str, **fields: Any) -> None:
        body = {"name": code.title(), "code": code, "frequency": "once",
                "expiration": "no_expiration", **fields}  # fmt: skip
        with setup.database.transaction() as session:
            create_coupon(session, setup.org.id, parse_coupon(body, creating=True), utc(2024, 1, 1))

    coupon("euros", coupon_type="fixed_amount", amount_cents=500, amount_currency="EUR")
    coupon("dollars", coupon_type="fixed_amount", amount_cents=500, amount_currency="USD")
    coupon("tenth", coupon_type="percentage", percentage_rate="10")
    coupon("once", coupon_type="percentage", percentage_rate="5", reusable=False)
    coupon("gone", coupon_type="percentage", percentage_rate="5", expiration="time_limit",
           expiration_at="2024-02-01T00:00:00Z")  # fmt: skip
    with setup.database.transaction() as session:
        apply_coupon(session, setup.org.id, parse_applied_coupon(
            {"external_customer_id": "cus", "coupon_code": "once"}), now)  # fmt: skip
    with setup.database.transaction(write=False) as session:
        customer = find_customer(session, setup.org.id, "cus")
        codes = [c.code for c in applicable_coupons(session, setup.org.id, customer, now)]
    assert codes == ["euros", "tenth"]
    setup.plan("zeta", [], interval="yearly")
    setup.plan("alpha", [])
    with setup.database.transaction(write=False) as session:
        assert [p.code for p in assignable_plans(session, setup.org.id)] == ["alpha", "zeta"]
