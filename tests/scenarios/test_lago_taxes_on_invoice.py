"""Lago's scenario spec taxes_on_invoice_spec.rb (its first case is E1 in
test_worked_examples.py): coupons worth more than the fees leave no tax to pay, on one
subscription and across two. A 10 % tax on the plans; subscribed Jan 1, 2023; billed
Feb 1.
"""

from __future__ import annotations

from decimal import Decimal

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def setup(database: Database, org: Org, coupons: list[int]) -> Billing:
    billing = Billing(database, org)
    billing.tax("banking_rates", "10")
    billing.plan("p1", [], amount_cents=10_000, tax_codes=["banking_rates"])
    billing.plan("p2", [], amount_cents=5_000, tax_codes=["banking_rates"])
    billing.customer("cus", timezone="UTC")
    for number, amount in enumerate(coupons):
        code = f"c{number}"
        billing.coupon(code, coupon_type="fixed_amount", amount_cents=amount,
                       amount_currency="EUR", frequency="once", expiration="time_limit",
                       expiration_at=utc(2023, 1, 16).isoformat(), reusable=False)  # fmt: skip
        billing.apply("cus", code, utc(2023, 1, 1))
    return billing


def test_coupons_above_the_fees_leave_no_tax(database: Database, org: Org) -> None:
    billing = setup(database, org, [1_000, 11_000])
    billing.subscribe("cus", "p1", "sub", utc(2023, 1, 1))
    billing.tick(utc(2023, 2, 1))
    [invoice] = billing.invoices()
    [fee] = invoice.fees
    assert (fee.amount_cents, fee.taxes_amount_cents, fee.taxes_rate) == (10_000, 0, 10)
    assert fee.precise_coupons_amount_cents == 10_000
    assert invoice.totals == (10_000, 10_000, 0, 0, 0, 0)


def test_coupons_covering_two_subscriptions(database: Database, org: Org) -> None:
    billing = setup(database, org, [10_000, 10_000])
    billing.subscribe("cus", "p1", "sub1", utc(2023, 1, 1))
    billing.subscribe("cus", "p2", "sub2", utc(2023, 1, 1))
    billing.tick(utc(2023, 2, 1))
    [invoice] = billing.invoices()
    rows = sorted((fee.amount_cents, fee.taxes_amount_cents, fee.taxes_rate,
                   fee.precise_coupons_amount_cents) for fee in invoice.fees)  # fmt: skip
    assert rows == [(5_000, 0, Decimal(10), Decimal(5_000)),
                    (10_000, 0, Decimal(10), Decimal(10_000))]  # fmt: skip
    assert invoice.totals == (15_000, 15_000, 0, 0, 0, 0)
