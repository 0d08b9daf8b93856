"""Wallet rules: creation under the customer's currency lock, top-ups (granted credits
settle at once, paid ones through a credit invoice), voids, termination, and what
happens to transactions when their invoice is paid or voided (billing.md §9)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.metadata import MetadataChange
from meterbill.core.money import to_cents
from meterbill.core.pagination import Page, PageRequest, paginate
from meterbill.core.periods import local_date
from meterbill.core.records import flush_unique, key_or_not_found, uuid_or_none
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.customers.service import assign_currency, find_customer
from meterbill.invoices.building import BillingContext, BuiltFee
from meterbill.invoices.computation import apply_amounts
from meterbill.invoices.lifecycle import close_or_number, new_invoice
from meterbill.invoices.models import Invoice
from meterbill.invoices.run import lock_for_numbering
from meterbill.metrics.models import BillableMetric
from meterbill.organizations.models import Organization
from meterbill.wallets.balances import ongoing_usage
from meterbill.wallets.credits import cents_of_credits
from meterbill.wallets.depletion import check_wallets
from meterbill.wallets.models import (
    RecurringTransactionRule,
    Wallet,
    WalletTarget,
    WalletTransaction,
)
from meterbill.wallets.schemas import (
    TRANSACTION_FILTERS,
    RuleInput,
    TransactionInput,
    WalletInput,
    WalletView,
    code_from_name,
)
from meterbill.wallets.transactions import TopUp, credit_balance, new_transaction
from meterbill.webhooks.outbox import emit

# --- finding -----------------------------------------------------------------------


def find_wallet(
    session: Session, organization_id: uuid.UUID, wallet_id: str, *, lock: bool = False
) -> Wallet:
    key = key_or_not_found(wallet_id, "wallet")
    query = select(Wallet).where(Wallet.id == key, Wallet.organization_id == organization_id)
    wallet = session.scalar(
        query.with_for_update().execution_options(populate_existing=True) if lock else query
    )
    if wallet is None:
        raise NotFound("wallet")
    return wallet


def find_customer_wallet(
    session: Session,
    organization_id: uuid.UUID,
    external_customer_id: str,
    code: str,
    *,
    lock: bool = False,
) -> Wallet:
    """The customer's wallet with this code: the active one, else the latest."""
    customer = find_customer(session, organization_id, external_customer_id)
    query = (
        select(Wallet)
        .where(Wallet.customer_id == customer.id, Wallet.code == code)
        .order_by((Wallet.status == "active").desc(), Wallet.created_at.desc())
        .limit(1)
    )
    wallet = session.scalar(
        query.with_for_update().execution_options(populate_existing=True) if lock else query
    )
    if wallet is None:
        raise NotFound("wallet")
    return wallet


def list_wallets(
    session: Session, organization_id: uuid.UUID, external_customer_id: str | None,
    page: PageRequest,
) -> Page[Wallet]:  # fmt: skip
    if not external_customer_id:
        raise NotFound("customer")
    customer = find_customer(session, organization_id, external_customer_id)
    query = (
        select(Wallet)
        .where(Wallet.customer_id == customer.id)
        .order_by(Wallet.created_at.desc(), Wallet.id.desc())
    )
    return paginate(session, query, page)


def wallet_views(session: Session, wallets: Sequence[Wallet], now: datetime) -> list[WalletView]:
    """The wallets as their objects show them, ongoing balances computed once a customer."""
    if not wallets:
        return []
    customers = {wallet.customer_id for wallet in wallets}
    usage: dict[uuid.UUID, int] = {}
    externals: dict[uuid.UUID, str] = {}
    entity: dict[uuid.UUID, str | None] = {}
    for customer_id in customers:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        organization = session.get(Organization, customer.organization_id)
        externals[customer_id] = customer.external_id
        entity[customer_id] = organization.billing_entity_code if organization else None
        everyone = list(session.scalars(select(Wallet).where(Wallet.customer_id == customer_id)))
        usage.update(ongoing_usage(session, customer, everyone, now))
    ids = [wallet.id for wallet in wallets]
    codes: dict[uuid.UUID, list[str]] = {wallet_id: [] for wallet_id in ids}
    for wallet_id, code in session.execute(
        select(WalletTarget.wallet_id, BillableMetric.code)
        .join(BillableMetric, BillableMetric.id == WalletTarget.billable_metric_id)
        .where(WalletTarget.wallet_id.in_(ids))
        .order_by(BillableMetric.code)
    ).all():
        codes[wallet_id].append(code)
    rules: dict[uuid.UUID, list[RecurringTransactionRule]] = {wallet_id: [] for wallet_id in ids}
    for rule in session.scalars(
        select(RecurringTransactionRule)
        .where(RecurringTransactionRule.wallet_id.in_(ids))
        .order_by(RecurringTransactionRule.created_at)
    ):
        rules[rule.wallet_id].append(rule)
    return [
        WalletView(
            wallet=wallet,
            external_customer_id=externals[wallet.customer_id],
            billing_entity_code=entity[wallet.customer_id],
            metric_codes=codes[wallet.id],
            rules=rules[wallet.id],
            ongoing_usage_cents=usage.get(wallet.id, 0),
        )
        for wallet in wallets
    ]


# --- creating and editing ----------------------------------------------------------


def _credit_cents(wallet: Wallet, credits: Decimal | None, key: str) -> int:
    """The money of requested credits; a positive amount worth no cent is refused."""
    if credits is None or credits == 0:
        return 0
    cents = cents_of_credits(credits, wallet.rate_amount, wallet.currency)
    if cents <= 0:
        raise ValidationFailed.single(key, "amount_rounds_to_zero")
    return cents


def check_paid_limits(wallet: Wallet, cents: int, *, ignore: bool) -> None:
    """A paid top-up asked for by hand stays within the wallet's limits, unless told not to."""
    if ignore or cents == 0:
        return
    minimum, maximum = wallet.paid_top_up_min_amount_cents, wallet.paid_top_up_max_amount_cents
    if minimum is not None and cents < minimum:
        raise ValidationFailed.single("paid_credits", "amount_below_minimum")
    if maximum is not None and cents > maximum:
        raise ValidationFailed.single("paid_credits", "amount_above_maximum")


def _check_expiration(expiration_at: datetime | None, now: datetime) -> None:
    if expiration_at is not None and expiration_at <= now:
        raise ValidationFailed.single("expiration_at", "invalid_date")


def _set_applies_to(
    session: Session, wallet: Wallet, applies_to: dict[str, list[str]], now: datetime
) -> None:
    codes = applies_to["billable_metric_codes"]
    metrics = (
        list(
            session.scalars(
                select(BillableMetric).where(
                    BillableMetric.organization_id == wallet.organization_id,
                    BillableMetric.code.in_(codes),
                    BillableMetric.deleted_at.is_(None),
                )
            )
        )
        if codes
        else []
    )
    if len(metrics) != len(codes):
        raise ValidationFailed.single("applies_to", "invalid_limitations")
    wallet.fee_types = applies_to["fee_types"]
    session.query(WalletTarget).filter(WalletTarget.wallet_id == wallet.id).delete()
    session.add_all(
        WalletTarget(wallet_id=wallet.id, billable_metric_id=metric.id, created_at=now)
        for metric in metrics
    )


def _set_rules(session: Session, wallet: Wallet, rules: list[RuleInput], now: datetime) -> None:
    """The listed rules are the wallet's active ones: known ids are edited, the rest added,
    the active ones not listed terminated."""
    existing = {
        str(rule.id): rule
        for rule in session.scalars(
            select(RecurringTransactionRule).where(
                RecurringTransactionRule.wallet_id == wallet.id,
                RecurringTransactionRule.status == "active",
            )
        )
    }
    kept: set[str] = set()
    for item in rules:
        _check_expiration(item.columns.get("expiration_at"), now)
        rule = existing.get(item.lago_id or "")
        if rule is None:
            rule = RecurringTransactionRule(
                id=uuid.uuid4(), wallet_id=wallet.id, status="active", created_at=now
            )
            session.add(rule)
        for key, value in item.columns.items():
            setattr(rule, key, value)
        rule.updated_at = now
        kept.add(str(rule.id))
    for key, rule in existing.items():
        if key not in kept:
            _terminate_rule(rule, now)


def _terminate_rule(rule: RecurringTransactionRule, now: datetime) -> None:
    rule.status = "terminated"
    rule.terminated_at = now
    rule.updated_at = now


def create_wallet(
    session: Session, organization_id: uuid.UUID, data: WalletInput, now: datetime
) -> tuple[Wallet, list[WalletTransaction]]:
    assert data.external_customer_id is not None
    customer = find_customer(session, organization_id, data.external_customer_id)
    columns = dict(data.columns)
    currency = columns.pop("currency", None) or customer.currency
    if currency is None:
        raise ValidationFailed.single("currency", "value_is_mandatory")
    _check_expiration(columns.get("expiration_at"), now)
    code = columns.pop("code", None) or code_from_name(columns.get("name"))
    columns = {"metadata_items": {}, **columns}
    wallet = Wallet(
        id=uuid.uuid4(), organization_id=organization_id, customer_id=customer.id,
        status="active", currency=currency, code=code, balance_cents=0,
        consumed_amount_cents=0, fee_types=[], created_at=now,
        updated_at=now, **columns,
    )  # fmt: skip
    paid = _credit_cents(wallet, data.paid_credits, "paid_credits")
    granted = _credit_cents(wallet, data.granted_credits, "granted_credits")
    check_paid_limits(wallet, paid, ignore=data.ignore_paid_top_up_limits)
    assign_currency(session, customer, currency)
    session.add(wallet)
    flush_unique(session, "code")
    emit(session, "wallet.created", wallet, now)
    if data.applies_to is not None:
        _set_applies_to(session, wallet, data.applies_to, now)
    if data.rules:
        _set_rules(session, wallet, data.rules, now)
    top_up = TopUp(name=data.transaction_name, metadata=data.transaction_metadata,
                   priority=data.transaction_priority or 50)  # fmt: skip
    # Lago tops the new wallet up in a job after its creation: wallet.created comes first.
    made = record_top_up(session, wallet, Credits(paid=paid, granted=granted), top_up, now)
    session.flush()
    return wallet, made


def update_wallet(session: Session, wallet: Wallet, data: WalletInput, now: datetime) -> Wallet:
    if wallet.status == "terminated":
        raise ValidationFailed.single("wallet_id", "wallet_is_terminated")
    _check_expiration(data.columns.get("expiration_at"), now)
    for key, value in data.columns.items():
        setattr(wallet, key, value)
    wallet.updated_at = now
    if data.applies_to is not None:
        _set_applies_to(session, wallet, data.applies_to, now)
    if data.rules is not None:
        _set_rules(session, wallet, data.rules, now)
    session.flush()
    emit(session, "wallet.updated", wallet, now)
    return wallet


def terminate_wallet(session: Session, wallet: Wallet, now: datetime) -> Wallet:
    """The wallet stops paying invoices; its balance stays as it was (Lago's rule)."""
    if wallet.status != "active":
        return wallet
    wallet.status = "terminated"
    wallet.terminated_at = now
    wallet.updated_at = now
    session.execute(
        update(RecurringTransactionRule)
        .where(
            RecurringTransactionRule.wallet_id == wallet.id,
            RecurringTransactionRule.status == "active",
        )
        .values(status="terminated", terminated_at=now, updated_at=now)
    )
    session.flush()
    emit(session, "wallet.terminated", wallet, now)
    return wallet


def change_metadata(
    session: Session, wallet: Wallet, change: MetadataChange, now: datetime
) -> Wallet:
    """Lago's rule: a terminated wallet's metadata is frozen, except that one of its keys
    can still be removed."""
    if change.removed_key is None and wallet.status != "active":
        raise ValidationFailed.single("wallet_id", "wallet_is_terminated")
    wallet.metadata_items = change.apply(wallet.metadata_items)
    wallet.updated_at = now
    session.flush()
    return wallet


def terminate_customer_wallets(session: Session, customer: Customer, now: datetime) -> None:
    """For a customer's deletion: every active wallet ends, its balance voided."""
    for wallet in session.scalars(
        select(Wallet)
        .where(Wallet.customer_id == customer.id, Wallet.status == "active")
        .order_by(Wallet.created_at)
        .with_for_update()
        .execution_options(populate_existing=True)
    ):
        if wallet.balance_cents > 0:
            # Not checked for depletion: the wallet ends now, wallet.terminated tells it.
            voided = void(session, wallet, wallet.balance_cents, TopUp(), now)
            balance_moved(session, wallet, now)
            announce(session, [voided], now)
        terminate_wallet(session, wallet, now)


# --- transactions ------------------------------------------------------------------
#
# Lago's webhooks around a wallet's transactions: every move of the balance sends
# wallet.updated as it is made (its Wallets::Balance::Increase/DecreaseService); the
# transactions of one request are announced (wallet_transaction.created) once all are
# written; a paid top-up's credit invoice comes after that (BillPaidCreditJob runs after
# the commit). grant() and void() only move the balance: their callers tell, in that order.


def balance_moved(session: Session, wallet: Wallet, now: datetime) -> None:
    emit(session, "wallet.updated", wallet, now)


def announce(session: Session, transactions: Sequence[WalletTransaction], now: datetime) -> None:
    for transaction in transactions:
        emit(session, "wallet_transaction.created", transaction, now)


def grant(
    session: Session, wallet: Wallet, cents: int, top_up: TopUp, now: datetime
) -> WalletTransaction:
    """Free credits: settled and in the balance at once."""
    transaction = new_transaction(
        wallet, cents, top_up, now, status="settled", transaction_status="granted",
        transaction_type="inbound", settled_at=now,
        invoice_requires_successful_payment=False,
    )  # fmt: skip
    credit_balance(wallet, cents, now)
    session.add(transaction)
    return transaction


def void(
    session: Session, wallet: Wallet, cents: int, top_up: TopUp, now: datetime
) -> WalletTransaction:
    transaction = new_transaction(
        wallet, cents, top_up, now, status="settled", transaction_status="voided",
        transaction_type="outbound", settled_at=now,
        invoice_requires_successful_payment=False,
    )  # fmt: skip
    credit_balance(wallet, -cents, now)
    session.add(transaction)
    return transaction


def _pending_purchase(
    session: Session, wallet: Wallet, cents: int, top_up: TopUp, now: datetime
) -> WalletTransaction:
    """Paid credits: pending until their credit invoice is paid."""
    requires = top_up.invoice_requires_successful_payment
    if requires is None:
        requires = wallet.invoice_requires_successful_payment
    transaction = new_transaction(
        wallet, cents, top_up, now, status="pending", transaction_status="purchased",
        transaction_type="inbound", invoice_requires_successful_payment=requires,
    )  # fmt: skip
    session.add(transaction)
    session.flush()
    return transaction


@dataclass(frozen=True)
class Credits:
    """The minor units of each kind of credits one request asks for (0: none)."""

    paid: int = 0
    granted: int = 0
    voided: int = 0


def record_top_up(
    session: Session, wallet: Wallet, cents: Credits, top_up: TopUp, now: datetime
) -> list[WalletTransaction]:
    """One request's transactions, paid then granted then voided, with Lago's webhooks in
    Lago's order; only the first transaction carries the request's run key (a rule's
    idempotency key). A wallet whose balance moved is checked for depletion."""
    made: list[WalletTransaction] = []

    def this_one() -> TopUp:
        return replace(top_up, run_key=None) if made else top_up

    purchased = None
    if cents.paid:
        purchased = _pending_purchase(session, wallet, cents.paid, this_one(), now)
        made.append(purchased)
    if cents.granted:
        made.append(grant(session, wallet, cents.granted, this_one(), now))
        balance_moved(session, wallet, now)
    if cents.voided:
        made.append(void(session, wallet, cents.voided, this_one(), now))
        balance_moved(session, wallet, now)
    announce(session, made, now)
    if purchased is not None:
        purchased.invoice_id = _credit_invoice(session, wallet, purchased, now).id
    if cents.granted or cents.voided:
        check_wallets(session, [wallet], now)
    return made


def _credit_invoice(
    session: Session, wallet: Wallet, transaction: WalletTransaction, now: datetime
) -> Invoice:
    """billing.md §9.2: one credit fee, no taxes, no coupons; finalized at once, or kept
    open (unlisted, unnumbered) until paid when the payment must succeed first."""
    customer = session.get(Customer, wallet.customer_id)
    organization = session.get(Organization, wallet.organization_id)
    assert customer is not None and organization is not None
    timezone = applicable_timezone(customer, organization)
    today = local_date(now, timezone)
    invoice = new_invoice(
        customer, organization, invoice_type="credit", currency=wallet.currency,
        billing_date=today, issuing_date=today, now=now,
    )  # fmt: skip
    session.add(invoice)
    session.flush()
    ctx = BillingContext(
        session=session, customer=customer, timezone=timezone, currency=wallet.currency, now=now
    )
    rate = wallet.rate_amount
    fee = ctx.new_fee(
        fee_type="credit",
        # Lago names a credit fee after its transaction, else after the fee type.
        item_code="credit",
        item_name=transaction.name or "credit",
        item_id=transaction.id,
        item_type="WalletTransaction",
        invoice_display_name=transaction.name or "credit",
        amount_cents=transaction.amount_cents,
        precise_amount_cents=Decimal(transaction.amount_cents),
        unit_amount_cents=to_cents(rate, wallet.currency),
        precise_unit_amount=rate,
        units=transaction.credit_amount,
        total_aggregated_units=transaction.credit_amount,
        events_count=0,
        amount_details={},
        properties={},
    )
    apply_amounts(session, invoice, [BuiltFee(fee, [])], now, with_coupons=False, fresh=True)
    if transaction.invoice_requires_successful_payment:
        invoice.status = "open"
    else:
        # A top-up always has a fee worth something: it is numbered, never closed.
        close_or_number(session, invoice, customer, organization, now)
    session.flush()
    return invoice


def create_transactions(
    session: Session, organization_id: uuid.UUID, data: TransactionInput, now: datetime
) -> list[WalletTransaction]:
    """POST /wallet_transactions: one transaction per non-zero kind (paid, granted, voided)."""
    key = uuid_or_none(data.wallet_id)
    if key is None:
        raise ValidationFailed.single("wallet_id", "wallet_not_found")
    mine = (Wallet.id == key, Wallet.organization_id == organization_id)
    owner = session.scalar(select(Wallet.customer_id).where(*mine))
    if owner is not None:
        lock_for_numbering(session, organization_id, owner)
    wallet = session.scalar(
        select(Wallet).where(*mine).with_for_update().execution_options(populate_existing=True)
    )
    if wallet is None:
        raise ValidationFailed.single("wallet_id", "wallet_not_found")
    if wallet.status != "active":
        raise ValidationFailed.single("wallet_id", "wallet_is_terminated")
    paid = _credit_cents(wallet, data.paid_credits, "paid_credits")
    granted = _credit_cents(wallet, data.granted_credits, "granted_credits")
    voided = _credit_cents(wallet, data.voided_credits, "voided_credits")
    check_paid_limits(wallet, paid, ignore=data.ignore_paid_top_up_limits)
    if voided > wallet.balance_cents:
        raise ValidationFailed.single("voided_credits", "insufficient_credits")
    top_up = TopUp(
        name=data.name,
        metadata=data.metadata,
        invoice_requires_successful_payment=data.invoice_requires_successful_payment,
        priority=data.priority or 50,
    )
    made = record_top_up(
        session, wallet, Credits(paid=paid, granted=granted, voided=voided), top_up, now
    )
    session.flush()
    return made


def find_transaction(
    session: Session, organization_id: uuid.UUID, transaction_id: str
) -> tuple[WalletTransaction, Wallet]:
    key = key_or_not_found(transaction_id, "wallet_transaction")
    row = session.execute(
        select(WalletTransaction, Wallet)
        .join(Wallet, Wallet.id == WalletTransaction.wallet_id)
        .where(WalletTransaction.id == key, WalletTransaction.organization_id == organization_id)
    ).first()
    if row is None:
        raise NotFound("wallet_transaction")
    return row[0], row[1]


def list_transactions(
    session: Session, wallet: Wallet, filters: dict[str, str | None], page: PageRequest
) -> Page[WalletTransaction]:
    query = select(WalletTransaction).where(WalletTransaction.wallet_id == wallet.id)
    for key, allowed in TRANSACTION_FILTERS.items():
        value = filters.get(key)
        if value is None:
            continue
        if value not in allowed:
            raise ValidationFailed.single(key, "value_is_invalid")
        query = query.where(getattr(WalletTransaction, key) == value)
    query = query.order_by(WalletTransaction.created_at.desc(), WalletTransaction.id.desc())
    return paginate(session, query, page)


def _pending_purchases(session: Session, invoice: Invoice) -> list[WalletTransaction]:
    """The paid credits a credit invoice is selling, not settled yet."""
    return list(
        session.scalars(
            select(WalletTransaction).where(
                WalletTransaction.invoice_id == invoice.id,
                WalletTransaction.transaction_status == "purchased",
                WalletTransaction.status == "pending",
            )
        )
    )


def _locked_wallet(session: Session, wallet_id: uuid.UUID) -> Wallet | None:
    """The wallet locked and read afresh (another worker may have changed it)."""
    return session.scalar(
        select(Wallet)
        .where(Wallet.id == wallet_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# --- invoices paid or voided -------------------------------------------------------


def credit_invoice_paid(
    session: Session, invoice: Invoice, payment_status: str, now: datetime
) -> None:
    """A credit invoice's payment settles its purchased credits, or fails them."""
    if invoice.invoice_type != "credit" or payment_status not in ("succeeded", "failed"):
        return
    lock_for_numbering(session, invoice.organization_id, invoice.customer_id)
    credited: list[Wallet] = []
    for transaction in _pending_purchases(session, invoice):
        transaction.updated_at = now
        if payment_status == "failed":
            transaction.status = "failed"
            transaction.failed_at = now
            emit(session, "wallet_transaction.updated", transaction, now)
            continue
        wallet = _locked_wallet(session, transaction.wallet_id)
        assert wallet is not None
        transaction.status = "settled"
        transaction.settled_at = now
        # Lago settles the transaction, then increases the balance (ApplyPaidCreditsService).
        emit(session, "wallet_transaction.updated", transaction, now)
        credit_balance(wallet, transaction.amount_cents, now)
        balance_moved(session, wallet, now)
        credited.append(wallet)
    if payment_status == "succeeded" and invoice.status == "open":
        customer = session.get(Customer, invoice.customer_id)
        organization = session.get(Organization, invoice.organization_id)
        assert customer is not None and organization is not None
        close_or_number(session, invoice, customer, organization, now)
        invoice.payment_status = "succeeded"
    session.flush()
    # One customer's wallets: its usage is computed once for all of them.
    check_wallets(session, list(dict.fromkeys(credited)), now)


def invoice_voided(session: Session, invoice: Invoice, now: datetime) -> None:
    """Credits a voided invoice consumed go back to their wallets (if still active); the
    credits a voided credit invoice was selling will never be paid: they fail."""
    recredited: list[Wallet] = []
    for pending in _pending_purchases(session, invoice):
        pending.status, pending.failed_at, pending.updated_at = "failed", now, now
        # The top-up will never be paid: told as a failed payment is. (Lago's void leaves
        # such a transaction pending; meterbill fails it, so it says so.)
        emit(session, "wallet_transaction.updated", pending, now)
    for consumed in list(
        session.scalars(
            select(WalletTransaction).where(
                WalletTransaction.invoice_id == invoice.id,
                WalletTransaction.transaction_status == "invoiced",
                WalletTransaction.status == "settled",
            )
        )
    ):
        wallet = _locked_wallet(session, consumed.wallet_id)
        if wallet is None or wallet.status != "active":
            continue
        transaction = grant(session, wallet, consumed.amount_cents, TopUp(), now)
        transaction.voided_invoice_id = invoice.id
        # Lago's order here (its recredit runs inside the void's transaction): the
        # transaction is announced at once, the balance's wallet.updated at the commit.
        announce(session, [transaction], now)
        balance_moved(session, wallet, now)
        recredited.append(wallet)
    session.flush()
    check_wallets(session, list(dict.fromkeys(recredited)), now)
