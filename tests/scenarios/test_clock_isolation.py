"""One subscription, customer or invoice that cannot be billed never stops the others
(issue 13): the tick bills the rest, records the failure on a `failed` invoice with its
error_details, and a later tick completes that very invoice once the cause is gone.

The unbillable states are written straight into the database, as data stored before
the API bounded such values: a trial of 99999999 days (its end is past year 9999) and
an event of 10^20 units on a charge of 0.01 (10^20 cents: beyond BIGINT).
Each test has a database of its own: the failures it leaves must not reach other tests'
ticks.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from typer.testing import CliRunner

from meterbill.cli import app
from meterbill.clock import TickReport
from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.events.schemas import EventInput
from meterbill.events.service import insert_events
from meterbill.invoices.models import ErrorDetail, Fee, InvoiceSubscription
from meterbill.plans.models import Charge, Plan
from tests.conftest import make_org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.wallets import Wallets, standard

HUGE_UNITS = "100000000000000000000"  # 10^20: at 0.01 EUR, 10^20 cents
BILLING_DAY = utc(2024, 2, 1, 1)


def _org(database: Database, name: str) -> Billing:
    return Billing(database, make_org(database, name))


def _huge_event(billing: Billing, subscription: str, at: datetime) -> None:
    """Stored by the event service itself, below the API's door."""
    event = EventInput(f"{subscription}-huge", subscription, "units", at,
                       {"units": HUGE_UNITS}, None)  # fmt: skip
    with billing.database.transaction() as session:
        insert_events(session, billing.org.id, [event], at)


def _plan_with_units(billing: Billing, amount: str = "0.01") -> None:
    units = billing.metric("units", "sum_agg", field_name="units")
    billing.plan("p", [standard(units, amount)], amount_cents=1_000)


def _set_charge_amount(billing: Billing, amount: str) -> None:
    with billing.database.transaction() as session:
        plan_id = session.scalars(select(Plan.id).where(Plan.organization_id == billing.org.id))
        session.execute(
            update(Charge)
            .where(Charge.plan_id.in_(list(plan_id)))
            .values(properties={"amount": amount})
        )


def _set_trial(billing: Billing, days: int | None) -> None:
    with billing.database.transaction() as session:
        session.execute(
            update(Plan).where(Plan.organization_id == billing.org.id).values(trial_period=days)
        )


def _errors(billing: Billing, invoice_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    with billing.database.transaction(write=False) as session:
        return [
            (detail.error_code, detail.details)
            for detail in session.scalars(
                select(ErrorDetail).where(ErrorDetail.invoice_id == invoice_id)
            )
        ]


def _keys(billing: Billing, invoice_id: uuid.UUID) -> list[tuple[str, str]]:
    with billing.database.transaction(write=False) as session:
        return [
            (entry.invoicing_reason, entry.boundary)
            for entry in session.scalars(
                select(InvoiceSubscription).where(InvoiceSubscription.invoice_id == invoice_id)
            )
        ]


def _failures(report: TickReport) -> list[tuple[str, str]]:
    return sorted((failure.job, failure.error) for failure in report.failures)


DATE_ERROR = "OverflowError: date value out of range"
AMOUNT_ERROR = f"ValueOutOfRange: amount_cents is out of range: {HUGE_UNITS}"


def test_unbillable_subscriptions_fail_alone_and_are_completed_once_fixed(
    fresh: Database,
) -> None:
    ordinary, trial, huge = (_org(fresh, name) for name in ("Ordinary", "Trial", "Huge"))
    for billing in (ordinary, trial, huge):
        _plan_with_units(billing)
        billing.customer("cus", timezone="UTC")
        billing.subscribe("cus", "p", "sub", utc(2024, 1, 1))
    ordinary.events("sub", "units", (utc(2024, 1, 10), {"units": 250}))
    _set_trial(trial, 99_999_999)
    _huge_event(huge, "sub", utc(2024, 1, 10))

    first = ordinary.tick(BILLING_DAY)
    # The ordinary organization is billed: 10.00 plus 250 units at 0.01.
    [billed] = ordinary.invoices()
    assert first.billing.invoices == [billed.id]
    assert (billed.status, billed.total_amount_cents, billed.number[-8:]) == (
        "finalized", 1_250, "-001-001")  # fmt: skip
    # The two others have a failed invoice each: no fees, no number, the error recorded.
    assert _failures(first) == sorted(
        [("bill_due_subscriptions", DATE_ERROR), ("bill_due_subscriptions", AMOUNT_ERROR)]
    )
    [trial_failed], [huge_failed] = trial.invoices(), huge.invoices()
    for owner, failed, error in ((trial, trial_failed, DATE_ERROR),
                                 (huge, huge_failed, AMOUNT_ERROR)):  # fmt: skip
        assert (failed.status, failed.number[-6:], failed.total_amount_cents, failed.fees) == (
            "failed", "-DRAFT", 0, [])  # fmt: skip
        assert _errors(owner, failed.id) == [("invoice_generation_error", {"error": error})]
    # Each failed invoice holds its billing day's key, and shows the period it bills.
    assert _keys(trial, trial_failed.id) == [("subscription_periodic", "2024-02-01")]
    assert [(p["from"], p["charges_to"]) for p in trial_failed.periods] == [
        (utc(2024, 1, 1), datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC))]  # fmt: skip
    assert _keys(huge, huge_failed.id) == [("subscription_periodic", "2024-02-01")]
    assert {failure.ids["invoice"] for failure in first.failures} == {
        str(trial_failed.id), str(huge_failed.id)}  # fmt: skip

    # A later tick tries them again (and fails again), and bills nothing twice.
    second = ordinary.tick(utc(2024, 2, 1, 2))
    assert second.billing.invoices == [] and second.billing.retried == []
    assert _failures(second) == sorted(
        [("retry_failed_invoices", DATE_ERROR), ("retry_failed_invoices", AMOUNT_ERROR)]
    )
    assert [len(b.invoices()) for b in (ordinary, trial, huge)] == [1, 1, 1]
    assert [i.status for i in trial.invoices() + huge.invoices()] == ["failed", "failed"]

    # Once the data is corrected, the next tick completes the same invoices, once.
    _set_trial(trial, None)
    _set_charge_amount(huge, "0.00000001")  # 10^20 units: 10^12 EUR
    third = ordinary.tick(utc(2024, 2, 1, 3))
    assert third.failures == [] and third.billing.invoices == []
    assert sorted(third.billing.retried) == sorted([trial_failed.id, huge_failed.id])
    [trial_done], [huge_done] = trial.invoices(), huge.invoices()
    assert (trial_done.id, trial_done.status, trial_done.total_amount_cents) == (
        trial_failed.id, "finalized", 1_000)  # fmt: skip
    assert (huge_done.id, huge_done.status, huge_done.total_amount_cents) == (
        huge_failed.id, "finalized", 100_000_000_001_000)  # fmt: skip
    assert [i.number[-8:] for i in (trial_done, huge_done)] == ["-001-001", "-001-001"]
    assert (huge_done.issuing_date.isoformat(), huge_done.periods[0]["charges_from"]) == (
        "2024-02-01", utc(2024, 1, 1))  # fmt: skip
    assert _errors(trial, trial_done.id) == [] and _errors(huge, huge_done.id) == []
    assert ordinary.tick(utc(2024, 2, 1, 4)).billing.retried == []

    # The next billing day bills everyone once more, normally.
    march = ordinary.tick(utc(2024, 3, 1, 1))
    assert march.failures == [] and len(march.billing.invoices) == 3
    assert [[i.total_amount_cents for i in b.invoices()] for b in (ordinary, trial, huge)] == [
        [1_250, 1_000], [1_000, 1_000], [100_000_000_001_000, 1_000]]  # fmt: skip


def test_a_draft_that_cannot_be_finalized_does_not_stop_the_later_jobs(fresh: Database) -> None:
    billing = Wallets(fresh, make_org(fresh))
    _plan_with_units(billing)
    billing.customer("late", timezone="UTC", invoice_grace_period=2)
    billing.subscribe("late", "p", "sub", utc(2024, 1, 1))
    billing.customer("saver", timezone="UTC")
    wallet = billing.wallet("saver", utc(2024, 1, 1), granted_credits="10",
                            expiration_at="2024-02-03T00:00:00Z")  # fmt: skip
    billing.tick(BILLING_DAY)
    [draft] = billing.invoices("late")
    assert (draft.status, draft.total_amount_cents) == ("draft", 1_000)
    # A late event, stored before finalization rebuilds the draft.
    _huge_event(billing, "sub", utc(2024, 1, 20))

    report = billing.tick(utc(2024, 2, 3, 1))
    assert _failures(report) == [("finalize_due_drafts", AMOUNT_ERROR)]
    assert report.failures[0].ids == {"invoice": str(draft.id),
                                      "customer": str(_customer_id(billing, "late"))}  # fmt: skip
    # The wallets' job, after finalization, still ran.
    assert report.expired_wallets == [wallet]
    assert billing.read(wallet, utc(2024, 2, 3, 1))["status"] == "terminated"
    # The draft stays a draft as it was, with the error; the next tick tries again.
    [still] = billing.invoices("late")
    assert (still.status, still.total_amount_cents) == ("draft", 1_000)
    assert _errors(billing, draft.id) == [("invoice_generation_error", {"error": AMOUNT_ERROR})]
    assert _failures(billing.tick(utc(2024, 2, 3, 2))) == [("finalize_due_drafts", AMOUNT_ERROR)]

    _set_charge_amount(billing, "0.00000001")
    fixed = billing.tick(utc(2024, 2, 3, 3))
    assert fixed.failures == [] and fixed.billing.finalized == [draft.id]
    [done] = billing.invoices("late")
    assert (done.status, done.total_amount_cents, done.number[-8:]) == (
        "finalized", 100_000_000_001_000, "-001-001")  # fmt: skip
    assert _errors(billing, draft.id) == []


def _customer_id(billing: Billing, external_id: str) -> uuid.UUID:
    with billing.database.transaction(write=False) as session:
        return session.scalars(
            select(Customer.id).where(
                Customer.organization_id == billing.org.id, Customer.external_id == external_id
            )
        ).one()


def test_an_event_that_cannot_be_billed_in_advance_fails_alone(fresh: Database) -> None:
    billing = _org(fresh, "Advance")
    units = billing.metric("units", "sum_agg", field_name="units")
    billing.plan("p", [standard(units, "0.01", pay_in_advance=True, invoiceable=False)])
    for customer in ("big", "small"):
        billing.customer(customer, timezone="UTC")
        billing.subscribe(customer, "p", f"sub-{customer}", utc(2024, 1, 1))
    _huge_event(billing, "sub-big", utc(2024, 1, 10))
    billing.events("sub-small", "units", (utc(2024, 1, 11), {"units": 300}))
    report = billing.tick(utc(2024, 1, 12))
    assert _failures(report) == [("bill_pending_events", AMOUNT_ERROR)]
    assert report.failures[0].ids["event"] == "sub-big-huge"
    # The other event was billed: 300 units at 0.01, a fee on no invoice.
    [fee_id] = report.in_advance.fees
    with billing.database.transaction(write=False) as session:
        fee = session.get(Fee, fee_id)
        assert fee is not None and (fee.amount_cents, fee.invoice_id) == (300, None)
    # Still pending: the next tick tries it again.
    assert _failures(billing.tick(utc(2024, 1, 12, 1))) == [("bill_pending_events", AMOUNT_ERROR)]


def test_meterbill_tick_prints_the_failures_and_exits_0(fresh: Database) -> None:
    billing = _org(fresh, "Cli")
    for code, customer in (("p", "a"), ("q", "b")):
        billing.plan(code, [], amount_cents=1_000)
        billing.customer(customer, timezone="UTC")
        billing.subscribe(customer, code, f"sub-{customer}", utc(2024, 1, 1))
    with fresh.transaction() as session:
        session.execute(update(Plan).where(Plan.code == "q").values(trial_period=99_999_999))
    result = CliRunner().invoke(
        app, ["tick", "--now", "2024-02-01T01:00:00Z"], env={"METERBILL_DATABASE_URL": fresh.url}
    )
    assert result.exit_code == 0, result.output
    summary, failed = result.output.splitlines()
    assert summary.endswith("invoices 1, retried 0, finalized 0, overdue 0, failures 1")
    assert failed.startswith("failed: bill_due_subscriptions (customer ")
    assert failed.endswith(f"): {DATE_ERROR}")
    assert sorted(invoice.status for invoice in billing.invoices()) == ["failed", "finalized"]
