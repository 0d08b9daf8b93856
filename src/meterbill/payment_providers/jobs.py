"""The clock's steps for payment providers, in order: register meterbill's webhook
endpoint at Stripe where no signing secret was given, create customers at Stripe, then
collect invoices (their customers now known there), then refund credit notes.

Each claims its rows in a short transaction, calls Stripe outside any transaction, and
records each answer in a transaction of its own; Stripe unreachable leaves the rows
claimed for a later tick, so meterbill runs on and catches up once Stripe answers.
Not in a rehearsal (a preview): nothing is sent outside for a dry run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from meterbill.core.db import Transactions
from meterbill.invoices.scope import Scope
from meterbill.payment_providers.collection import CollectionReport, collect
from meterbill.payment_providers.customer_sync import SyncReport, sync_customers
from meterbill.payment_providers.options import ProviderOptions
from meterbill.payment_providers.refunds import RefundReport, refund_credit_notes
from meterbill.payment_providers.registration import register_webhooks


@dataclass
class PaymentsReport:
    customers: SyncReport = field(default_factory=SyncReport)
    collection: CollectionReport = field(default_factory=CollectionReport)
    refunds: RefundReport = field(default_factory=RefundReport)
    # Connections whose webhook endpoint meterbill registered at Stripe.
    webhooks_registered: list[str] = field(default_factory=list)


def register_provider_webhooks(
    db: Transactions,
    now: datetime,
    options: ProviderOptions,
    report: PaymentsReport,
    scope: Scope | None = None,
) -> None:
    register_webhooks(db, now, options, report.webhooks_registered, scope)


def sync_provider_customers(
    db: Transactions,
    now: datetime,
    options: ProviderOptions,
    report: PaymentsReport,
    scope: Scope | None = None,
) -> None:
    sync_customers(db, now, options, report.customers, scope)


def collect_payments(
    db: Transactions,
    now: datetime,
    options: ProviderOptions,
    report: PaymentsReport,
    scope: Scope | None = None,
) -> None:
    collect(db, now, options, report.collection, scope)


def refund_through_providers(
    db: Transactions,
    now: datetime,
    options: ProviderOptions,
    report: PaymentsReport,
    scope: Scope | None = None,
) -> None:
    refund_credit_notes(db, now, options, report.refunds, scope)
