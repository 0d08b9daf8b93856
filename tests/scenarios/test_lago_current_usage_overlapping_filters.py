"""Overlapping charge filters, as Lago's scenario spec
current_usage/with_identical_charge_filters_spec.rb has them: a sum metric on `value`
with a `cloud` filter (aws, gcp), a standard charge at 10, subscribed Mar 5, 2024; an
aws event of 10 and a gcp event of 7 on Mar 6. Each event counts in its most specific
filter only; of two identical filters, the first one counts it.
"""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.core.db import Database
from meterbill.core.errors import ValidationFailed
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

# The event store corpus: also run on ClickHouse (tests/conftest.py).
EVERY_EVENT_STORE = True


def named(name: str, amount: str, values: dict[str, list[str]]) -> dict[str, Any]:
    return {"invoice_display_name": name, "properties": {"amount": amount}, "values": values}


def start(database: Database, org: Org, filters: list[dict[str, Any]]) -> Billing:
    billing = Billing(database, org)
    metric_id = billing.metric("m", "sum_agg", field_name="value",
                               filters=[{"key": "cloud", "values": ["aws", "gcp"]}])  # fmt: skip
    billing.plan("p", [{"billable_metric_id": metric_id, "charge_model": "standard",
                        "properties": {"amount": "10"}, "filters": filters}])  # fmt: skip
    return billing


def filters_usage(database: Database, org: Org, filters: list[dict[str, Any]]) -> list[Any]:
    billing = start(database, org, filters)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 3, 5))
    billing.events("sub", "m", (utc(2024, 3, 6), {"cloud": "aws", "value": 10}),
                   (utc(2024, 3, 6, 1), {"cloud": "gcp", "value": 7}))  # fmt: skip
    usage = billing.usage("cus", "sub", utc(2024, 3, 6, 2))
    return [(item["invoice_display_name"], item["events_count"], item["units"],
             item["amount_cents"]) for item in usage["charges_usage"][0]["filters"]]  # fmt: skip


def test_an_event_counts_in_its_most_specific_filter(database: Database, org: Org) -> None:
    found = filters_usage(database, org, [named("All clouds", "5", {"cloud": ["aws", "gcp"]}),
                                          named("AWS only", "3", {"cloud": ["aws"]})])  # fmt: skip
    assert found == [("All clouds", 1, "7.0", 3_500), ("AWS only", 1, "10.0", 3_000),
                     (None, 0, "0.0", 0)]  # fmt: skip


def test_of_identical_filters_the_first_counts(database: Database, org: Org) -> None:
    duplicates = [named("Duplicate A", "5", {"cloud": ["aws"]}),
                  named("Duplicate B", "3", {"cloud": ["aws"]})]  # fmt: skip
    found = filters_usage(database, org, duplicates)
    # gcp matches neither: the charge's own price.
    assert found == [("Duplicate A", 1, "10.0", 5_000), ("Duplicate B", 0, "0.0", 0),
                     (None, 1, "7.0", 7_000)]  # fmt: skip


def test_a_filter_without_values_is_refused(database: Database, org: Org) -> None:
    # Lago's spec builds such filters behind its API's back ("should not exist but can
    # due to missing validations"); meterbill's API refuses them.
    with pytest.raises(ValidationFailed) as refused:
        start(database, org, [named("Empty A", "5", {}), named("AWS", "3", {"cloud": ["aws"]})])
    assert refused.value.details == {"values": ["value_is_invalid"]}
