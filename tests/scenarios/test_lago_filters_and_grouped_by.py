"""A charge filter that groups its events, as Lago's scenario spec
invoices/filters_and_grouped_by_spec.rb has it: a sum metric on `value` with the
filters `cloud` (aws, gcp, azure) and `region` (us, europe, asia); a standard charge at
10 EUR, with one filter (cloud aws, any region) at 12 EUR grouped by `country`; a
monthly plan of 0 in arrears, anniversary from Feb 25, 2024. Four events of 10: aws in
the us, in france, aws without a country, and gcp in china (outside the filter).
"""

from __future__ import annotations

from decimal import Decimal

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True

ALL = "__ALL_FILTER_VALUES__"


def setup(database: Database, org: Org, group_key: str) -> Billing:
    billing = Billing(database, org)
    metric = billing.metric("m", "sum_agg", field_name="value", filters=[
        {"key": "cloud", "values": ["aws", "gcp", "azure"]},
        {"key": "region", "values": ["us", "europe", "asia"]},
    ])  # fmt: skip
    billing.plan("p", [{"billable_metric_id": metric, "charge_model": "standard",
                        "properties": {"amount": "10"},
                        "filters": [{"properties": {"amount": "12", group_key: ["country"]},
                                     "values": {"cloud": ["aws"], "region": [ALL]}}]}])  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 2, 25, 10), billing_time="anniversary")
    billing.events(
        "sub", "m",
        (utc(2024, 2, 28, 10), {"cloud": "aws", "region": "us", "country": "us", "value": 10}),
        (utc(2024, 3, 1, 10),
         {"cloud": "aws", "region": "europe", "country": "france", "value": 10}),
        (utc(2024, 3, 2, 10), {"cloud": "aws", "region": "asia", "value": 10}),
        (utc(2024, 3, 3, 10), {"cloud": "gcp", "region": "asia", "country": "china", "value": 10}),
    )  # fmt: skip
    return billing


def test_current_usage_groups_the_filter_s_events(database: Database, org: Org) -> None:
    billing = setup(database, org, "grouped_by")
    usage = billing.usage("cus", "sub", utc(2024, 3, 4, 10))
    assert usage["total_amount_cents"] == 46_000
    [charge] = usage["charges_usage"]
    assert (charge["units"], charge["events_count"], charge["amount_cents"]) == ("40.0", 4, 46_000)
    # The filter's three groups, and the group without values of the rest (gcp).
    assert len(charge["grouped_usage"]) == 4
    [rest] = [group for group in charge["grouped_usage"] if group["grouped_by"] == {}]
    [outside] = rest["filters"]
    assert (outside["values"], outside["amount_cents"]) == (None, 10_000)
    groups = {group["grouped_by"]["country"]: group for group in charge["grouped_usage"]
              if group["grouped_by"]}  # fmt: skip
    for country in ("us", "france", None):
        group = groups[country]
        assert (group["amount_cents"], group["events_count"], group["units"]) == (
            12_000, 1, "10.0",
        )  # fmt: skip
        [only] = group["filters"]
        assert (only["units"], only["values"]) == ("10.0", {"cloud": ["aws"], "region": [ALL]})
    [unfiltered] = [item for item in charge["filters"] if item["values"] is None]
    assert (unfiltered["amount_cents"], unfiltered["events_count"], unfiltered["units"]) == (
        10_000, 1, "10.0",
    )  # fmt: skip


def test_the_invoice_has_a_fee_per_group_of_the_filter(database: Database, org: Org) -> None:
    billing = setup(database, org, "pricing_group_keys")
    billing.tick(utc(2024, 3, 25, 10))
    [invoice] = billing.invoices()
    assert invoice.total_amount_cents == 46_000
    fees = sorted(
        (fee.amount_cents, fee.events_count, fee.units) for fee in invoice.fees
        if fee.fee_type == "charge"
    )  # fmt: skip
    assert fees == [(10_000, 1, Decimal(10))] + [(12_000, 1, Decimal(10))] * 3
