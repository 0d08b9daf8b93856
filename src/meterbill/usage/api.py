"""GET /api/v1/customers/{external_id}/current_usage."""

from __future__ import annotations

from fastapi import APIRouter

from meterbill.core.http import Context, JsonResponse, Query, ok
from meterbill.usage.schemas import customer_usage_object
from meterbill.usage.service import compute_current_usage

router = APIRouter(prefix="/api/v1")

# Rails' boolean casting: these (and an empty value) are false.
FALSE_VALUES = {"", "0", "f", "false", "off", "F", "FALSE", "False", "OFF"}


@router.get("/customers/{external_id}/current_usage")
def current_usage(ctx: Context, external_id: str, params: Query) -> JsonResponse:
    apply_taxes = params.get("apply_taxes")
    with ctx.db.transaction(write=False) as session:
        usage = compute_current_usage(
            session,
            ctx.organization_id,
            external_id,
            params.get("external_subscription_id"),
            ctx.now,
            apply_taxes=apply_taxes is None or apply_taxes not in FALSE_VALUES,
        )
        return ok({"customer_usage": customer_usage_object(usage)})
