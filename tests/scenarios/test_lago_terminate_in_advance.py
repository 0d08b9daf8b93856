"""Terminating a plan paid in advance on its first day, as Lago's scenario spec
terminate_pay_in_advance_spec.rb has it: 50 EUR a month, a 20 % tax on the
organization, subscribed and terminated at 2023-02-08T00:00Z in three timezones.
"""

from __future__ import annotations

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import notes, terminate

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True


@pytest.mark.parametrize(
    ("timezone", "billing_time", "start_total", "note"),
    [
        # Feb 8-28: 21 of 28 days, 3 750 + 750 tax; 20 days unused: 3 571 + 714.
        ("UTC", "calendar", 4_500, (3_571, 714, 4_285)),
        ("Asia/Tokyo", "calendar", 4_500, (3_571, 714, 4_285)),
        # Feb 7 in Los Angeles: 22 days, 3 929 + 786; 21 unused: 3 750 + 750.
        ("America/Los_Angeles", "calendar", 4_715, (3_750, 750, 4_500)),
        # A whole anniversary period: 6 000; 27 of 28 days unused, 4 821 + 964.
        ("UTC", "anniversary", 6_000, (4_821, 964, 5_785)),
        ("Asia/Tokyo", "anniversary", 6_000, (4_821, 964, 5_785)),
        ("America/Los_Angeles", "anniversary", 6_000, (4_821, 964, 5_785)),
    ],
)
def test_terminated_on_its_first_day(
    database: Database, org: Org, timezone: str, billing_time: str, start_total: int,
    note: tuple[int, int, int],
) -> None:  # fmt: skip
    billing = Billing(database, org)
    billing.tax("vat", "20", applied_to_organization=True)
    billing.plan("advance", [], amount_cents=5_000, pay_in_advance=True)
    billing.customer("cus", timezone=timezone)
    billing.subscribe("cus", "advance", "sub", utc(2023, 2, 8), billing_time=billing_time)
    [start] = billing.invoices()
    assert start.total_amount_cents == start_total
    terminate(billing, "sub", utc(2023, 2, 8))
    _start, last = billing.invoices()
    assert last.total_amount_cents == 0
    [credit] = notes(billing)
    assert credit.invoice_id == start.id
    assert (credit.sub_total_excluding_taxes_amount_cents, credit.taxes_amount_cents,
            credit.total_amount_cents) == note  # fmt: skip
    assert credit.credit_amount_cents == note[2]
