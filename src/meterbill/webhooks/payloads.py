"""Each object a webhook carries, rendered by the same code as the API's GET.

Looked up by `outbox.render` when a webhook is enqueued; this module imports the
features' routes, so that the features' services need not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from meterbill.core.http import ApiContext
from meterbill.credit_notes.api import render_credit_notes
from meterbill.customers.api import render_customers
from meterbill.invoices import fees_api
from meterbill.invoices.api import render_invoices
from meterbill.invoices.models import Invoice
from meterbill.subscriptions import api as subscriptions_api
from meterbill.wallets.models import Wallet
from meterbill.wallets.schemas import transaction_object, wallet_object
from meterbill.wallets.service import wallet_views


def _context(obj: Any, now: datetime) -> ApiContext:
    # The renderers read only the organization and the instant from the request context.
    return ApiContext(db=None, organization_id=obj.organization_id, now=now)  # type: ignore[arg-type]


def _customer(session: Session, objs: list[Any], now: datetime) -> list[dict[str, Any]]:
    return render_customers(session, objs, full=True)


def _subscription(session: Session, objs: list[Any], now: datetime) -> list[dict[str, Any]]:
    return subscriptions_api._render(session, objs, _context(objs[0], now))


def _invoice(session: Session, objs: list[Any], now: datetime) -> list[dict[str, Any]]:
    return render_invoices(session, objs, _context(objs[0], now), full=True)


def _credit_note(session: Session, objs: list[Any], now: datetime) -> list[dict[str, Any]]:
    return render_credit_notes(session, objs, _context(objs[0], now))


def _fee(session: Session, objs: list[Any], now: datetime) -> list[dict[str, Any]]:
    return fees_api._render(session, objs)


def _wallet_transaction(session: Session, objs: list[Any], now: datetime) -> list[dict[str, Any]]:
    wallets = {
        wallet.id: wallet
        for wallet in session.scalars(
            select(Wallet).where(Wallet.id.in_({obj.wallet_id for obj in objs}))
        )
    }
    return [transaction_object(obj, wallets[obj.wallet_id]) for obj in objs]


def _wallet(session: Session, objs: list[Any], now: datetime) -> list[dict[str, Any]]:
    return [wallet_object(view) for view in wallet_views(session, objs, now)]


# The records behind the object types whose webhooks may be deferred.
MODELS: dict[str, Any] = {"invoice": Invoice}

RENDERERS: dict[str, Callable[[Session, list[Any], datetime], list[dict[str, Any]]]] = {
    "customer": _customer,
    "subscription": _subscription,
    "invoice": _invoice,
    "credit_note": _credit_note,
    "fee": _fee,
    "wallet_transaction": _wallet_transaction,
    "wallet": _wallet,
}


def render(
    session: Session, object_type: str, objs: list[Any], now: datetime, *, fresh: bool = False
) -> list[dict[str, Any]]:
    """The objects (of one organization) as the API's GET renders them, in their order,
    in one go: a billing batch's invoices cost a few queries, not a few each. `fresh`:
    just read from the database, nothing to read back."""
    if fresh:
        return RENDERERS[object_type](session, objs, now)
    # Read back as a GET would: relationships loaded before bulk writes (an invoice's
    # fees, rebuilt at finalization) would otherwise show what was replaced.
    session.flush()
    identities = [inspect(obj).identity for obj in objs]
    for obj in objs:
        session.expire(obj)
    # Read back all at once (each one's own reload would cost its eager loads each).
    mapper = inspect(objs[0]).mapper
    [key] = mapper.primary_key
    if all(identity is not None for identity in identities):
        wanted = [identity[0] for identity in identities if identity is not None]
        session.scalars(select(mapper).where(key.in_(wanted))).all()
    return RENDERERS[object_type](session, objs, now)
