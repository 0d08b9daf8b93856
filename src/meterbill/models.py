"""Every table, imported in one place for Alembic and for the test schema."""

from collections.abc import Callable
from typing import Any

from meterbill.add_ons.models import AddOn, AddOnTax
from meterbill.core.db import Base
from meterbill.coupons.models import AppliedCoupon, Coupon, CouponTarget
from meterbill.credit_notes.models import CreditNote, CreditNoteItem, CreditNoteTax
from meterbill.customers.models import Customer, CustomerMetadata
from meterbill.documents.models import Document
from meterbill.events.models import Event, EventRollup, EventValidationRun
from meterbill.invoices.models import (
    Credit,
    Fee,
    FeeTax,
    Invoice,
    InvoiceMetadata,
    InvoiceSubscription,
    InvoiceTax,
)
from meterbill.metrics.models import BillableMetric, BillableMetricFilter
from meterbill.organizations.models import ApiKey, Organization
from meterbill.payment_providers.models import (
    PaymentProvider,
    ProviderCustomer,
    ProviderEvent,
    Refund,
)
from meterbill.payments.models import Payment
from meterbill.plans.models import (
    Charge,
    ChargeFilter,
    ChargeTax,
    CommitmentTax,
    MinimumCommitment,
    Plan,
    PlanTax,
)
from meterbill.subscriptions.models import Subscription
from meterbill.taxes.models import CustomerTax, Tax
from meterbill.users.models import Invitation, User, UserSession
from meterbill.wallets.models import (
    RecurringTransactionRule,
    Wallet,
    WalletTarget,
    WalletTransaction,
)
from meterbill.webhooks.models import Webhook, WebhookEndpoint, WebhookKeys

__all__ = [
    "AddOn",
    "AddOnTax",
    "ApiKey",
    "AppliedCoupon",
    "Base",
    "BillableMetric",
    "BillableMetricFilter",
    "Charge",
    "ChargeFilter",
    "ChargeTax",
    "CommitmentTax",
    "Coupon",
    "CouponTarget",
    "Credit",
    "CreditNote",
    "CreditNoteItem",
    "CreditNoteTax",
    "Customer",
    "CustomerMetadata",
    "CustomerTax",
    "Document",
    "Event",
    "EventRollup",
    "EventValidationRun",
    "Fee",
    "FeeTax",
    "Invitation",
    "Invoice",
    "InvoiceMetadata",
    "InvoiceSubscription",
    "InvoiceTax",
    "MinimumCommitment",
    "Organization",
    "Payment",
    "PaymentProvider",
    "Plan",
    "PlanTax",
    "ProviderCustomer",
    "ProviderEvent",
    "RecurringTransactionRule",
    "Refund",
    "Subscription",
    "Tax",
    "User",
    "UserSession",
    "Wallet",
    "WalletTarget",
    "WalletTransaction",
    "Webhook",
    "WebhookEndpoint",
    "WebhookKeys",
]  # fmt: skip


def on_database(dialect: str) -> Callable[..., bool]:
    """Alembic's include_object: a schema item declared for one database only
    (`Index(...).ddl_if(dialect="postgresql")`, or a table whose `info` names its
    dialect) is compared on that database only."""

    def include(item: Any, _name: Any, _type: Any, _reflected: Any, _compare_to: Any) -> bool:
        if getattr(item, "info", {}).get("dialect") not in (None, dialect):
            return False
        condition = getattr(item, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)

    return include
