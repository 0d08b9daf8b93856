"""/api/v1/wallets, the customer-scoped wallets, and /api/v1/wallet_transactions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.pagination import PageRequest
from meterbill.core.validation import root_object
from meterbill.wallets import service
from meterbill.wallets.models import Wallet, WalletTransaction
from meterbill.wallets.schemas import (
    parse_transaction,
    parse_wallet,
    transaction_object,
    wallet_object,
)

router = APIRouter(prefix="/api/v1")


def _wallet(session: Session, wallet: Wallet, ctx: Context) -> JsonResponse:
    [view] = service.wallet_views(session, [wallet], ctx.now)
    return ok({"wallet": wallet_object(view)})


def _wallets(session: Session, wallets: list[Wallet], ctx: Context) -> list[dict[str, Any]]:
    return [wallet_object(view) for view in service.wallet_views(session, wallets, ctx.now)]


def _create(ctx: Context, body: Any, external_customer_id: str | None) -> JsonResponse:
    data = parse_wallet(
        root_object(body, "wallet"), creating=True, external_customer_id=external_customer_id
    )
    with ctx.db.transaction() as session:
        wallet, _made = service.create_wallet(session, ctx.organization_id, data, ctx.now)
        return _wallet(session, wallet, ctx)


def _list(ctx: Context, params: Query, external_customer_id: str | None) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        page = service.list_wallets(
            session, ctx.organization_id, external_customer_id, PageRequest.from_query(params)
        )
        return ok({"wallets": _wallets(session, list(page.items), ctx), "meta": page.meta})


@router.post("/wallets")
def create_wallet(ctx: Context, body: JsonBody) -> JsonResponse:
    return _create(ctx, body, None)


@router.get("/wallets")
def list_wallets(ctx: Context, params: Query) -> JsonResponse:
    return _list(ctx, params, params.get("external_customer_id"))


@router.get("/wallets/{lago_id}")
def get_wallet(ctx: Context, lago_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        return _wallet(session, service.find_wallet(session, ctx.organization_id, lago_id), ctx)


@router.put("/wallets/{lago_id}")
def update_wallet(ctx: Context, lago_id: str, body: JsonBody) -> JsonResponse:
    data = parse_wallet(root_object(body, "wallet"), creating=False)
    with ctx.db.transaction() as session:
        wallet = service.find_wallet(session, ctx.organization_id, lago_id, lock=True)
        return _wallet(session, service.update_wallet(session, wallet, data, ctx.now), ctx)


@router.delete("/wallets/{lago_id}")
def terminate_wallet(ctx: Context, lago_id: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        wallet = service.find_wallet(session, ctx.organization_id, lago_id, lock=True)
        return _wallet(session, service.terminate_wallet(session, wallet, ctx.now), ctx)


@router.post("/customers/{external_id}/wallets")
def create_customer_wallet(ctx: Context, external_id: str, body: JsonBody) -> JsonResponse:
    return _create(ctx, body, external_id)


@router.get("/customers/{external_id}/wallets")
def list_customer_wallets(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    return _list(ctx, params, external_id)


@router.get("/customers/{external_id}/wallets/{code}")
def get_customer_wallet(ctx: Context, external_id: str, code: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        wallet = service.find_customer_wallet(session, ctx.organization_id, external_id, code)
        return _wallet(session, wallet, ctx)


@router.put("/customers/{external_id}/wallets/{code}")
def update_customer_wallet(
    ctx: Context, external_id: str, code: str, body: JsonBody
) -> JsonResponse:
    data = parse_wallet(root_object(body, "wallet"), creating=False)
    with ctx.db.transaction() as session:
        wallet = service.find_customer_wallet(session, ctx.organization_id, external_id, code)
        return _wallet(session, service.update_wallet(session, wallet, data, ctx.now), ctx)


@router.delete("/customers/{external_id}/wallets/{code}")
def terminate_customer_wallet(ctx: Context, external_id: str, code: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        wallet = service.find_customer_wallet(session, ctx.organization_id, external_id, code)
        return _wallet(session, service.terminate_wallet(session, wallet, ctx.now), ctx)


def _transactions(session: Session, items: list[WalletTransaction]) -> list[dict[str, Any]]:
    wallets = {item.wallet_id: session.get(Wallet, item.wallet_id) for item in items}
    return [transaction_object(item, wallets[item.wallet_id]) for item in items]  # type: ignore[arg-type]


@router.post("/wallet_transactions")
def create_wallet_transactions(ctx: Context, body: JsonBody) -> JsonResponse:
    data = parse_transaction(root_object(body, "wallet_transaction"))
    with ctx.db.transaction() as session:
        made = service.create_transactions(session, ctx.organization_id, data, ctx.now)
        return ok({"wallet_transactions": _transactions(session, made)})


@router.get("/wallets/{lago_id}/wallet_transactions")
def list_wallet_transactions(ctx: Context, lago_id: str, params: Query) -> JsonResponse:
    filters = {key: params.get(key) for key in ("status", "transaction_type", "transaction_status")}
    with ctx.db.transaction(write=False) as session:
        wallet = service.find_wallet(session, ctx.organization_id, lago_id)
        page = service.list_transactions(session, wallet, filters, PageRequest.from_query(params))
        return ok(
            {
                "wallet_transactions": [transaction_object(item, wallet) for item in page.items],
                "meta": page.meta,
            }
        )


@router.get("/wallet_transactions/{lago_id}")
def get_wallet_transaction(ctx: Context, lago_id: str) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        transaction, wallet = service.find_transaction(session, ctx.organization_id, lago_id)
        return ok({"wallet_transaction": transaction_object(transaction, wallet)})
