"""Lago's scenario spec invoices/invoicing_with_prepaid_credits_spec.rb: a wallet of 39
credits limited to two metrics pays the invoices of their pay-in-advance charges (taxed
24 %), not those of another metric.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.invoices.models import Invoice
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets, standard


def last_invoice(wallets: Wallets) -> tuple[int, int, int]:
    with wallets.database.transaction(write=False) as session:
        invoice = session.scalars(
            select(Invoice)
            .where(Invoice.organization_id == wallets.org.id)
            .order_by(Invoice.created_at.desc(), Invoice.organization_sequential_id.desc())
            .limit(1)
        ).one()
        return (invoice.sub_total_including_taxes_amount_cents,
                invoice.prepaid_credit_amount_cents, invoice.total_amount_cents)  # fmt: skip


def test_wallet_limited_to_metrics(database: Database, org: Org) -> None:
    wallets = Wallets(database, org)
    wallets.tax("vat24", "24")
    count_1 = wallets.metric("count_1")
    count_2 = wallets.metric("count_2")
    other = wallets.metric("other", "sum_agg", field_name="item_id")
    wallets.plan("p", [standard(count_1, "14.29", pay_in_advance=True, tax_codes=["vat24"]),
                       standard(count_2, "14.27", pay_in_advance=True, tax_codes=["vat24"]),
                       standard(other, "10", pay_in_advance=True)], amount_cents=0)  # fmt: skip
    wallets.customer("cus", timezone="UTC")
    wallets.subscribe("cus", "p", "sub", utc(2024, 5, 1))
    limited = {"billable_metric_codes": ["count_1", "count_2"]}
    wallet = wallets.wallet("cus", utc(2024, 5, 1), granted_credits="39.00", applies_to=limited)
    assert wallets.invoices() == []

    def event(code: str, at: datetime, **properties: str) -> tuple[int, int, int]:
        wallets.events("sub", code, (at, properties))
        wallets.tick(at.replace(minute=30))
        return last_invoice(wallets)

    # Not a metric the wallet pays for: 10 EUR, no credit.
    assert event("other", utc(2024, 5, 2, 10), item_id="1") == (1_000, 0, 1_000)
    # 14.29 + 24 % = 17.72, all paid by the wallet: 21.28 left.
    assert event("count_1", utc(2024, 5, 3, 10)) == (1_772, 1_772, 0)
    assert wallets.balance(wallet) == 2_128
    # 14.27 + 24 % = 17.69: 3.59 left.
    assert event("count_2", utc(2024, 5, 4, 10)) == (1_769, 1_769, 0)
    assert wallets.balance(wallet) == 359


@pytest.mark.parametrize(
    ("prices", "fees", "totals", "balance"),
    [
        # 6 fees of 0.4 cent (0 cents) and 2 of 1 cent: 2 cents + 40 % = 0.8 -> 1; total 3.
        (["0.004"] * 6 + ["0.01"] * 2, [0] * 6 + [1] * 2, (2, 1, 3), 9_997),
        # 8 fees of 1.4 cents (1 cent): 8 + 3.2 -> 3; total 11.
        (["0.014"] * 8, [1] * 8, (8, 3, 11), 9_989),
    ],
)
def test_prepaid_credits_pay_no_more_than_the_invoice_total(
    database: Database, org: Org, prices: list[str], fees: list[int],
    totals: tuple[int, int, int], balance: int,
) -> None:  # fmt: skip
    """Lago's negative_total_with_prepaid_credits_spec.rb: fees of fractions of a cent,
    taxed 40 %, paid by a wallet of 100 EUR."""
    wallets = Wallets(database, org)
    wallets.tax("vat40", "40")
    charges = [standard(wallets.metric(f"m{n}"), price, tax_codes=["vat40"])
               for n, price in enumerate(prices)]  # fmt: skip
    wallets.plan("p", charges, amount_cents=0)
    wallets.customer("cus", timezone="UTC")
    wallets.subscribe("cus", "p", "sub", utc(2025, 1, 1), billing_time="anniversary")
    wallet = wallets.wallet("cus", utc(2025, 1, 1), granted_credits="100")
    for n in range(len(prices)):
        wallets.events("sub", f"m{n}", (utc(2025, 1, 1, 1), {}))
    wallets.tick(utc(2025, 2, 1))
    [invoice] = [i for i in wallets.invoices() if i.fees]
    charge_fees = sorted(f.amount_cents for f in invoice.fees if f.fee_type == "charge")
    assert charge_fees == fees
    assert all(f.taxes_amount_cents == 0 for f in invoice.fees)
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents,
            invoice.sub_total_including_taxes_amount_cents) == totals  # fmt: skip
    assert last_invoice(wallets) == (totals[2], totals[2], 0)
    assert wallets.balance(wallet) == balance
