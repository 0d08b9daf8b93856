"""Prepaid credits paying a subscription invoice at finalization (billing.md §9.3).

Called from invoices.lifecycle.finalize_built once the invoice's fees, coupons and
taxes are written (and credit notes taken off): what is left of its total is paid by
the customer's active wallets in its currency, by priority then age, each fee no more
than its own amount net of coupons plus its taxes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.money import round_half_up
from meterbill.core.rehearsal import for_update
from meterbill.invoices.building import BuiltFee
from meterbill.invoices.models import Fee, Invoice
from meterbill.invoices.run import lock_for_numbering
from meterbill.plans.models import Charge
from meterbill.usage.service import TARGET_WALLET_KEY
from meterbill.wallets.allocation import Bucket, Payer, allocate, buckets_of
from meterbill.wallets.models import Wallet, WalletTarget
from meterbill.wallets.transactions import TopUp, credit_balance, new_transaction
from meterbill.webhooks.outbox import emit

# Within a billing run: the customers that had an active wallet with a balance when it
# began (a run only ever spends balances, it never tops one up).
WALLET_HOLDERS = "meterbill.wallet_holders"

CONSUMING_TYPES = ("subscription",)


def note_wallet_holders(session: Session, customer_ids: set[uuid.UUID]) -> None:
    session.info[WALLET_HOLDERS] = set(
        session.scalars(
            select(Wallet.customer_id).where(
                Wallet.customer_id.in_(customer_ids),
                Wallet.status == "active",
                Wallet.balance_cents > 0,
            )
        )
    )


def forget_wallet_holders(session: Session) -> None:
    session.info.pop(WALLET_HOLDERS, None)


def fee_cap_cents(fee: Fee) -> int:
    """What credits may pay of one fee: its amount net of coupons, plus its taxes."""
    net = round_half_up(fee.amount_cents - fee.precise_coupons_amount_cents)
    return max(int(net) + fee.taxes_amount_cents, 0)


def wallet_targets(
    session: Session, wallet_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    targets: dict[uuid.UUID, set[uuid.UUID]] = {wallet_id: set() for wallet_id in wallet_ids}
    if not wallet_ids:
        return targets
    for wallet_id, metric_id in session.execute(
        select(WalletTarget.wallet_id, WalletTarget.billable_metric_id).where(
            WalletTarget.wallet_id.in_(wallet_ids)
        )
    ).all():
        targets[wallet_id].add(metric_id)
    return targets


def fee_target(fee: Fee, targeting: set[uuid.UUID]) -> str | None:
    """The wallet code a fee's events named, when its charge accepts target wallets."""
    if fee.charge_id not in targeting or not fee.grouped_by:
        return None
    code = fee.grouped_by.get(TARGET_WALLET_KEY)
    return str(code) if code is not None else None


def targeting_charges(session: Session, fees: Sequence[Fee]) -> set[uuid.UUID]:
    """Among the fees' charges, those that accept target wallets."""
    ids = {fee.charge_id for fee in fees if fee.charge_id is not None and fee.grouped_by}
    if not ids:
        return set()
    return set(
        session.scalars(
            select(Charge.id).where(Charge.id.in_(ids), Charge.accepts_target_wallet.is_(True))
        )
    )


def payers(session: Session, wallets: Sequence[Wallet], *, balances: bool = True) -> list[Payer]:
    targets = wallet_targets(session, [wallet.id for wallet in wallets])
    return [
        Payer(
            key=wallet.id,
            balance_cents=wallet.balance_cents if balances else 0,
            fee_types=frozenset(wallet.fee_types or ()),
            metric_ids=frozenset(targets[wallet.id]),
            code=wallet.code,
        )
        for wallet in wallets
    ]


def apply_prepaid_credits(
    session: Session, invoice: Invoice, built: Sequence[BuiltFee], now: datetime
) -> None:
    """Take the wallets' credits off the invoice's remaining total, one transaction each."""
    if invoice.invoice_type not in CONSUMING_TYPES:
        return
    known = session.info.get(WALLET_HOLDERS)
    if known is not None and invoice.customer_id not in known:
        return
    if invoice.total_amount_cents <= 0:
        return
    # No autoflush: the invoice's new figures go out with its number, in one UPDATE.
    with session.no_autoflush:
        lock_for_numbering(session, invoice.organization_id, invoice.customer_id)
        query = (
            select(Wallet)
            .where(
                Wallet.customer_id == invoice.customer_id,
                Wallet.status == "active",
                Wallet.currency == invoice.currency,
                Wallet.balance_cents > 0,
            )
            .order_by(Wallet.priority, Wallet.created_at, Wallet.id)
        )
        wallets = list(
            session.scalars(
                # Another worker may have spent from them since this session read them.
                for_update(session, query).execution_options(populate_existing=True)
            )
        )
        holders = payers(session, wallets) if wallets else []
    if not wallets:
        return
    targeting = targeting_charges(session, [item.fee for item in built])
    buckets = buckets_of(
        (fee.fee_type, item.metric_id, fee_cap_cents(fee), fee_target(fee, targeting))
        for item in built
        for fee in (item.fee,)
    )
    # The fees' rounded caps can add up to less than the invoice's total, whose taxes
    # are rounded once over all fees (8 fees of 1 cent + 0.4 tax: 8 cents of caps, 11 of
    # total): a wallet for every fee pays those rounding cents too, at most one a fee
    # (Lago caps at the total only).
    rest = min(invoice.total_amount_cents - sum(bucket.cents for bucket in buckets), len(built))
    if rest > 0:
        buckets.append(Bucket(fee_type="", metric_id=None, cents=rest))
    paid = allocate(buckets, holders, invoice.total_amount_cents)
    made = []
    for wallet in wallets:
        cents = paid[wallet.id]
        if cents <= 0:
            continue
        credit_balance(wallet, -cents, now)
        wallet.consumed_amount_cents += cents
        wallet.last_consumed_credit_at = now
        transaction = new_transaction(
            wallet, cents, TopUp(), now, invoice_id=invoice.id, status="settled",
            transaction_status="invoiced", transaction_type="outbound", settled_at=now,
        )  # fmt: skip
        session.add(transaction)
        # Lago's order: each wallet's wallet.updated as its balance decreases, then the
        # transactions, together (Credits::AppliedPrepaidCreditsService). No depletion
        # check here: the invoice is still a draft, its fees would count twice in the
        # ongoing balance; the clock checks after its billing steps.
        emit(session, "wallet.updated", wallet, now)
        made.append(transaction)
    for transaction in made:
        emit(session, "wallet_transaction.created", transaction, now)
    total = sum(transaction.amount_cents for transaction in made)
    invoice.prepaid_credit_amount_cents = total
    invoice.total_amount_cents = max(invoice.total_amount_cents - total, 0)
