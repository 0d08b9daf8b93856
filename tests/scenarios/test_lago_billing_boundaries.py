"""Billing boundaries as Lago's scenario spec subscriptions/billing_boundaries_spec.rb
has them: anniversaries on the 30th and 31st (2024 is a leap year), monthly, yearly and
semiannual plans, in arrears and in advance, with charges billed monthly or not. Each
invoice's ranges: the plan fee's (from the local start of the start day) and the
charges' (from the start instant).

Where Lago shows a plan-fee range on an invoice that bills no plan fee (charges billed
monthly), meterbill has none: those are not compared (None below).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

END = (23, 59, 59)
Ranges = tuple[datetime | None, datetime | None, datetime, datetime]


def at(year: int, month: int, day: int, *rest: int) -> datetime:
    return utc(year, month, day, *rest)


MONTHLY_31 = [
    (at(2024, 2, 29, 2), (at(2024, 1, 31), at(2024, 2, 28, *END),
                          at(2024, 1, 31, 1), at(2024, 2, 28, *END))),
    (at(2024, 3, 31, 2), (at(2024, 2, 29), at(2024, 3, 30, *END),
                          at(2024, 2, 29), at(2024, 3, 30, *END))),
    (at(2024, 4, 30, 2), (at(2024, 3, 31), at(2024, 4, 29, *END),
                          at(2024, 3, 31), at(2024, 4, 29, *END))),
]  # fmt: skip
MONTHLY_30_ADVANCE = [
    (at(2024, 2, 29, 2), (at(2024, 2, 29), at(2024, 3, 29, *END),
                          at(2024, 1, 30), at(2024, 2, 28, *END))),
    (at(2024, 3, 30, 2), (at(2024, 3, 30), at(2024, 4, 29, *END),
                          at(2024, 2, 29), at(2024, 3, 29, *END))),
    (at(2024, 4, 30, 2), (at(2024, 4, 30), at(2024, 5, 29, *END),
                          at(2024, 3, 30), at(2024, 4, 29, *END))),
]  # fmt: skip
YEARLY = [
    (at(2025, 1, 31, 2), (at(2024, 1, 31), at(2025, 1, 30, *END),
                          at(2024, 1, 31, 1), at(2025, 1, 30, *END))),
]  # fmt: skip
YEARLY_MONTHLY_CHARGES = [
    (at(2024, 2, 29, 2), (None, None, at(2024, 1, 31, 1), at(2024, 2, 28, *END))),
    (at(2024, 3, 31, 2), (None, None, at(2024, 2, 29), at(2024, 3, 30, *END))),
    (at(2024, 4, 30, 2), (None, None, at(2024, 3, 31), at(2024, 4, 29, *END))),
    (at(2025, 1, 31, 2), (at(2024, 1, 31), at(2025, 1, 30, *END),
                          at(2024, 12, 31), at(2025, 1, 30, *END))),
]  # fmt: skip
YEARLY_ADVANCE_MONTHLY_CHARGES = [
    (at(2024, 2, 29, 2), (None, None, at(2024, 1, 31, 1), at(2024, 2, 28, *END))),
    (at(2025, 1, 31, 2), (at(2025, 1, 31), at(2026, 1, 30, *END),
                          at(2024, 12, 31), at(2025, 1, 30, *END))),
]  # fmt: skip
SEMIANNUAL = [
    (at(2024, 7, 31, 2), (at(2024, 1, 31), at(2024, 7, 30, *END),
                          at(2024, 1, 31, 1), at(2024, 7, 30, *END))),
    (at(2025, 1, 31, 2), (at(2024, 7, 31), at(2025, 1, 30, *END),
                          at(2024, 7, 31), at(2025, 1, 30, *END))),
]  # fmt: skip
SEMIANNUAL_MONTHLY_CHARGES = [
    (at(2024, 2, 29, 2), (None, None, at(2024, 1, 31, 1), at(2024, 2, 28, *END))),
    (at(2024, 3, 31, 2), (None, None, at(2024, 2, 29), at(2024, 3, 30, *END))),
    (at(2024, 7, 31, 2), (at(2024, 1, 31), at(2024, 7, 30, *END),
                          at(2024, 6, 30), at(2024, 7, 30, *END))),
]  # fmt: skip
SEMIANNUAL_ADVANCE_MONTHLY_CHARGES = [
    (at(2024, 2, 29, 2), (None, None, at(2024, 1, 31, 1), at(2024, 2, 28, *END))),
    (at(2024, 7, 31, 2), (at(2024, 7, 31), at(2025, 1, 30, *END),
                          at(2024, 6, 30), at(2024, 7, 30, *END))),
]  # fmt: skip


@pytest.mark.parametrize(
    ("interval", "fields", "created", "start_fee", "ticks"),
    [
        ("monthly", {}, at(2024, 1, 31, 1), None, MONTHLY_31),
        ("monthly", {"pay_in_advance": True}, at(2024, 1, 30),
         (at(2024, 1, 30), at(2024, 2, 28, *END)), MONTHLY_30_ADVANCE),
        ("yearly", {}, at(2024, 1, 31, 1), None, YEARLY),
        ("yearly", {"bill_charges_monthly": True}, at(2024, 1, 31, 1), None,
         YEARLY_MONTHLY_CHARGES),
        ("yearly", {"bill_charges_monthly": True, "pay_in_advance": True}, at(2024, 1, 31, 1),
         (at(2024, 1, 31), at(2025, 1, 30, *END)), YEARLY_ADVANCE_MONTHLY_CHARGES),
        ("semiannual", {}, at(2024, 1, 31, 1), None, SEMIANNUAL),
        ("semiannual", {"bill_charges_monthly": True}, at(2024, 1, 31, 1), None,
         SEMIANNUAL_MONTHLY_CHARGES),
        ("semiannual", {"bill_charges_monthly": True, "pay_in_advance": True},
         at(2024, 1, 31, 1), (at(2024, 1, 31), at(2024, 7, 30, *END)),
         SEMIANNUAL_ADVANCE_MONTHLY_CHARGES),
    ],
)  # fmt: skip
def test_billing_boundaries(
    database: Database, org: Org, interval: str, fields: dict[str, Any], created: datetime,
    start_fee: tuple[datetime, datetime] | None, ticks: list[tuple[datetime, Ranges]],
) -> None:  # fmt: skip
    billing = Billing(database, org)
    calls = billing.metric("calls")
    charge = {"billable_metric_id": calls, "charge_model": "standard",
              "properties": {"amount": "1"}}  # fmt: skip
    billing.plan("p", [charge], amount_cents=10_000, interval=interval, **fields)
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", created, billing_time="anniversary")
    if start_fee is not None:
        [start] = billing.invoices()
        assert (start.periods[0]["from"], start.periods[0]["to"]) == start_fee
    for moment, expected in ticks:
        billing.tick(moment)
        [invoice] = [i for i in billing.invoices() if i.billing_date == moment.date()]
        [period] = invoice.periods
        ranges = (period["from"], period["to"], period["charges_from"], period["charges_to"])
        if expected[0] is None:
            assert ranges[2:] == expected[2:]
        else:
            assert ranges == expected
