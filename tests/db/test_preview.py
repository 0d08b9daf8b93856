"""Invoice previews and forecasts: the clock rehearsed for one customer, nothing kept."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from meterbill.core.db import Database
from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.http import ApiContext
from meterbill.core.pagination import PageRequest
from meterbill.coupons.models import AppliedCoupon, Coupon
from meterbill.customers.models import Customer
from meterbill.events.models import Event
from meterbill.invoices.api import render_invoices
from meterbill.invoices.billing import _claim_with_owners
from meterbill.invoices.models import Fee, Invoice
from meterbill.invoices.preview import Render, forecast, parse_preview, preview_invoice
from meterbill.organizations.models import Organization
from meterbill.subscriptions.models import Subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

NOW = utc(2024, 3, 15, 12)


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    calls = billing.metric("calls")
    billing.plan("p", [{"billable_metric_id": calls, "charge_model": "standard",
                        "properties": {"amount": "2"}}], amount_cents=3100)  # fmt: skip
    billing.plan("big", [], amount_cents=6200)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 1))
    billing.events("sub", "calls", *((utc(2024, 3, day, 9), {}) for day in (2, 3, 4)))
    return billing


def _render(database: Database, org: Org) -> Render:
    ctx = ApiContext(database, org.id, NOW)
    return lambda session, invoices: render_invoices(session, invoices, ctx, full=True)


def _counts(database: Database) -> tuple[int, ...]:
    with database.transaction(write=False) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Invoice, Fee, Subscription, Customer, Coupon, AppliedCoupon, Event)
        )


def _preview(billing: Billing, body: dict[str, Any]) -> dict[str, Any]:
    before = _counts(billing.database)
    invoice = preview_invoice(
        billing.database, billing.org.id, parse_preview(body), NOW,
        _render(billing.database, billing.org),
    )  # fmt: skip
    assert _counts(billing.database) == before, "a preview wrote something"
    return invoice


def _forecast(billing: Billing, external_id: str, periods: int) -> list[dict[str, Any]]:
    render = _render(billing.database, billing.org)
    every = PageRequest(page=1, per_page=100)
    page = forecast(billing.database, billing.org.id, external_id, periods, NOW, render, every)
    return list(page.items)


def _totals(invoice: dict[str, Any]) -> tuple[int, int, int, int]:
    return (invoice["fees_amount_cents"], invoice["coupons_amount_cents"],
            invoice["taxes_amount_cents"], invoice["total_amount_cents"])  # fmt: skip


def _fees(invoice: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((fee["item"]["code"], fee["amount_cents"]) for fee in invoice["fees"])


def test_new_subscription_in_arrears_with_a_preview_coupon(billing: Billing) -> None:
    invoice = _preview(billing, {
        "customer": {"external_id": "cus"}, "plan_code": "big",
        "coupons": [{"code": "ten", "coupon_type": "percentage", "percentage_rate": "10"}],
    })  # fmt: skip
    # Mar 15..31 of 6 200 over 31 days = 3 400; 10 % off.
    assert invoice["issuing_date"] == "2024-04-01"
    assert _fees(invoice) == [("big", 3400)]
    assert _totals(invoice) == (3400, 340, 0, 3060)
    assert invoice["status"] == "finalized"


def test_new_customer_never_saved(billing: Billing) -> None:
    invoice = _preview(billing, {"customer": {"name": "Someone", "timezone": "Asia/Tokyo"},
                                 "plan_code": "big", "billing_time": "anniversary"})  # fmt: skip
    # Anniversary from Mar 15 (Tokyo): the whole month, billed Apr 15.
    assert (invoice["issuing_date"], _totals(invoice)) == ("2024-04-15", (6200, 0, 0, 6200))
    assert invoice["customer"]["name"] == "Someone"


def test_next_invoice_of_a_subscription_counts_usage_so_far(billing: Billing) -> None:
    invoice = _preview(billing, {"customer": {"external_id": "cus"},
                                 "subscriptions": {"external_ids": ["sub"]}})  # fmt: skip
    assert _fees(invoice) == [("calls", 600), ("p", 3100)]
    assert invoice["issuing_date"] == "2024-04-01"


def test_termination_and_upgrade_previews(billing: Billing) -> None:
    ended = _preview(billing, {"customer": {"external_id": "cus"}, "subscriptions": {
        "external_ids": ["sub"], "terminated_at": "2024-03-20T23:59:59Z"}})  # fmt: skip
    # Mar 1..20 of 3 100 = 2 000.
    assert _fees(ended) == [("calls", 600), ("p", 2000)]
    upgraded = _preview(billing, {"customer": {"external_id": "cus"}, "subscriptions": {
        "external_ids": ["sub"], "plan_code": "big"}})  # fmt: skip
    # The old plan to the day before the upgrade: Mar 1..14 = 1 400.
    assert _fees(upgraded) == [("calls", 600), ("p", 1400)]


def test_forecast_walks_billing_days_and_keeps_nothing(billing: Billing) -> None:
    with billing.database.transaction() as session:
        customer = session.scalar(
            select(Customer).where(
                Customer.external_id == "cus", Customer.organization_id == billing.org.id
            )
        )
        assert customer is not None
        customer.invoice_grace_period = 2
    before = _counts(billing.database)
    invoices = _forecast(billing, "sub", 3)
    assert _counts(billing.database) == before
    # Drafts of the grace period are shown as they will be finalized, dated +2 days.
    assert [(invoice["issuing_date"], invoice["status"], invoice["total_amount_cents"])
            for invoice in invoices] == [
        ("2024-04-03", "finalized", 3700), ("2024-05-03", "finalized", 3100),
        ("2024-06-03", "finalized", 3100)]  # fmt: skip


def test_forecast_stops_at_the_end_of_a_subscription(billing: Billing) -> None:
    with billing.database.transaction() as session:
        subscription = session.scalar(
            select(Subscription).where(
                Subscription.external_id == "sub", Subscription.organization_id == billing.org.id
            )
        )
        assert subscription is not None
        subscription.ending_at = utc(2024, 4, 10, 12)
    invoices = _forecast(billing, "sub", 5)
    # Apr 1 (March), then the termination invoice on Apr 10: 10/30 of 3 100 = 1 033.
    assert [(invoice["issuing_date"], invoice["fees_amount_cents"]) for invoice in invoices] == [
        ("2024-04-01", 3700), ("2024-04-10", 1033)]  # fmt: skip


def test_a_rehearsal_holds_none_of_the_locks_real_billing_takes(billing: Billing) -> None:
    """While a forecast rehearses (its invoices written, not yet rolled back), real
    billing claims the subscription (it is not passed over), and the numbering locks on
    the organization and the customer are free. The rehearsal's fees and invoices hold
    KEY SHARE on those rows: FOR NO KEY UPDATE does not wait for it, FOR UPDATE did."""
    with billing.database.transaction(write=False) as session:
        subscription = session.scalars(
            select(Subscription).where(
                Subscription.organization_id == billing.org.id, Subscription.external_id == "sub"
            )
        ).one()
        numbering = ((Organization, billing.org.id), (Customer, subscription.customer_id))
    seen: dict[str, Any] = {}
    render = _render(billing.database, billing.org)

    def probe(session: Session, invoices: list[Invoice]) -> list[dict[str, Any]]:
        seen["written"] = len(invoices)
        with Session(billing.database.engine) as other:
            claimed = _claim_with_owners(other, Subscription.id == subscription.id)
            seen["claimed"] = [row[0].external_id for row in claimed]
            seen["held"] = []
            for model, key in numbering:
                query = select(model.id).where(model.id == key)  # type: ignore[attr-defined]
                try:
                    with other.begin_nested():
                        other.execute(query.with_for_update(key_share=True, nowait=True))
                except OperationalError:  # LockNotAvailable: the rehearsal holds it
                    seen["held"].append(model.__tablename__)
            other.rollback()
        return render(session, invoices)

    every = PageRequest(page=1, per_page=100)
    page = forecast(billing.database, billing.org.id, "sub", 2, NOW, probe, every)
    assert seen == {"written": 2, "claimed": ["sub"], "held": []}
    assert [invoice["issuing_date"] for invoice in page.items] == ["2024-04-01", "2024-05-01"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, ValidationFailed),
        ({"customer": {"external_id": "cus"}}, ValidationFailed),
        ({"customer": {"external_id": "cus"}, "plan_code": "nope"}, NotFound),
        ({"customer": {"external_id": "cus"}, "subscriptions": {"external_ids": ["x"]}}, NotFound),
        ({"customer": {"external_id": "cus"}, "plan_code": "p", "billing_time": "x"},
         ValidationFailed),
        ({"customer": {"external_id": "cus"}, "subscriptions": {"external_ids": ["sub"],
          "terminated_at": "2020-01-01T00:00:00Z"}}, ValidationFailed),
    ],
)  # fmt: skip
def test_refusals_write_nothing(
    billing: Billing, body: dict[str, Any], error: type[Exception]
) -> None:
    before = _counts(billing.database)
    with pytest.raises(error):
        preview_invoice(billing.database, billing.org.id, parse_preview(body), NOW,
                        _render(billing.database, billing.org))  # fmt: skip
    assert _counts(billing.database) == before
    with pytest.raises(ValidationFailed):
        _forecast(billing, "sub", 0)
    with pytest.raises(NotFound):
        _forecast(billing, "nope", 1)
