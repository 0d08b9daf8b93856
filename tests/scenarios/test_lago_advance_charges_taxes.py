"""Lago's scenario spec invoices/advance_charges_taxes_spec.rb: fees of pay-in-advance,
non-invoiceable charges (a prorated recurring unique count at 30 EUR, a sum at 1 EUR) carry
both of the organization's taxes, 9.3 % and 12 %, each rounded on the fee.

The `advance_charges` invoice that then gathers the paid fees, its taxes the sums of the
fees' own, is in test_lago_advance_charges.py.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.invoices.models import Fee
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.wallets import standard

# Also run on ClickHouse (tests/conftest.py): pay-in-advance fees and estimates read
# events through the event store.
EVERY_EVENT_STORE = True


def standalone_fees(billing: Billing) -> list[tuple[int, Decimal, dict[str, int]]]:
    with billing.database.transaction(write=False) as session:
        fees = session.scalars(
            select(Fee)
            .where(Fee.organization_id == billing.org.id, Fee.invoice_id.is_(None),
                   Fee.fee_type == "charge")
            .order_by(Fee.created_at, Fee.amount_cents.desc())
        )  # fmt: skip
        return [(fee.amount_cents, fee.taxes_rate,
                 {tax.tax_code: tax.amount_cents for tax in fee.applied_taxes})
                for fee in fees]  # fmt: skip


def test_each_advance_fee_carries_both_taxes(database: Database, org: Org) -> None:
    billing = Billing(database, org)
    billing.tax("tax-1", "9.3", applied_to_organization=True)
    billing.tax("tax-2", "12", applied_to_organization=True)
    cards = billing.metric("cards", "unique_count_agg", field_name="item_id", recurring=True)
    transfer = billing.metric("transfer", "sum_agg", field_name="item_id")
    advance = {"pay_in_advance": True, "invoiceable": False}
    billing.plan("p", [standard(cards, "30", prorated=True, **advance),
                       standard(transfer, "1", **advance)],
                 amount_cents=49, pay_in_advance=True)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2024, 6, 5, 10))
    billing.tick(utc(2024, 6, 5, 10))
    for day in (11, 12, 13):
        billing.events("sub", "cards", (utc(2024, 6, day, 1), {"item_id": f"card_{day}"}))
        billing.tick(utc(2024, 6, day, 1, 5))
    billing.events("sub", "cards", (utc(2024, 6, 22, 1), {"item_id": "transfer_1"}),
                   (utc(2024, 6, 22, 1), {"item_id": "transfer_2"}))  # fmt: skip
    billing.tick(utc(2024, 6, 22, 1, 5))

    def taxed(cents: int) -> tuple[int, Decimal, dict[str, int]]:
        # Each tax rounded half-up on the fee: 2 000 x 9.3 % = 186, x 12 % = 240.
        tax_1 = int((Decimal(cents) * Decimal("0.093")).quantize(Decimal(1), "ROUND_HALF_UP"))
        return (cents, Decimal("21.3"), {"tax-1": tax_1, "tax-2": cents * 12 // 100})

    # 30 EUR prorated on the days left in June, the event's day included: 20, 19, 18 of 30;
    # then 9 of 30 for each of the two cards of June 22.
    assert standalone_fees(billing) == [taxed(2_000), taxed(1_900), taxed(1_800),
                                        taxed(900), taxed(900)]  # fmt: skip
    assert [(t[2]["tax-1"], t[2]["tax-2"]) for t in standalone_fees(billing)] == [
        (186, 240), (177, 228), (167, 216), (84, 108), (84, 108)]  # fmt: skip
