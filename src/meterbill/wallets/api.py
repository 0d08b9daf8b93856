"""/api/v1/wallets, the customer-scoped wallets, their metadata, and
/api/v1/wallet_transactions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from meterbill.core.http import Context, JsonBody, JsonResponse, Query, ok
from meterbill.core.metadata import MetadataChange, body_metadata
from meterbill.core.pagination import PageRequest
from meterbill.core.records import by_id
from meterbill.core.validation import root_object
from meterbill.wallets import service
from meterbill.wallets.models import Wallet, WalletTransaction
from meterbill.wallets.schemas import (
    metadata_object,
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
        wallet = service.find_customer_wallet(
            session, ctx.organization_id, external_id, code, lock=True
        )
        return _wallet(session, service.update_wallet(session, wallet, data, ctx.now), ctx)


@router.delete("/customers/{external_id}/wallets/{code}")
def terminate_customer_wallet(ctx: Context, external_id: str, code: str) -> JsonResponse:
    with ctx.db.transaction() as session:
        wallet = service.find_customer_wallet(
            session, ctx.organization_id, external_id, code, lock=True
        )
        return _wallet(session, service.terminate_wallet(session, wallet, ctx.now), ctx)


# Metadata: the same four changes on a wallet found by id or by customer and code ------


WalletFinder = Callable[[Session], Wallet]


def _change_metadata(ctx: Context, find: WalletFinder, change: MetadataChange) -> JsonResponse:
    with ctx.db.transaction() as session:
        wallet = service.change_metadata(session, find(session), change, ctx.now)
        return ok(metadata_object(wallet))


def _by_id(ctx: Context, lago_id: str) -> WalletFinder:
    return lambda session: service.find_wallet(session, ctx.organization_id, lago_id, lock=True)


def _by_code(ctx: Context, external_id: str, code: str) -> WalletFinder:
    return lambda session: service.find_customer_wallet(
        session, ctx.organization_id, external_id, code, lock=True
    )


@router.post("/wallets/{lago_id}/metadata")
def replace_wallet_metadata(ctx: Context, lago_id: str, body: JsonBody) -> JsonResponse:
    change = MetadataChange.replacing(body_metadata(body))
    return _change_metadata(ctx, _by_id(ctx, lago_id), change)


@router.patch("/wallets/{lago_id}/metadata")
def merge_wallet_metadata(ctx: Context, lago_id: str, body: JsonBody) -> JsonResponse:
    change = MetadataChange.merging(body_metadata(body))
    return _change_metadata(ctx, _by_id(ctx, lago_id), change)


@router.delete("/wallets/{lago_id}/metadata")
def delete_wallet_metadata(ctx: Context, lago_id: str) -> JsonResponse:
    return _change_metadata(ctx, _by_id(ctx, lago_id), MetadataChange.clearing())


@router.delete("/wallets/{lago_id}/metadata/{key}")
def delete_wallet_metadata_key(ctx: Context, lago_id: str, key: str) -> JsonResponse:
    return _change_metadata(ctx, _by_id(ctx, lago_id), MetadataChange.removing(key))


@router.post("/customers/{external_id}/wallets/{code}/metadata")
def replace_customer_wallet_metadata(
    ctx: Context, external_id: str, code: str, body: JsonBody
) -> JsonResponse:
    change = MetadataChange.replacing(body_metadata(body))
    return _change_metadata(ctx, _by_code(ctx, external_id, code), change)


@router.patch("/customers/{external_id}/wallets/{code}/metadata")
def merge_customer_wallet_metadata(
    ctx: Context, external_id: str, code: str, body: JsonBody
) -> JsonResponse:
    change = MetadataChange.merging(body_metadata(body))
    return _change_metadata(ctx, _by_code(ctx, external_id, code), change)


@router.delete("/customers/{external_id}/wallets/{code}/metadata")
def delete_customer_wallet_metadata(ctx: Context, external_id: str, code: str) -> JsonResponse:
    change = MetadataChange.clearing()
    return _change_metadata(ctx, _by_code(ctx, external_id, code), change)


@router.delete("/customers/{external_id}/wallets/{code}/metadata/{key}")
def delete_customer_wallet_metadata_key(
    ctx: Context, external_id: str, code: str, key: str
) -> JsonResponse:
    change = MetadataChange.removing(key)
    return _change_metadata(ctx, _by_code(ctx, external_id, code), change)


def _transactions(session: Session, items: list[WalletTransaction]) -> list[dict[str, Any]]:
    wallets = by_id(session, Wallet, {item.wallet_id for item in items})
    return [transaction_object(item, wallets[item.wallet_id]) for item in items]


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
