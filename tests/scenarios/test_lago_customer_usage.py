"""Current usage periods, as Lago's scenario spec customer_usage_spec.rb has them: a
yearly plan of 7 EUR in arrears, subscribed Jan 1, 2023 at 09:30 UTC (created Aug 8), read
on Aug 8: the period starts at the subscription and ends at the last second of the year
in the customer's timezone.

(The spec's usage filters, by charge, by pricing group and without grouping, are
arguments of Lago's internal usage service that its public API reference does not
document; meterbill's current usage has none.)
"""

from __future__ import annotations

import pytest

from meterbill.core.db import Database
from meterbill.subscriptions.schemas import parse_subscription
from meterbill.subscriptions.service import create_subscription
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True


@pytest.mark.parametrize(
    ("timezone", "to_datetime"),
    [
        ("UTC", "2023-12-31T23:59:59Z"),
        ("Europe/Berlin", "2023-12-31T22:59:59Z"),
        ("America/Los_Angeles", "2024-01-01T07:59:59Z"),
    ],
)
def test_a_yearly_period_started_in_the_past(
    database: Database, org: Org, timezone: str, to_datetime: str
) -> None:
    billing = Billing(database, org)
    billing.plan("p", [], amount_cents=700, interval="yearly")
    billing.customer("cus", timezone=timezone, currency="EUR")
    body = {"external_customer_id": "cus", "plan_code": "p", "external_id": "sub",
            "subscription_at": utc(2023, 1, 1, 9, 30).isoformat()}  # fmt: skip
    with billing.database.transaction() as session:
        create_subscription(session, billing.org.id, parse_subscription(body, creating=True),
                            utc(2023, 8, 8, 9, 30))  # fmt: skip
    usage = billing.usage("cus", "sub", utc(2023, 8, 8, 9, 30))
    assert (usage["from_datetime"], usage["to_datetime"]) == ("2023-01-01T09:30:00Z", to_datetime)
