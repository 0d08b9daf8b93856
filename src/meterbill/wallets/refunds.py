"""Refunds of wallet top-ups: a credit note on a paid credit invoice gives the money back
and takes the credits it bought out of their wallet, as long as the wallet still holds them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.invoices.models import Fee, Invoice
from meterbill.wallets.depletion import check_wallets
from meterbill.wallets.models import Wallet, WalletTransaction
from meterbill.wallets.transactions import TopUp, credit_balance, new_transaction
from meterbill.webhooks.outbox import emit


def top_up_wallet(session: Session, invoice: Invoice, *, lock: bool = False) -> Wallet | None:
    """The active wallet a credit invoice bought credits for; None once it is terminated."""
    query = (
        select(Wallet)
        .join(WalletTransaction, WalletTransaction.wallet_id == Wallet.id)
        .join(Fee, Fee.item_id == WalletTransaction.id)
        .where(Fee.invoice_id == invoice.id, Fee.fee_type == "credit", Wallet.status == "active")
        .limit(1)
    )
    if lock:
        query = query.with_for_update(of=Wallet).execution_options(populate_existing=True)
    return session.scalar(query)


def refundable_cents(session: Session, invoice: Invoice) -> int:
    """What a credit note may give back of a top-up: no more than its wallet holds."""
    wallet = top_up_wallet(session, invoice)
    return max(wallet.balance_cents, 0) if wallet is not None else 0


def void_refunded_credits(
    session: Session, invoice: Invoice, cents: int, credit_note_id: uuid.UUID, now: datetime
) -> None:
    """The refunded amount's credits leave the wallet, on a transaction naming the note."""
    wallet = top_up_wallet(session, invoice, lock=True)
    if wallet is None or cents <= 0:
        return
    # Written here rather than through the service's void(): credit notes reach wallets
    # through this module alone, which imports nothing that imports credit notes back.
    session.add(
        new_transaction(
            wallet, cents, TopUp(), now, status="settled", transaction_status="voided",
            transaction_type="outbound", settled_at=now,
            invoice_requires_successful_payment=False, credit_note_id=credit_note_id,
        )
    )  # fmt: skip
    credit_balance(wallet, -cents, now)
    # As Lago's CreditNotes::CreateService voids them (WalletTransactions::VoidService):
    # the balance's wallet.updated, no wallet_transaction.created.
    emit(session, "wallet.updated", wallet, now)
    session.flush()
    check_wallets(session, [wallet], now)
