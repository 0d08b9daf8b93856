"""apply_prepaid_credits on real rows, for any wallets and fees: no wallet pays more than
its balance, the invoice no more than its total, no fee more than its cap but for the
invoice's rounding cents (§9.3)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.invoices.building import BuiltFee
from meterbill.invoices.lifecycle import new_invoice
from meterbill.invoices.models import Fee
from meterbill.organizations.models import Organization
from meterbill.wallets.consumption import apply_prepaid_credits, fee_cap_cents
from meterbill.wallets.models import Wallet, WalletTransaction
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets

NOW = utc(2024, 2, 1)

wallet_strategy = st.tuples(
    st.integers(min_value=0, max_value=20_000),  # balance
    st.integers(min_value=1, max_value=50),  # priority
    st.sets(st.sampled_from(["charge", "subscription"]), max_size=1),  # fee_types
)
fee_strategy = st.tuples(
    st.sampled_from(["charge", "subscription"]),
    st.integers(min_value=0, max_value=10_000),  # amount
    st.integers(min_value=0, max_value=2_000),  # coupons
    st.integers(min_value=0, max_value=2_000),  # taxes
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    wallets=st.lists(wallet_strategy, min_size=1, max_size=3),
    fees=st.lists(fee_strategy, min_size=1, max_size=4),
    total=st.integers(min_value=0, max_value=30_000),
)
def test_consumption_bounds(
    database: Database,
    org: Org,
    wallets: list[tuple[int, int, set[str]]],
    fees: list[tuple[str, int, int, int]],
    total: int,
) -> None:
    external = f"cus-{uuid.uuid4().hex[:8]}"
    Wallets(database, org).customer(external, timezone="UTC", currency="EUR")
    with database.transaction() as session:
        customer = session.scalars(
            select(Customer).where(
                Customer.organization_id == org.id, Customer.external_id == external
            )
        ).one()
        organization = session.get(Organization, org.id)
        assert organization is not None
        rows = []
        for index, (balance, priority, fee_types) in enumerate(wallets):
            wallet = Wallet(
                organization_id=org.id, customer_id=customer.id, status="active",
                currency="EUR", code=f"w{index}", priority=priority, rate_amount=Decimal(1),
                balance_cents=balance, consumed_amount_cents=0, fee_types=sorted(fee_types),
                metadata_items={}, created_at=NOW - timedelta(days=10 - index),
                updated_at=NOW,
            )  # fmt: skip
            session.add(wallet)
            rows.append(wallet)
        session.flush()
        built = [
            BuiltFee(
                Fee(fee_type=fee_type, amount_cents=amount,
                    precise_coupons_amount_cents=Decimal(min(coupons, amount)),
                    taxes_amount_cents=taxes),
                [],
            )
            for fee_type, amount, coupons, taxes in fees
        ]  # fmt: skip
        invoice = new_invoice(
            customer, organization, invoice_type="subscription", currency="EUR",
            billing_date=NOW.date(), issuing_date=NOW.date(), now=NOW,
        )  # fmt: skip
        invoice.total_amount_cents = total
        session.add(invoice)
        session.flush()
        balances = {wallet.id: wallet.balance_cents for wallet in rows}
        apply_prepaid_credits(session, invoice, built, NOW)
        session.flush()
        spent = {
            t.wallet_id: t.amount_cents
            for t in session.scalars(
                select(WalletTransaction).where(WalletTransaction.invoice_id == invoice.id)
            )
        }
        paid = sum(spent.values())
        assert invoice.prepaid_credit_amount_cents == paid
        assert invoice.total_amount_cents == total - paid >= 0
        # Beyond the fees' caps, a wallet for every fee pays at most the invoice's
        # rounding cents: one a fee.
        assert paid <= sum(fee_cap_cents(item.fee) for item in built) + len(built)
        for wallet in rows:
            assert 0 <= spent.get(wallet.id, 0) <= balances[wallet.id]
            assert wallet.balance_cents == balances[wallet.id] - spent.get(wallet.id, 0)
        for fee_type in ("charge", "subscription"):
            cap = sum(fee_cap_cents(i.fee) for i in built if i.fee.fee_type == fee_type)
            only = [w for w in rows if w.fee_types == [fee_type]]
            assert sum(spent.get(w.id, 0) for w in only) <= cap
        session.rollback()
