"""Helpers for wallet scenarios: wallets made and read through the service layer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from meterbill.wallets import service
from meterbill.wallets.models import Wallet, WalletTransaction
from meterbill.wallets.schemas import parse_transaction, parse_wallet, wallet_object
from tests.scenarios.billing import Billing, utc


class Wallets(Billing):
    def wallet(self, customer: str, at: datetime, **fields: Any) -> str:
        body = {"external_customer_id": customer, "rate_amount": "1", "currency": "EUR", **fields}
        with self.database.transaction() as session:
            wallet, _made = service.create_wallet(
                session, self.org.id, parse_wallet(body, creating=True), at
            )
            return str(wallet.id)

    def top_up(self, wallet_id: str, at: datetime, **fields: Any) -> list[str]:
        with self.database.transaction() as session:
            made = service.create_transactions(
                session, self.org.id, parse_transaction({"wallet_id": wallet_id, **fields}), at
            )
            return [str(item.id) for item in made]

    def read(self, wallet_id: str, at: datetime) -> dict[str, Any]:
        with self.database.transaction(write=False) as session:
            wallet = service.find_wallet(session, self.org.id, wallet_id)
            [view] = service.wallet_views(session, [wallet], at)
            return wallet_object(view)

    def balance(self, wallet_id: str) -> int:
        with self.database.transaction(write=False) as session:
            return service.find_wallet(session, self.org.id, wallet_id).balance_cents

    def transactions(self, wallet_id: str) -> list[WalletTransaction]:
        with self.database.transaction(write=False) as session:
            wallet = session.get(Wallet, service.find_wallet(session, self.org.id, wallet_id).id)
            assert wallet is not None
            rows = list(
                session.scalars(
                    select(WalletTransaction)
                    .where(WalletTransaction.wallet_id == wallet.id)
                    .order_by(WalletTransaction.created_at, WalletTransaction.transaction_status)
                )
            )
            session.expunge_all()
            return rows


def standard(metric_id: str, amount: str, **fields: Any) -> dict[str, Any]:
    return {"billable_metric_id": metric_id, "charge_model": "standard",
            "properties": {"amount": amount}, **fields}  # fmt: skip


def e14_setup(wallets: Wallets) -> str:
    """E14 (billing.md §14): three pay-in-advance charges, two of them taxed 24 %, and a
    wallet of 39 granted credits restricted to those two. Returns the wallet's id."""
    wallets.tax("vat", "24")
    count_1, count_2 = wallets.metric("count_1"), wallets.metric("count_2")
    other = wallets.metric("other")
    wallets.plan("p", [
        standard(count_1, "14.29", pay_in_advance=True, tax_codes=["vat"]),
        standard(count_2, "14.27", pay_in_advance=True, tax_codes=["vat"]),
        standard(other, "10", pay_in_advance=True),
    ])  # fmt: skip
    wallets.customer("cus", timezone="UTC")
    wallets.subscribe("cus", "p", "sub", utc(2024, 3, 1))
    restricted = {"billable_metric_codes": ["count_1", "count_2"]}
    return wallets.wallet("cus", utc(2024, 3, 1), granted_credits="39", applies_to=restricted)
