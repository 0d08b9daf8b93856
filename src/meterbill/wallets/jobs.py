"""The wallets' clock jobs (billing.md §9.1-§9.2, §13), each idempotent: expire wallets
and rules, top wallets up on their rules' anniversaries and when their ongoing balance
falls to a threshold."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterbill.core.isolation import Failure, isolated
from meterbill.core.periods import local_date, period_containing
from meterbill.core.rehearsal import for_update
from meterbill.customers.models import Customer
from meterbill.customers.schemas import applicable_timezone
from meterbill.invoices.run import lock_for_numbering
from meterbill.invoices.scope import Scope, within
from meterbill.organizations.models import Organization
from meterbill.wallets.balances import ongoing_balance_cents
from meterbill.wallets.credits import cents_of_credits, credits_of_cents
from meterbill.wallets.models import RecurringTransactionRule, Wallet, WalletTransaction
from meterbill.wallets.service import Credits, record_top_up, terminate_wallet
from meterbill.wallets.transactions import TopUp


def is_anniversary(interval: str, anchor: date, today: date) -> bool:
    """Whether `today` starts a period of `interval` counted from `anchor` (the anchor day
    counts); a monthly anchor on the 31st falls on the last day of shorter months."""
    return (
        today >= anchor
        and period_containing(
            interval,
            "anniversary",
            anchor,
            today,  # type: ignore[arg-type]
        ).start
        == today
    )


Due = Callable[[RecurringTransactionRule, Wallet, str], bool]


def _claimed_rules(
    session: Session, scope: Scope | None, trigger: str, due: Due | None = None
) -> Iterator[tuple[RecurringTransactionRule, Wallet, str]]:
    """The active rules of active wallets (with the customer's time zone), each wallet
    locked in turn (skipped when another worker has it), after the locks of invoice
    numbering: a top-up may number an invoice. A rule that is not `due` is passed over
    before any lock is taken, and checked again once locked.

    Candidates come by organization then customer, the order every worker locks them in.
    """
    candidates = session.execute(
        select(RecurringTransactionRule, Wallet, Customer, Organization)
        .join(Wallet, Wallet.id == RecurringTransactionRule.wallet_id)
        .join(Customer, Customer.id == Wallet.customer_id)
        .join(Organization, Organization.id == Wallet.organization_id)
        .where(
            within(scope, Wallet.customer_id),
            Wallet.status == "active",
            RecurringTransactionRule.status == "active",
            RecurringTransactionRule.trigger == trigger,
        )
        .order_by(
            Wallet.organization_id,
            Wallet.customer_id,
            Wallet.created_at,
            RecurringTransactionRule.created_at,
        )
    ).all()
    for candidate, unlocked, customer, organization in candidates:
        timezone = applicable_timezone(customer, organization)
        if due is not None and not due(candidate, unlocked, timezone):
            continue
        lock_for_numbering(session, organization.id, customer.id)
        query = select(Wallet).where(Wallet.id == unlocked.id, Wallet.status == "active")
        wallet = session.scalar(
            for_update(session, query, skip_locked=True).execution_options(populate_existing=True)
        )
        rule = session.get(RecurringTransactionRule, candidate.id, populate_existing=True)
        if wallet is None or rule is None or rule.status != "active":
            continue
        if due is not None and not due(rule, wallet, timezone):
            continue
        yield rule, wallet, timezone


def expire_wallets(
    session: Session, now: datetime, failures: list[Failure], scope: Scope | None = None
) -> list[str]:
    """Each wallet in a savepoint: one that cannot be terminated is noted and skipped."""
    expired = []
    query = select(Wallet).where(
        within(scope, Wallet.customer_id),
        Wallet.status == "active",
        Wallet.expiration_at.is_not(None),
        Wallet.expiration_at <= now,
    )
    for wallet in session.scalars(
        for_update(session, query, skip_locked=True).execution_options(populate_existing=True)
    ):
        with isolated(session, failures, "expire_wallets", wallet=wallet.id,
                      customer=wallet.customer_id):  # fmt: skip
            terminate_wallet(session, wallet, now)
            expired.append(str(wallet.id))
    return expired


def expire_rules(session: Session, now: datetime, scope: Scope | None = None) -> None:
    query = (
        select(RecurringTransactionRule)
        .join(Wallet, Wallet.id == RecurringTransactionRule.wallet_id)
        .where(
            within(scope, Wallet.customer_id),
            RecurringTransactionRule.status == "active",
            RecurringTransactionRule.expiration_at.is_not(None),
            RecurringTransactionRule.expiration_at <= now,
        )
    )
    locked = for_update(session, query, of=RecurringTransactionRule, skip_locked=True)
    for rule in session.scalars(locked.execution_options(populate_existing=True)):
        rule.status = "terminated"
        rule.terminated_at = now
        rule.updated_at = now


def _ongoing_balance_credits(session: Session, wallet: Wallet, now: datetime) -> Decimal:
    cents = ongoing_balance_cents(session, wallet, now)
    return credits_of_cents(cents, wallet.rate_amount, wallet.currency)


def _top_up(
    session: Session, wallet: Wallet, rule: RecurringTransactionRule, paid: Decimal,
    granted: Decimal, top_up: TopUp, now: datetime,
) -> int:  # fmt: skip
    """Both kinds of credits of one run; credits worth no cent are skipped."""
    paid_cents = cents_of_credits(paid, wallet.rate_amount, wallet.currency) if paid > 0 else 0
    if paid_cents and not rule.ignore_paid_top_up_limits:
        # Rules buy at least the wallet's minimum, threshold ones at most its maximum.
        minimum = wallet.paid_top_up_min_amount_cents
        maximum = wallet.paid_top_up_max_amount_cents
        if minimum is not None:
            paid_cents = max(paid_cents, minimum)
        if maximum is not None and rule.trigger == "threshold":
            paid_cents = min(paid_cents, maximum)
    granted_cents = (
        cents_of_credits(granted, wallet.rate_amount, wallet.currency) if granted > 0 else 0
    )
    credits = Credits(paid=max(paid_cents, 0), granted=max(granted_cents, 0))
    return len(record_top_up(session, wallet, credits, top_up, now))


def _target_credits(rule: RecurringTransactionRule, ongoing: Decimal) -> tuple[Decimal, Decimal]:
    gap = max((rule.target_ongoing_balance or Decimal(0)) - ongoing, Decimal(0))
    return (Decimal(0), gap) if rule.grants_target_top_up else (gap, Decimal(0))


def interval_top_ups(
    session: Session, now: datetime, failures: list[Failure], scope: Scope | None = None
) -> int:
    """Rules with an interval trigger top their wallet up on each anniversary of their
    start (else the wallet's creation), once a day, never on the creation day."""

    def due(rule: RecurringTransactionRule, wallet: Wallet, timezone: str) -> bool:
        today = local_date(now, timezone)
        anchor = local_date(rule.started_at or wallet.created_at, timezone)
        return (
            rule.interval is not None
            and today != local_date(wallet.created_at, timezone)
            and is_anniversary(rule.interval, anchor, today)
        )

    made = 0
    for rule, wallet, timezone in _claimed_rules(session, scope, "interval", due):
        with isolated(session, failures, "interval_top_ups", rule=rule.id, wallet=wallet.id):
            made += _interval_top_up(session, rule, wallet, timezone, now)
    return made


def _interval_top_up(
    session: Session, rule: RecurringTransactionRule, wallet: Wallet, timezone: str,
    now: datetime,
) -> int:  # fmt: skip
    if rule.method == "target":
        paid, granted = _target_credits(rule, _ongoing_balance_credits(session, wallet, now))
    else:
        paid, granted = rule.paid_credits, rule.granted_credits
    top_up = _rule_top_up(rule, "interval", local_date(now, timezone).isoformat())
    try:
        with session.begin_nested():
            made = _top_up(session, wallet, rule, paid, granted, top_up, now)
            session.flush()
            return made
    except IntegrityError:
        return 0  # already topped up today (another tick or worker)


def _pending_purchased_credits(session: Session, wallet: Wallet) -> Decimal:
    cents = session.scalar(
        select(func.coalesce(func.sum(WalletTransaction.amount_cents), 0)).where(
            WalletTransaction.wallet_id == wallet.id,
            WalletTransaction.transaction_status == "purchased",
            WalletTransaction.status == "pending",
        )
    )
    return credits_of_cents(int(cents or 0), wallet.rate_amount, wallet.currency)


def threshold_top_ups(
    session: Session, now: datetime, failures: list[Failure], scope: Scope | None = None
) -> int:
    """Rules with a threshold trigger top up a wallet whose ongoing balance fell to it."""
    made = 0
    for rule, wallet, _timezone in _claimed_rules(session, scope, "threshold"):
        with isolated(session, failures, "threshold_top_ups", rule=rule.id, wallet=wallet.id):
            made += _threshold_top_up(session, rule, wallet, now)
    return made


def _threshold_top_up(
    session: Session, rule: RecurringTransactionRule, wallet: Wallet, now: datetime
) -> int:
    threshold = rule.threshold_credits or Decimal(0)
    ongoing = _ongoing_balance_credits(session, wallet, now)
    if ongoing > threshold:
        return 0
    if ongoing + _pending_purchased_credits(session, wallet) > threshold:
        return 0
    if rule.method == "target":
        paid, granted = _target_credits(rule, ongoing)
    else:
        paid, granted = rule.paid_credits, rule.granted_credits
        gap = threshold - ongoing
        if paid > 0 and gap > paid:
            paid = paid * ((gap / paid).to_integral_value(rounding=ROUND_FLOOR) + 1)
    made = _top_up(session, wallet, rule, paid, granted, _rule_top_up(rule, "threshold"), now)
    session.flush()
    return made


def _rule_top_up(rule: RecurringTransactionRule, source: str, run_key: str | None = None) -> TopUp:
    return TopUp(
        source=source,
        name=rule.transaction_name,
        metadata=rule.transaction_metadata,
        invoice_requires_successful_payment=rule.invoice_requires_successful_payment,
        rule_id=rule.id,
        run_key=run_key,
    )
