"""Current usage periods of anniversary subscriptions whose day is clamped in a short
month, as Lago's current_usage/anniversary_period_boundaries_spec.rb has them: a plan of 0
with one count charge at 1, a UTC customer, and the period that current usage reports on
a given day. Successive periods must meet, neither overlap nor leave a gap, and must not
slide with the day they are asked on.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def subscribe(database: Database, org: Org, start: datetime, interval: str) -> Billing:
    billing = Billing(database, org)
    metric_id = billing.metric("m")
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "standard",
                        "properties": {"amount": "1"}}], interval=interval)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", start, billing_time="anniversary")
    return billing


def period(billing: Billing, now: datetime) -> tuple[str, str]:
    usage = billing.usage("cus", "sub", now)
    return usage["from_datetime"], usage["to_datetime"]


def test_leap_day_yearly_hands_the_clamped_day_to_one_period(database: Database, org: Org) -> None:
    billing = subscribe(database, org, utc(2024, 2, 29), "yearly")
    # In 2025 the anniversary falls on Feb 28: the 27th closes the first period.
    assert period(billing, utc(2025, 2, 20)) == ("2024-02-29T00:00:00Z", "2025-02-27T23:59:59Z")
    assert period(billing, utc(2025, 3, 10)) == ("2025-02-28T00:00:00Z", "2026-02-27T23:59:59Z")


def test_leap_day_yearly_counts_an_event_on_the_clamped_day_once(
    database: Database, org: Org
) -> None:
    billing = subscribe(database, org, utc(2024, 2, 29), "yearly")
    billing.events("sub", "m", (utc(2025, 2, 28, 12), {}))
    opening = billing.usage("cus", "sub", utc(2025, 3, 10))
    closing = billing.usage("cus", "sub", utc(2025, 2, 20))
    assert sum(c["events_count"] for c in opening["charges_usage"]) == 1
    assert sum(c["events_count"] for c in closing["charges_usage"]) == 0


@pytest.mark.parametrize(
    ("start", "interval", "asked", "starts"),
    [
        # Quarterly from Jan 31: the April period opens Apr 30 (clamped) and holds the
        # quarter; July's anniversary is the 31st, so Jul 30 is still in April's period.
        (utc(2022, 1, 31), "quarterly", utc(2022, 5, 31), "2022-04-30T00:00:00Z"),
        (utc(2022, 1, 31), "quarterly", utc(2022, 7, 30), "2022-04-30T00:00:00Z"),
        # A short April does not drag July's anniversary onto the 30th.
        (utc(2022, 1, 31), "quarterly", utc(2022, 8, 15), "2022-07-31T00:00:00Z"),
        # February's length does not leak into January's anniversary.
        (utc(2022, 1, 29), "quarterly", utc(2022, 2, 28), "2022-01-29T00:00:00Z"),
        # April is not a billing month of a semiannual plan from January.
        (utc(2021, 1, 31), "semiannual", utc(2021, 4, 30), "2021-01-31T00:00:00Z"),
        # From Apr 30: May's month end is no anniversary; July keeps the 30th.
        (utc(2021, 4, 30), "quarterly", utc(2021, 5, 31), "2021-04-30T00:00:00Z"),
        (utc(2021, 4, 30), "quarterly", utc(2021, 8, 15), "2021-07-30T00:00:00Z"),
        (utc(2021, 4, 30), "semiannual", utc(2021, 6, 30), "2021-04-30T00:00:00Z"),
        (utc(2021, 4, 30), "semiannual", utc(2021, 11, 15), "2021-10-30T00:00:00Z"),
    ],
)  # fmt: skip
def test_period_start(
    database: Database, org: Org, start: datetime, interval: str, asked: datetime, starts: str
) -> None:
    billing = subscribe(database, org, start, interval)
    assert period(billing, asked)[0] == starts


@pytest.mark.parametrize(
    ("start", "closing_day", "opening_day", "meet"),
    [
        (utc(2022, 1, 31), utc(2022, 4, 15), utc(2022, 5, 15),
         ("2022-04-29T23:59:59Z", "2022-04-30T00:00:00Z")),
        (utc(2021, 4, 30), utc(2021, 7, 29), utc(2021, 7, 30),
         ("2021-07-29T23:59:59Z", "2021-07-30T00:00:00Z")),
    ],
)  # fmt: skip
def test_quarterly_periods_meet(
    database: Database, org: Org, start: datetime, closing_day: datetime,
    opening_day: datetime, meet: tuple[str, str],
) -> None:  # fmt: skip
    billing = subscribe(database, org, start, "quarterly")
    assert (period(billing, closing_day)[1], period(billing, opening_day)[0]) == meet
