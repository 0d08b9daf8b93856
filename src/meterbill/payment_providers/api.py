"""/api/v1/payment_providers (connections), the invoices' retry_payment and payment_url,
and Stripe's webhooks at /webhooks/stripe/{organization_id}."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from meterbill.core.http import Context, JsonBody, JsonResponse, ok
from meterbill.core.times import utc_now
from meterbill.core.validation import root_object
from meterbill.invoices.lookup import find_invoice
from meterbill.payment_providers import checkout, collection, inbound, service
from meterbill.payment_providers.options import ProviderOptions
from meterbill.payment_providers.schemas import connection_object, parse_connection

router = APIRouter(prefix="/api/v1")
# Called by Stripe, not with an API key: the signature is the authentication.
webhooks_router = APIRouter()


def _options(request: Request) -> ProviderOptions:
    options: ProviderOptions = request.app.state.provider_options
    return options


def _public_url(request: Request) -> str:
    return _options(request).public_url or str(request.base_url)


@router.post("/payment_providers")
def connect(ctx: Context, body: JsonBody, request: Request) -> JsonResponse:
    data = parse_connection(root_object(body, "payment_provider"), creating=True)
    with ctx.db.transaction() as session:
        provider = service.connect(
            session, ctx.organization_id, data, _options(request).box(), ctx.now
        )
        return ok({"payment_provider": connection_object(provider, _public_url(request))})


@router.get("/payment_providers")
def list_connections(ctx: Context, request: Request) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        providers = service.list_connections(session, ctx.organization_id)
        url = _public_url(request)
        return ok({"payment_providers": [connection_object(p, url) for p in providers]})


@router.get("/payment_providers/{code}")
def get_connection(ctx: Context, code: str, request: Request) -> JsonResponse:
    with ctx.db.transaction(write=False) as session:
        provider = service.find_connection(session, ctx.organization_id, code)
        return ok({"payment_provider": connection_object(provider, _public_url(request))})


@router.put("/payment_providers/{code}")
def update_connection(ctx: Context, code: str, body: JsonBody, request: Request) -> JsonResponse:
    data = parse_connection(root_object(body, "payment_provider"), creating=False)
    with ctx.db.transaction() as session:
        provider = service.update_connection(
            session, ctx.organization_id, code, data, _options(request).box(), ctx.now
        )
        return ok({"payment_provider": connection_object(provider, _public_url(request))})


@router.delete("/payment_providers/{code}")
def delete_connection(ctx: Context, code: str, request: Request) -> JsonResponse:
    with ctx.db.transaction() as session:
        provider = service.delete_connection(session, ctx.organization_id, code, ctx.now)
        return ok({"payment_provider": connection_object(provider, _public_url(request))})


@router.post("/invoices/{invoice_id}/retry_payment")
def retry_payment(ctx: Context, invoice_id: str) -> Response:
    with ctx.db.transaction() as session:
        invoice = find_invoice(session, ctx.organization_id, invoice_id, lock=True)
        collection.retry_payment(session, invoice, ctx.now)
    # Lago answers with an empty 200.
    return Response(status_code=200, media_type="text/plain")


@router.post("/invoices/{invoice_id}/payment_url")
def payment_url(ctx: Context, invoice_id: str, request: Request) -> JsonResponse:
    details = checkout.payment_url(
        ctx.db, ctx.organization_id, invoice_id, _options(request), ctx.now
    )
    return ok({"invoice_payment_details": details})


@webhooks_router.post("/webhooks/stripe/{organization_id}", include_in_schema=False)
async def stripe_webhook(organization_id: str, request: Request) -> Response:
    payload = await request.body()
    code = request.query_params.get("code") or None
    signature = request.headers.get("stripe-signature")
    db = request.app.state.database
    box = _options(request).box()

    def apply() -> None:
        with db.transaction() as session:
            inbound.receive(session, organization_id, code, payload, signature, box, utc_now())

    await run_in_threadpool(apply)
    return Response(status_code=200)
