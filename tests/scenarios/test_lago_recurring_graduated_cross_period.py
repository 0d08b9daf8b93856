"""A prorated graduated charge on a recurring sum across two periods, as Lago's scenario
spec recurring_graduated_prorated_cross_period_spec.rb has it: a recurring sum of
`amount`, graduated 0 for units 0-2 and 150 EUR a unit from 3, prorated, in arrears; a
monthly plan of 0 on the anniversary from Apr 8, 2026, 12:00 (periods from the 8th).
The level carried from the first period goes on in the second.
"""

from __future__ import annotations

from datetime import timedelta

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

START = utc(2026, 4, 8, 12)
SECOND = utc(2026, 5, 8, 0, 1)
IN_SECOND = utc(2026, 5, 9, 12)


def setup(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    metric = billing.metric("m", "sum_agg", field_name="amount", recurring=True)
    billing.plan("p", [{"billable_metric_id": metric, "charge_model": "graduated",
                        "prorated": True, "properties": {"graduated_ranges": [
                            {"from_value": 0, "to_value": 2, "per_unit_amount": "0",
                             "flat_amount": "0"},
                            {"from_value": 3, "to_value": None, "per_unit_amount": "150",
                             "flat_amount": "0"}]}}])  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", START, billing_time="anniversary")
    return billing


def test_the_net_unit_is_in_the_free_tier_after_the_periods_cross(
    database: Database, org: Org
) -> None:
    billing = setup(database, org)
    late = SECOND - timedelta(hours=1)
    billing.events("sub", "m", *[(late + timedelta(seconds=i), {"amount": -1}) for i in range(3)])
    billing.tick(SECOND)
    [first] = billing.invoices()
    assert first.total_amount_cents == 0
    billing.events(
        "sub", "m", *[(IN_SECOND + timedelta(seconds=i), {"amount": 1}) for i in range(4)]
    )
    usage = billing.usage("cus", "sub", IN_SECOND + timedelta(minutes=1))
    [charge] = usage["charges_usage"]
    # -3 carried in, +4 on May 9: a level of 1, inside the free tier.
    assert (charge["units"], charge["amount_cents"]) == ("1.0", 0)


def test_an_event_backdated_into_the_first_period_counts_in_the_second(
    database: Database, org: Org
) -> None:
    billing = setup(database, org)
    early = START + timedelta(days=1)
    billing.events("sub", "m", *[(early + timedelta(seconds=i), {"amount": -1}) for i in range(3)])
    billing.tick(SECOND)
    billing.events(
        "sub", "m",
        *[(IN_SECOND + timedelta(seconds=i), {"amount": 1}) for i in range(4)],
        (START + timedelta(days=5), {"amount": 1}),
    )  # fmt: skip
    usage = billing.usage("cus", "sub", IN_SECOND + timedelta(minutes=1))
    [charge] = usage["charges_usage"]
    assert charge["units"] == "2.0"
