"""A year's first months of a plan with every kind of usage charge, as Lago's scenario
spec billing/billing_monthly_spec.rb has it (its fixed charges left out: meterbill has
none, so the start invoice that bills only them and their fees on each invoice are not
here). A monthly plan of 50,000 EUR in arrears, calendar, UTC, from Feb 4, 2024 (a leap
February); a sum `metered` and a recurring sum `recurring`, both on `total`:

- metered, in arrears: package of 10 at 100 EUR;
- metered, in advance: package of 10 at 1,000 EUR, 2 free units;
- recurring, in arrears: 5,000 EUR a unit, prorated;
- recurring, in advance: 50,000 EUR a unit, not prorated (renewed each period).
"""

from __future__ import annotations

from datetime import datetime

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, InvoiceRow, utc


def setup(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    metered = billing.metric("metered", "sum_agg", field_name="total", name="Metered in arrears")
    recurring = billing.metric("recurring", "sum_agg", field_name="total", recurring=True)
    billing.plan("p", [
        {"billable_metric_id": metered, "charge_model": "package",
         "properties": {"amount": "100", "package_size": 10, "free_units": 0}},
        {"billable_metric_id": metered, "charge_model": "package", "pay_in_advance": True,
         "properties": {"amount": "1000", "package_size": 10, "free_units": 2}},
        {"billable_metric_id": recurring, "charge_model": "standard", "prorated": True,
         "properties": {"amount": "5000"}},
        {"billable_metric_id": recurring, "charge_model": "standard", "pay_in_advance": True,
         "properties": {"amount": "50000"}},
    ], amount_cents=5_000_000)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 2, 4))
    return billing


def both(billing: Billing, at: datetime, total: int) -> list[InvoiceRow]:
    """An event of `total` on each metric; the invoices of the pay-in-advance fees."""
    before = len(billing.invoices())
    billing.events("sub", "metered", (at, {"total": total}))
    billing.events("sub", "recurring", (at, {"total": total}))
    billing.tick(at)
    return billing.invoices()[before:]


def charges(invoice: InvoiceRow) -> list[tuple[str, int]]:
    return sorted((fee.item_code, fee.amount_cents) for fee in invoice.fees
                  if fee.fee_type == "charge")  # fmt: skip


def subscription_fee(invoice: InvoiceRow) -> int:
    [fee] = [fee for fee in invoice.fees if fee.fee_type == "subscription"]
    return fee.amount_cents


def test_monthly_billing_with_every_kind_of_charge(database: Database, org: Org) -> None:
    billing = setup(database, org)
    billing.tick(utc(2024, 2, 4, 0, 10))
    billing.tick(utc(2024, 2, 28))
    assert billing.invoices() == []

    billing.tick(utc(2024, 3, 1))
    [february] = billing.invoices()
    # Feb 4-29: 26 of 29 days of 50,000 EUR; no usage yet.
    assert (subscription_fee(february), charges(february)) == (4_482_759, [])
    assert february.total_amount_cents == 4_482_759
    assert (february.periods[0]["from"], february.periods[0]["to"]) == (
        utc(2024, 2, 4), utc(2024, 2, 29, 23, 59, 59),
    )  # fmt: skip

    in_advance = both(billing, utc(2024, 3, 15), 10)
    # 10 units: one package beyond the 2 free units; 10 recurring units at 50,000 EUR.
    assert sorted(i.total_amount_cents for i in in_advance) == [100_000, 50_000_000]

    billing.tick(utc(2024, 4, 1))
    march = billing.invoices()[-1]
    assert (march.periods[0]["charges_from"], march.periods[0]["charges_to"]) == (
        utc(2024, 3, 1), utc(2024, 3, 31, 23, 59, 59),
    )  # fmt: skip
    # The prorated recurring sum: 10 units for 17 of 31 days, 5.48388 units (the
    # quotient ceiled at 5 decimals, as Lago's) at 5,000 EUR: 2,741,940, not 2,741,935.
    # The recurring level paid in advance is renewed for April: 10 × 50,000 EUR.
    assert charges(march) == [("metered", 10_000), ("recurring", 2_741_940),
                              ("recurring", 50_000_000)]  # fmt: skip
    assert subscription_fee(march) == 5_000_000
    assert march.total_amount_cents == 5_000_000 + 50_000_000 + 10_000 + 2_741_940

    in_advance = both(billing, utc(2024, 4, 10), 20) + both(billing, utc(2024, 4, 30), 20)
    # 20 units: 2 packages beyond the free units; 40: 4, two more.
    assert sorted(i.total_amount_cents for i in in_advance) == [
        200_000, 200_000, 100_000_000, 100_000_000,
    ]  # fmt: skip

    billing.tick(utc(2024, 5, 1))
    april = billing.invoices()[-1]
    # 10 carried all April, 20 for 21 of 30 days, 20 for 1: 24.66667 units at 5,000 EUR.
    # The level paid in advance is now 50 units: May's renewal.
    assert charges(april) == [("metered", 40_000), ("recurring", 12_333_335),
                              ("recurring", 250_000_000)]  # fmt: skip
    assert april.total_amount_cents == 5_000_000 + 250_000_000 + 40_000 + 12_333_335

    billing.tick(utc(2024, 6, 1))
    may = billing.invoices()[-1]
    # No events in May: the 50 recurring units carried the whole month.
    assert charges(may) == [("recurring", 25_000_000), ("recurring", 250_000_000)]
    assert may.total_amount_cents == 5_000_000 + 250_000_000 + 25_000_000
