"""Large quantities that every column holds are counted, priced and billed exactly."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from meterbill.clock import tick
from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.invoices.models import Fee
from meterbill.invoices.scope import Scope
from tests.conftest import Org
from tests.db.test_current_usage import Setup, utc


def test_quantities_of_a_quadrillion_are_exact_in_usage_and_on_the_invoice(
    database: Database, org: Org
) -> None:
    setup = Setup(database, org)
    transfer = setup.metric("transfer", "sum_agg", field_name="bytes")
    peak = setup.metric("peak", "max_agg", field_name="bytes")
    setup.plan("p", [
        {"billable_metric_id": transfer, "charge_model": "standard",
         "properties": {"amount": "0.000002"}},
        {"billable_metric_id": peak, "charge_model": "standard", "properties": {"amount": "3"}},
    ])  # fmt: skip
    setup.customer("cus", timezone="UTC")
    setup.subscribe("cus", "p", "sub", utc(2024, 7, 1))
    # Whole hours (read from rollups) and partial ones (scanned) both carry some.
    quantities = [10**15, "999999999999999.5", 0.25, "1000000000000000"]
    moments = [utc(2024, 7, 2, 10, 15), utc(2024, 7, 2, 11), utc(2024, 7, 3, 0, 30),
               utc(2024, 7, 10, 8)]  # fmt: skip
    items = [(at, {"bytes": value}) for at, value in zip(moments, quantities, strict=True)]
    setup.events("sub", "transfer", *items)
    setup.events("sub", "peak", *items)

    usage = setup.usage("cus", "sub", utc(2024, 7, 20))
    charges = {item["billable_metric"]["code"]: item for item in usage["charges_usage"]}
    # 10^15 + 999 999 999 999 999.5 + 0.25 + 10^15 = 2 999 999 999 999 999.75 bytes;
    # × 0.000002 € = 5 999 999 999.9999995 € = 599 999 999 999.99995 cents → rounded half up.
    assert (charges["transfer"]["units"], charges["transfer"]["amount_cents"]) == (
        "2999999999999999.75", 600_000_000_000,
    )  # fmt: skip
    # The largest, 10^15, at 3 € = 3·10^17 cents.
    assert (charges["peak"]["units"], charges["peak"]["amount_cents"]) == (
        "1000000000000000.0", 300_000_000_000_000_000,
    )  # fmt: skip
    assert usage["amount_cents"] == 300_000_600_000_000_000

    with database.transaction(write=False) as session:
        customer = session.scalar(
            select(Customer).where(
                Customer.organization_id == org.id, Customer.external_id == "cus"
            )
        )
        assert customer is not None
        scope = Scope(customer.id, org.id)
    tick(database, utc(2024, 8, 1, 1), scope)
    with database.transaction(write=False) as session:
        fees = session.execute(
            select(Fee.units, Fee.amount_cents)
            .where(Fee.organization_id == org.id, Fee.fee_type == "charge")
            .order_by(Fee.amount_cents)
        ).all()
    assert [tuple(fee) for fee in fees] == [
        (Decimal("2999999999999999.75"), 600_000_000_000),
        (Decimal("1000000000000000"), 300_000_000_000_000_000),
    ]
