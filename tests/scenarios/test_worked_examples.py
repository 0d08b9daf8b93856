"""billing.md §14 worked examples, billed by the clock and read back from the database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from meterbill.core.db import Database
from meterbill.organizations.service import update_organization
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription, terminate_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


def standard(metric_id: str, amount: str, **fields: object) -> dict[str, object]:
    return {"billable_metric_id": metric_id, "charge_model": "standard",
            "properties": {"amount": amount}, **fields}  # fmt: skip


def test_e1_plan_two_charges_min_amount_coupon_three_taxes(
    billing: Billing, http: httpx.Client
) -> None:
    billing.tax("banking_rates", "10")
    billing.tax("sales_tax_fr", "0")
    billing.tax("sales_tax", "20")
    fx = billing.metric("fx_transfers", "sum_agg", field_name="total")
    cards = billing.metric("cards")
    billing.plan("p", [standard(fx, "1", tax_codes=["sales_tax_fr"]),
                       standard(cards, "30", min_amount_cents=5000, tax_codes=["sales_tax"])],
                 amount_cents=10_000, tax_codes=["banking_rates"])  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2023, 1, 1))
    billing.coupon("c", coupon_type="fixed_amount", amount_cents=1000, amount_currency="EUR",
                   frequency="once")  # fmt: skip
    billing.apply("cus", "c", utc(2023, 1, 2))
    billing.events("sub", "fx_transfers", (utc(2023, 1, 10), {"total": 50}))
    billing.events("sub", "cards", (utc(2023, 1, 11), {}))
    billing.tick(utc(2023, 1, 31, 23))
    assert billing.invoices() == []
    billing.tick(utc(2023, 2, 1, 1))
    [invoice] = billing.invoices()
    assert invoice.status == "finalized"
    assert invoice.billing_date == utc(2023, 2, 1).date()
    plan_fee = invoice.fee("p")
    fx_fee = invoice.fee("fx_transfers")
    card_fee = invoice.fee("cards")
    true_up = invoice.fee("cards", true_up=True)
    assert plan_fee.fee_type == "subscription"
    rows = [(fee.amount_cents, fee.precise_coupons_amount_cents, fee.taxes_amount_cents, fee.taxes)
            for fee in (plan_fee, fx_fee, card_fee, true_up)]  # fmt: skip
    assert rows == [
        (10_000, Decimal(500), 950, {"banking_rates": 950}),
        (5_000, Decimal(250), 0, {"sales_tax_fr": 0}),
        (3_000, Decimal(150), 570, {"sales_tax": 570}),
        (2_000, Decimal(100), 380, {"sales_tax": 380}),
    ]
    assert (fx_fee.units, card_fee.units, true_up.units) == (Decimal(50), Decimal(1), Decimal(1))
    assert (card_fee.events_count, true_up.events_count) == (1, 0)
    assert invoice.totals == (20_000, 1_000, 19_000, 1_900, 20_900, 20_900)
    assert invoice.credits == [("c", 1000)]
    assert invoice.applied_taxes == {
        "banking_rates": (950, 9_500), "sales_tax": (950, 4_750), "sales_tax_fr": (0, 4_750),
    }  # fmt: skip
    # The same figures through the API.
    body = http.get(f"/invoices/{invoice.id}").json()["invoice"]
    assert (body["fees_amount_cents"], body["coupons_amount_cents"], body["taxes_amount_cents"],
            body["sub_total_excluding_taxes_amount_cents"],
            body["sub_total_including_taxes_amount_cents"], body["total_amount_cents"]) == (
        20_000, 1_000, 1_900, 19_000, 20_900, 20_900)  # fmt: skip
    fees = sorted((fee["item"]["code"], fee["amount_cents"], fee["precise_coupons_amount_cents"],
                   fee["taxes_amount_cents"]) for fee in body["fees"])  # fmt: skip
    assert fees == [("cards", 2000, "100.0", 380), ("cards", 3000, "150.0", 570),
                    ("fx_transfers", 5000, "250.0", 0), ("p", 10000, "500.0", 950)]  # fmt: skip
    assert [(c["item"]["code"], c["amount_cents"]) for c in body["credits"]] == [("c", 1000)]


def test_e2_coupon_ordering_and_spreading(billing: Billing) -> None:
    billing.tax("ten", "10")
    billing.tax("twenty", "20")
    metrics = {n: billing.metric(f"bm{n}", "sum_agg", field_name="v") for n in range(1, 9)}
    tax = {n: "twenty" if n in (2, 6) else "ten" for n in range(1, 9)}
    for plan, numbers in (("p1", range(1, 5)), ("p2", range(5, 9))):
        billing.plan(plan, [standard(metrics[n], "1", tax_codes=[tax[n]]) for n in numbers])
    billing.subscribe("cus", "p1", "s1", utc(2023, 1, 1))
    billing.subscribe("cus", "p2", "s2", utc(2023, 1, 1))
    for n in range(1, 9):
        units = 10 * (n if n <= 4 else n - 4)
        billing.events("s1" if n <= 4 else "s2", f"bm{n}", (utc(2023, 1, 5), {"v": units}))
    once = {"coupon_type": "fixed_amount", "amount_currency": "EUR", "frequency": "once"}
    billing.coupon("c1", amount_cents=2000, applies_to={"billable_metric_codes": ["bm1", "bm2"]},
                   **once)  # fmt: skip
    billing.coupon("c2", amount_cents=1000, applies_to={"plan_codes": ["p2"]}, **once)
    billing.coupon("c3", amount_cents=500, **once)
    # Applied in the reverse of the order they are taken in: the kind decides first.
    billing.apply("cus", "c3", utc(2023, 1, 2))
    billing.apply("cus", "c2", utc(2023, 1, 3))
    billing.apply("cus", "c1", utc(2023, 1, 4))
    billing.tick(utc(2023, 2, 1, 1))
    [invoice] = billing.invoices()
    fees = [invoice.fee(f"bm{n}") for n in range(1, 9)]
    assert [fee.amount_cents for fee in fees] == [1000, 2000, 3000, 4000] * 2
    assert [round(fee.precise_coupons_amount_cents, 5) for fee in fees] == [
        Decimal(value) for value in ("676.47059", "1352.94118", "88.23529", "117.64706",
                                     "126.47059", "252.94118", "379.41176", "505.88235")
    ]  # fmt: skip
    assert [fee.taxes_amount_cents for fee in fees] == [32, 129, 291, 388, 87, 349, 262, 349]
    assert sum(fee.taxes_amount_cents for fee in fees) == 1887
    assert invoice.credits == [("c1", 2000), ("c2", 1000), ("c3", 500)]
    assert invoice.totals == (20_000, 3_500, 16_500, 1_889, 18_389, 18_389)


def terminate(billing: Billing, external_id: str, at: datetime) -> None:
    with billing.database.transaction() as session:
        terminate_subscription(session, billing.org.id, external_id, "active", at)


def upgrade(billing: Billing, customer: str, plan: str, external_id: str, at: datetime) -> None:
    body = {"external_customer_id": customer, "plan_code": plan, "external_id": external_id}
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True), at)


@pytest.mark.parametrize(
    ("interval", "started", "trial", "billed_on", "days", "amount"),
    [
        ("monthly", utc(2022, 3, 15), None, date(2022, 4, 1), 17, 55),
        ("monthly", utc(2022, 3, 15), 3, date(2022, 4, 1), 14, 45),
        ("monthly", utc(2022, 1, 1, 0, 1), 3, date(2022, 2, 1), 28, 90),
        ("monthly", utc(2022, 1, 1, 0, 1), 45, date(2022, 2, 1), 0, 0),
        ("weekly", utc(2022, 6, 22), None, date(2022, 6, 27), 5, 71),
    ],
)
def test_e11_subscription_fee_proration(
    billing: Billing, interval: str, started: datetime, trial: int | None, billed_on: date,
    days: int, amount: int,
) -> None:  # fmt: skip
    extra = {} if trial is None else {"trial_period": trial}
    billing.plan("p", [], amount_cents=100, interval=interval, **extra)
    billing.subscribe("cus", "p", "sub", started)
    day_before = billed_on - timedelta(days=1)
    billing.tick(utc(day_before.year, day_before.month, day_before.day, 23))
    assert billing.invoices() == []
    billing.tick(utc(billed_on.year, billed_on.month, billed_on.day, 0, 30))
    [invoice] = billing.invoices()
    [fee] = invoice.fees
    assert (fee.fee_type, fee.amount_cents) == ("subscription", amount)
    # The plan fee's range begins at the start of the start day (UTC customer).
    assert fee.from_datetime == started.replace(hour=0, minute=0)
    assert invoice.billing_date == billed_on
    full_days = 31 if interval == "monthly" else 7
    # Stored exactly to 15 places (PostgreSQL NUMERIC scale); days × day price.
    assert round(fee.precise_amount_cents, 12) == round(Decimal(100) * days / full_days, 12)
    assert invoice.totals == (amount, 0, amount, 0, amount, amount)


def test_e12_quarterly_termination_in_arrears(billing: Billing) -> None:
    # Q2 2024 has 91 days: 91 000 / 91 = 1 000 a day; May 20 … Jun 20 is 32 days.
    billing.plan("q", [], amount_cents=91_000, interval="quarterly")
    billing.subscribe("cus", "q", "sub", utc(2024, 5, 20))
    terminate(billing, "sub", utc(2024, 6, 20, 15))
    [invoice] = billing.invoices()
    [fee] = invoice.fees
    assert (fee.amount_cents, fee.from_datetime, fee.to_datetime) == (
        32_000, utc(2024, 5, 20), utc(2024, 6, 20, 15))  # fmt: skip
    assert invoice.periods[0]["reason"] == "subscription_terminating"
    assert invoice.totals == (32_000, 0, 32_000, 0, 32_000, 32_000)


def test_e12_same_figure_after_an_upgrade_from_an_anniversary_plan(billing: Billing) -> None:
    billing.plan("small", [], amount_cents=1_000)
    billing.plan("q", [], amount_cents=91_000, interval="quarterly")
    billing.subscribe("cus", "small", "sub", utc(2024, 1, 15), billing_time="anniversary")
    upgrade(billing, "cus", "q", "sub", utc(2024, 5, 20))
    terminate(billing, "sub", utc(2024, 6, 20, 15))
    invoices = billing.invoices()
    # No clock ran: the upgrade bills the missed anniversary days first (Feb 15 … May 15).
    assert [invoice.billing_date for invoice in invoices] == [
        date(2024, 2, 15), date(2024, 3, 15), date(2024, 4, 15), date(2024, 5, 15),
        date(2024, 5, 20), date(2024, 6, 20)]  # fmt: skip
    assert [invoice.fees_amount_cents for invoice in invoices[:4]] == [1_000] * 4
    upgraded, terminated = invoices[4:]
    # The old plan's last days: Apr 15 … May 19 is 35 days, but its period is
    # Apr 15 … May 14 (30 days) then May 15 … Jun 14 (31 days): May 15 … May 19 = 5/31.
    [old_fee] = upgraded.fees
    assert (old_fee.item_code, old_fee.amount_cents) == ("small", 161)
    # The anniversary quarter Apr 15 … Jul 14 also has 91 days.
    [fee] = terminated.fees
    assert (fee.item_code, fee.amount_cents) == ("q", 32_000)


@pytest.mark.parametrize(
    ("timezone", "billing_time", "total", "fee"),
    [
        ("UTC", "calendar", 4_500, 3_750),
        ("America/Los_Angeles", "calendar", 4_715, 3_929),
        ("UTC", "anniversary", 6_000, 5_000),
    ],
)
def test_e13_start_invoice_of_a_plan_paid_in_advance(
    billing: Billing, timezone: str, billing_time: str, total: int, fee: int
) -> None:
    billing.tax("vat", "20", applied_to_organization=True)
    billing.plan("adv", [], amount_cents=5_000, pay_in_advance=True)
    billing.customer("cus", timezone=timezone)
    # 05:00Z on Feb 8 is still Feb 7 in Los Angeles: 22 days of 28 there, 21 in UTC.
    billing.subscribe("cus", "adv", "sub", utc(2023, 2, 8, 5), billing_time=billing_time)
    [invoice] = billing.invoices()
    assert invoice.periods[0]["reason"] == "subscription_starting"
    [plan_fee] = invoice.fees
    assert plan_fee.amount_cents == fee
    assert invoice.totals == (fee, 0, fee, total - fee, total, total)
    assert invoice.status == "finalized"


def test_termination_on_a_billing_day_before_the_clock_ran_bills_the_ended_period(
    billing: Billing,
) -> None:
    calls = billing.metric("calls")
    billing.plan("p", [standard(calls, "1")], amount_cents=3_100)
    billing.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    billing.events("sub", "calls", (utc(2024, 1, 5), {}), (utc(2024, 2, 1, 5), {}))
    terminate(billing, "sub", utc(2024, 2, 1, 10))
    billing.tick(utc(2024, 2, 1, 11))
    # Ended less than a day after January, which no invoice held yet: the termination
    # invoice bills January alone, as Lago's TerminatedDatesService (so Feb 1's hours
    # are not billed, nor their call).
    [january] = billing.invoices()
    assert [period["reason"] for period in january.periods] == ["subscription_terminating"]
    assert (january.periods[0]["charges_from"], january.periods[0]["charges_to"]) == (
        utc(2024, 1, 1), utc(2024, 1, 31, 23, 59, 59))  # fmt: skip
    # January: 31 EUR plan + 1 call.
    assert january.fees_amount_cents == 3_200


def set_organization(billing: Billing, **values: object) -> str:
    with billing.database.transaction() as session:
        organization = update_organization(session, billing.org.id, values, utc(2020, 1, 1))
        return organization.document_number_prefix


def test_e17_numbering_per_customer(billing: Billing) -> None:
    prefix = set_organization(billing)
    assert prefix == "ACM-" + billing.org.id.hex[-4:].upper()
    billing.plan("adv", [], amount_cents=1_000, pay_in_advance=True)
    for number in range(1, 5):
        billing.customer(f"other-{number}")
    billing.customer("fifth")
    billing.subscribe("other-1", "adv", "o1", utc(2024, 1, 3))
    for number in range(1, 4):
        billing.subscribe("fifth", "adv", f"s{number}", utc(2024, 1, 3 + number))
    assert [invoice.number for invoice in billing.invoices("fifth")] == [
        f"{prefix}-005-001", f"{prefix}-005-002", f"{prefix}-005-003"]  # fmt: skip
    assert [invoice.number for invoice in billing.invoices("other-1")] == [f"{prefix}-001-001"]


def test_e17_numbering_per_billing_entity_and_drafts(billing: Billing) -> None:
    prefix = set_organization(billing, document_numbering="per_billing_entity")
    billing.plan("adv", [], amount_cents=1_000, pay_in_advance=True)
    billing.customer("late", invoice_grace_period=2)
    billing.subscribe("late", "adv", "draft", utc(2024, 1, 2))
    for number in range(1, 12):
        billing.subscribe(f"cus-{number % 3}", "adv", f"s{number}", utc(2024, 1, 3 + number))
    [draft] = billing.invoices("late")
    assert (draft.status, draft.number) == ("draft", f"{prefix}-DRAFT")
    numbers = [invoice.number for invoice in billing.invoices() if invoice.customer != "late"]
    assert numbers == [f"{prefix}-202401-{n:03d}" for n in range(1, 12)]
    # The draft is finalized after its grace period (Jan 4): the 12th of the entity.
    billing.tick(utc(2024, 1, 31, 12))
    [final] = billing.invoices("late")
    assert (final.status, final.number) == ("finalized", f"{prefix}-202401-012")
    billing.subscribe("cus-1", "adv", "february", utc(2024, 2, 1, 12))
    february = [i for i in billing.invoices("cus-1") if i.billing_date == date(2024, 2, 1)]
    assert [invoice.number for invoice in february] == [f"{prefix}-202402-013"]


def test_grace_period_draft_then_finalized_with_late_events_and_coupons(billing: Billing) -> None:
    calls = billing.metric("calls")
    billing.tax("vat", "20", applied_to_organization=True)
    billing.plan("p", [standard(calls, "1")], amount_cents=1_000)
    billing.customer("cus", invoice_grace_period=3, net_payment_term=10)
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 1))
    billing.coupon("c", coupon_type="fixed_amount", amount_cents=300, amount_currency="EUR",
                   frequency="once")  # fmt: skip
    billing.apply("cus", "c", utc(2024, 3, 2))
    billing.events("sub", "calls", *[(utc(2024, 3, day, 12), {}) for day in range(1, 11)])
    billing.tick(utc(2024, 4, 1, 2))
    [draft] = billing.invoices()
    # 10 calls at 1 EUR + 10 EUR plan; no coupon on a draft; 20 % tax.
    assert (draft.status, draft.number) == ("draft", draft.number.split("-DRAFT")[0] + "-DRAFT")
    assert draft.totals == (2_000, 0, 2_000, 400, 2_400, 2_400)
    assert draft.credits == []
    assert (draft.issuing_date, draft.payment_due_date) == (date(2024, 4, 4), date(2024, 4, 14))
    # An event of March 31 arrives late, during the grace period.
    billing.events("sub", "calls", (utc(2024, 3, 31, 23, 30), {}))
    billing.tick(utc(2024, 4, 3, 23))
    [still] = billing.invoices()
    assert (still.status, still.totals) == ("draft", draft.totals)
    billing.tick(utc(2024, 4, 4, 0, 30))
    [final] = billing.invoices()
    assert final.status == "finalized"
    assert final.number.endswith("-001-001")
    assert final.fee("calls").units == Decimal(11)
    # 2 100 of fees, 300 coupon, 20 % of 1 800 = 360.
    assert final.totals == (2_100, 300, 1_800, 360, 2_160, 2_160)
    assert final.credits == [("c", 300)]
    assert (final.issuing_date, final.payment_due_date) == (date(2024, 4, 4), date(2024, 4, 14))
    billing.tick(utc(2024, 4, 5))
    assert billing.invoices() == [final]


def test_minimum_commitment_true_up(billing: Billing) -> None:
    calls = billing.metric("calls")
    billing.tax("vat", "10")
    billing.plan("p", [standard(calls, "1")], amount_cents=1_000,
                 minimum_commitment={"amount_cents": 5_000, "tax_codes": ["vat"]})  # fmt: skip
    billing.subscribe("full", "p", "s-full", utc(2024, 1, 1))
    billing.subscribe("part", "p", "s-part", utc(2024, 4, 16))
    billing.events("s-full", "calls", *[(utc(2024, 1, day), {}) for day in range(1, 16)])
    billing.tick(utc(2024, 2, 1, 1))
    [january] = billing.invoices("full")
    # 10 EUR plan + 15 calls = 25 EUR: the commitment adds 25 EUR, taxed 10 % (its taxes).
    commitment = january.fee("minimum_commitment")
    assert (commitment.fee_type, commitment.amount_cents, commitment.taxes) == (
        "commitment", 2_500, {"vat": 250})  # fmt: skip
    assert january.totals == (5_000, 0, 5_000, 250, 5_250, 5_250)
    billing.events("s-full", "calls", *[(utc(2024, 2, 1, hour), {}) for hour in range(60 // 10)])
    billing.tick(utc(2024, 5, 1, 1))
    # April 16 … 30 is 15 days of 30: plan 500, commitment 2 500, true-up 2 000.
    [april] = billing.invoices("part")
    assert [(fee.fee_type, fee.amount_cents) for fee in april.fees] == [
        ("subscription", 500), ("commitment", 2_000)]  # fmt: skip
    # February: 10 EUR + 6 calls; March and April: 10 EUR each; all true-ups to 50 EUR.
    full = billing.invoices("full")
    assert [invoice.fees_amount_cents for invoice in full] == [5_000] * 4
    assert [invoice.fee("minimum_commitment").amount_cents for invoice in full[1:]] == [
        3_400, 4_000, 4_000]  # fmt: skip
