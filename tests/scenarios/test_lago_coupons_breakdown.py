"""Lago's scenario spec coupons_breakdown_spec.rb: two subscriptions of four summed
charges each (1 EUR a unit; taxes of 10 % and 20 % by charge), a coupon limited to two
metrics (20 EUR), one limited to the second plan (10 EUR) and one for all (5 EUR).

Metric-limited coupons go first, then plan-limited ones, then the rest, each spread on
what its fees have left. Lago stores each fee's coupon share with 5 decimals after
every coupon, meterbill exactly: they agree to 4 decimals.
"""

from __future__ import annotations

from decimal import Decimal

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def test_coupons_limited_to_metrics_then_plans_then_the_rest(database: Database, org: Org) -> None:
    billing = Billing(database, org)
    billing.tax("rate10", "10")
    billing.tax("rate20", "20")
    metrics = {n: billing.metric(f"bm{n}", "sum_agg", field_name=f"total{n}") for n in range(1, 9)}
    taxes = {1: "rate10", 2: "rate20", 3: "rate10", 4: "rate10"}

    def charges(first: int) -> list[dict[str, object]]:
        return [{"billable_metric_id": metrics[first + n], "charge_model": "standard",
                 "properties": {"amount": "1"}, "tax_codes": [taxes[n + 1]]}
                for n in range(4)]  # fmt: skip

    billing.plan("p1", charges(1))
    billing.plan("p2", charges(5))
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p1", "sub1", utc(2023, 1, 1))
    billing.subscribe("cus", "p2", "sub2", utc(2023, 1, 1))
    common = {"coupon_type": "fixed_amount", "amount_currency": "EUR", "frequency": "once",
              "expiration": "time_limit", "expiration_at": utc(2023, 2, 20).isoformat(),
              "reusable": False}  # fmt: skip
    billing.coupon("c1", amount_cents=2_000, applies_to={"billable_metric_codes": ["bm1", "bm2"]},
                   **common)  # fmt: skip
    billing.coupon("c2", amount_cents=1_000, applies_to={"plan_codes": ["p2"]}, **common)
    billing.coupon("c3", amount_cents=500, **common)
    for code in ("c1", "c2", "c3"):
        billing.apply("cus", code, utc(2023, 1, 1))
    for n in range(1, 9):
        billing.events(f"sub{1 if n <= 4 else 2}", f"bm{n}",
                       (utc(2023, 1, 1), {f"total{n}": 10 * (1 + (n - 1) % 4)}))  # fmt: skip
    billing.tick(utc(2023, 2, 1))
    [invoice] = billing.invoices()
    rows = sorted(
        (fee.item_code, fee.amount_cents, fee.taxes_amount_cents, fee.taxes_rate,
         fee.precise_coupons_amount_cents.quantize(Decimal("0.0001")))
        for fee in invoice.fees
        if fee.fee_type == "charge"
    )  # fmt: skip
    assert rows == [
        # c1: 20 EUR on bm1 and bm2 (10 + 20 EUR), c3: 5 EUR over the 170 EUR left.
        ("bm1", 1_000, 32, Decimal(10), Decimal("676.4706")),
        ("bm2", 2_000, 129, Decimal(20), Decimal("1352.9412")),
        ("bm3", 3_000, 291, Decimal(10), Decimal("88.2353")),
        ("bm4", 4_000, 388, Decimal(10), Decimal("117.6471")),
        # c2: 10 EUR over the second plan's 100 EUR, then c3.
        ("bm5", 1_000, 87, Decimal(10), Decimal("126.4706")),
        ("bm6", 2_000, 349, Decimal(20), Decimal("252.9412")),
        ("bm7", 3_000, 262, Decimal(10), Decimal("379.4118")),
        ("bm8", 4_000, 349, Decimal(10), Decimal("505.8824")),
    ]
    assert invoice.totals == (20_000, 3_500, 16_500, 1_889, 18_389, 18_389)
