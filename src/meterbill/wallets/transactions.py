"""A wallet's transactions as written, and what each does to its balance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterbill.wallets.credits import credits_of_cents
from meterbill.wallets.models import Wallet, WalletTransaction


@dataclass(frozen=True)
class TopUp:
    """How a top-up was asked for: by hand, or by one of the wallet's rules."""

    source: str = "manual"
    name: str | None = None
    metadata: list[dict[str, str]] | None = None
    invoice_requires_successful_payment: bool | None = None
    rule_id: uuid.UUID | None = None
    run_key: str | None = None
    # The transaction's own priority (1 to 50), not the wallet's: Lago defaults it to 50.
    priority: int = 50


def new_transaction(
    wallet: Wallet, cents: int, top_up: TopUp, now: datetime, **columns: Any
) -> WalletTransaction:
    return WalletTransaction(
        id=uuid.uuid4(),
        organization_id=wallet.organization_id,
        wallet_id=wallet.id,
        amount_cents=cents,
        credit_amount=credits_of_cents(cents, wallet.rate_amount, wallet.currency),
        source=top_up.source,
        name=top_up.name,
        metadata_items=top_up.metadata or [],
        priority=top_up.priority,
        rule_id=top_up.rule_id,
        run_key=top_up.run_key,
        created_at=now,
        updated_at=now,
        **columns,
    )


def credit_balance(wallet: Wallet, cents: int, now: datetime) -> None:
    wallet.balance_cents += cents
    wallet.last_balance_sync_at = now
    wallet.updated_at = now
