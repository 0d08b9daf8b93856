"""Whatever the door accepts can be billed for a century (issue 13, point 2): the largest
amount, the largest tax rate and the longest trial, on the latest accepted start, in the
timezones furthest from UTC, are billed without overflowing a column or a date."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meterbill.clock import tick
from meterbill.core.dates import LATEST_INSTANT
from meterbill.core.db import Database
from meterbill.core.limits import AMOUNT_CENTS_MAX, DAYS_MAX
from meterbill.customers.models import Customer
from meterbill.invoices.models import Invoice
from meterbill.invoices.scope import Scope
from tests.conftest import make_org
from tests.db.test_current_usage import Setup

LATEST_START = LATEST_INSTANT - timedelta(seconds=1)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    interval=st.sampled_from(["weekly", "monthly", "quarterly", "semiannual", "yearly"]),
    pay_in_advance=st.booleans(),
    billing_time=st.sampled_from(["calendar", "anniversary"]),
    timezone=st.sampled_from(["Pacific/Tongatapu", "Etc/GMT+12", "UTC"]),
    trial_days=st.sampled_from([0, 1, DAYS_MAX]),
)
def test_the_largest_accepted_values_bill_without_overflow(
    fresh: Database,
    interval: str,
    pay_in_advance: bool,
    billing_time: str,
    timezone: str,
    trial_days: int,
) -> None:
    org = make_org(fresh)
    setup = Setup(fresh, org)
    setup.tax("most", "1000", applied_to_organization=True)
    setup.plan("top", [], interval=interval, amount_cents=AMOUNT_CENTS_MAX,
               pay_in_advance=pay_in_advance, trial_period=trial_days)  # fmt: skip
    setup.customer("cus", timezone=timezone)
    setup.subscribe("cus", "top", "sub", LATEST_START, billing_time=billing_time)
    with fresh.transaction(write=False) as session:
        customer_id = session.scalars(
            select(Customer.id).where(Customer.organization_id == org.id)
        ).one()
    scope = Scope(customer_id=customer_id, organization_id=org.id)
    # Past the end of the trial and through at least one whole period.
    now = LATEST_START + timedelta(days=trial_days + (400 if interval == "yearly" else 200))
    report = tick(fresh, now, scope)
    assert report.failures == []
    with fresh.transaction(write=False) as session:
        totals = list(
            session.scalars(
                select(Invoice.total_amount_cents).where(Invoice.customer_id == customer_id)
            )
        )
    assert totals, "a period past the trial bills at least one invoice"
    # A full period of the plan, taxed at 1,000 %, is the most one invoice can hold.
    assert all(0 <= total <= 11 * AMOUNT_CENTS_MAX for total in totals)
    assert max(totals) > 0
