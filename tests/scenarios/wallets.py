"""Helpers for wallet scenarios: wallets made and read through the service layer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from meterbill.wallets import service
from meterbill.wallets.models import Wallet, WalletTransaction
from meterbill.wallets.schemas import parse_transaction, parse_wallet, wallet_object
from tests.scenarios.billing import Billing


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
