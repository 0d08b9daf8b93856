"""The billing run's performance contract for wallets: customers without a wallet cost
no query at finalization (note_wallet_holders, like the coupon holders)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from meterbill.core.db import Database
from meterbill.customers.models import Customer
from meterbill.invoices.lifecycle import billing_run, new_invoice
from meterbill.organizations.models import Organization
from meterbill.wallets.consumption import WALLET_HOLDERS, apply_prepaid_credits
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_customers_without_wallets_cost_no_query(database: Database, org: Org) -> None:
    wallets = Wallets(database, org)
    wallets.customer("holder", timezone="UTC")
    wallets.customer("plain", timezone="UTC")
    wallets.customer("spent", timezone="UTC")
    wallets.wallet("holder", utc(2024, 1, 1), granted_credits="10")
    wallets.wallet("spent", utc(2024, 1, 1))  # active, but nothing to spend
    with database.transaction() as session:
        customers = {
            customer.external_id: customer
            for customer in session.scalars(
                select(Customer).where(Customer.organization_id == org.id)
            )
        }
        organization = session.get(Organization, org.id)
        assert organization is not None
        with billing_run(session, customers.values()):
            assert session.info[WALLET_HOLDERS] == {customers["holder"].id}
            for name in ("plain", "spent"):
                invoice = new_invoice(
                    customers[name], organization, invoice_type="subscription",
                    currency="EUR", billing_date=utc(2024, 2, 1).date(),
                    issuing_date=utc(2024, 2, 1).date(), now=utc(2024, 2, 1),
                )  # fmt: skip
                invoice.total_amount_cents = 500
                with counted(session) as statements:
                    apply_prepaid_credits(session, invoice, [], utc(2024, 2, 1))
                assert statements == []
                assert invoice.total_amount_cents == 500
        assert WALLET_HOLDERS not in session.info
        session.rollback()
