"""Hypothesis over the whole billing path: random plans, coupons, taxes and usage, billed
by the clock; every invoice keeps Lago's arithmetic (billing.md §5.3)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.core.money import round_half_up
from meterbill.customers.models import Customer
from meterbill.invoices.models import Fee
from meterbill.invoices.scope import Scope
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

NAMES = itertools.count()
PRICES = st.sampled_from(["0", "0.01", "1", "2.5", "14.29", "99.999"])
RATES = st.sampled_from(["0", "5.5", "10", "19.6", "20"])


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    return {
        "amount_cents": draw(st.integers(0, 200_000)),
        "pay_in_advance": draw(st.booleans()),
        "price": draw(PRICES),
        "values": draw(st.lists(st.integers(0, 1_000), max_size=4)),
        "plan_rate": draw(st.none() | RATES),
        "charge_rate": draw(st.none() | RATES),
        "coupon": draw(
            st.none()
            | st.tuples(st.just("percentage"), st.sampled_from(["5", "33.33", "100"]))
            | st.tuples(st.just("fixed_amount"), st.integers(1, 300_000))
        ),
        "start_day": draw(st.integers(1, 28)),
    }


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    return Billing(database, org)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(scenario=scenarios())
def test_every_invoice_adds_up(billing: Billing, scenario: dict[str, object]) -> None:
    n = next(NAMES)
    metric, plan, customer, subscription = f"m{n}", f"p{n}", f"c{n}", f"s{n}"
    taxes = {}
    for key in ("plan_rate", "charge_rate"):
        rate = scenario[key]
        if rate is not None:
            billing.tax(f"{key}{n}", str(rate))
            taxes[key] = [f"{key}{n}"]
    metric_id = billing.metric(metric, "sum_agg", field_name="v")
    charge = {"billable_metric_id": metric_id, "charge_model": "standard",
              "properties": {"amount": scenario["price"]}}  # fmt: skip
    if "charge_rate" in taxes:
        charge["tax_codes"] = taxes["charge_rate"]
    billing.plan(plan, [charge], amount_cents=scenario["amount_cents"],
                 pay_in_advance=scenario["pay_in_advance"],
                 **({"tax_codes": taxes["plan_rate"]} if "plan_rate" in taxes else {}))  # fmt: skip
    billing.customer(customer, timezone="UTC")
    start = utc(2024, 5, int(scenario["start_day"]))  # type: ignore[call-overload]
    billing.subscribe(customer, plan, subscription, start)
    coupon = scenario["coupon"]
    if coupon is not None:
        kind, value = coupon  # type: ignore[misc]
        fields = ({"percentage_rate": value} if kind == "percentage"
                  else {"amount_cents": value, "amount_currency": "EUR"})  # fmt: skip
        billing.coupon(f"k{n}", coupon_type=kind, frequency="forever", **fields)
        billing.apply(customer, f"k{n}", start)
    values = scenario["values"]
    assert isinstance(values, list)
    if values:
        events = [(utc(2024, 5, 28, hour), {"v": value}) for hour, value in enumerate(values)]
        billing.events(subscription, metric, *events)
    with billing.database.transaction(write=False) as session:
        found = session.scalar(
            select(Customer).where(
                Customer.organization_id == billing.org.id, Customer.external_id == customer
            )
        )
        assert found is not None
        scope = Scope(found.id, billing.org.id)
    for moment in (utc(2024, 6, 1, 1), utc(2024, 7, 1, 1)):
        tick(billing.database, moment, scope)
    invoices = billing.invoices(customer)
    assert invoices, "the clock billed nothing"
    with billing.database.transaction(write=False) as session:
        for invoice in invoices:
            figures = invoice.totals
            assert all(type(value) is int for value in figures)
            fees, coupons, excluding, taxes_cents, including, total = figures
            assert fees == sum(fee.amount_cents for fee in invoice.fees)
            assert coupons == sum(amount for _code, amount in invoice.credits)
            assert 0 <= coupons <= fees
            assert excluding == fees - coupons and including == excluding + taxes_cents
            assert total == fees - coupons + taxes_cents >= 0
            precise = session.scalars(
                select(Fee.taxes_precise_amount_cents).where(Fee.invoice_id == invoice.id)
            ).all()
            # Taxes are rounded once on the unrounded total of the fees' taxes.
            assert taxes_cents == int(round_half_up(sum(precise, Decimal(0))))
            for fee in invoice.fees:
                assert 0 <= fee.precise_coupons_amount_cents <= fee.amount_cents
                if len(fee.taxes) == 1:
                    assert fee.taxes_amount_cents == sum(fee.taxes.values())
