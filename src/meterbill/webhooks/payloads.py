"""Each object a webhook carries, rendered by the same code as the API's GET.

Looked up by `outbox.render` when a webhook is enqueued; this module imports the
features' routes, so that the features' services need not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterbill.core.http import ApiContext
from meterbill.credit_notes.api import render_credit_notes
from meterbill.customers.api import render_customers
from meterbill.invoices import fees_api
from meterbill.invoices.api import render_invoices
from meterbill.subscriptions import api as subscriptions_api
from meterbill.wallets.models import Wallet
from meterbill.wallets.schemas import transaction_object, wallet_object
from meterbill.wallets.service import wallet_views


def _context(obj: Any, now: datetime) -> ApiContext:
    # The renderers read only the organization and the instant from the request context.
    return ApiContext(db=None, organization_id=obj.organization_id, now=now)  # type: ignore[arg-type]


def _customer(session: Session, obj: Any, now: datetime) -> dict[str, Any]:
    return render_customers(session, [obj], full=True)[0]


def _subscription(session: Session, obj: Any, now: datetime) -> dict[str, Any]:
    return subscriptions_api._render(session, [obj], _context(obj, now))[0]


def _invoice(session: Session, obj: Any, now: datetime) -> dict[str, Any]:
    return render_invoices(session, [obj], _context(obj, now), full=True)[0]


def _credit_note(session: Session, obj: Any, now: datetime) -> dict[str, Any]:
    return render_credit_notes(session, [obj], _context(obj, now))[0]


def _fee(session: Session, obj: Any, now: datetime) -> dict[str, Any]:
    return fees_api._render(session, [obj])[0]


def _wallet_transaction(session: Session, obj: Any, now: datetime) -> dict[str, Any]:
    wallet = session.scalar(select(Wallet).where(Wallet.id == obj.wallet_id))
    return transaction_object(obj, wallet)


def _wallet(session: Session, obj: Any, now: datetime) -> dict[str, Any]:
    [view] = wallet_views(session, [obj], now)
    return wallet_object(view)


RENDERERS: dict[str, Callable[[Session, Any, datetime], dict[str, Any]]] = {
    "customer": _customer,
    "subscription": _subscription,
    "invoice": _invoice,
    "credit_note": _credit_note,
    "fee": _fee,
    "wallet_transaction": _wallet_transaction,
    "wallet": _wallet,
}


def render(session: Session, object_type: str, obj: Any, now: datetime) -> dict[str, Any]:
    # Read back as a GET would: relationships loaded before bulk writes (an invoice's
    # fees, rebuilt at finalization) would otherwise show what was replaced.
    session.flush()
    session.expire(obj)
    return RENDERERS[object_type](session, obj, now)
