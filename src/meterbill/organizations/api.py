"""PUT /api/v1/organizations."""

from __future__ import annotations

from fastapi import APIRouter

from meterbill.core.http import Context, JsonBody, JsonResponse, ok
from meterbill.core.validation import root_object
from meterbill.organizations import service
from meterbill.organizations.schemas import organization_object, parse_organization_update
from meterbill.taxes.schemas import tax_object
from meterbill.taxes.service import organization_default_taxes
from meterbill.webhooks.schemas import check_webhook_url
from meterbill.webhooks.service import endpoint_urls, set_first_endpoint_url

router = APIRouter(prefix="/api/v1")


@router.put("/organizations")
def update_organization(ctx: Context, body: JsonBody) -> JsonResponse:
    values = parse_organization_update(root_object(body, "organization"))
    check_webhook_url(values.get("webhook_url"))
    with ctx.db.transaction() as session:
        organization = service.update_organization(session, ctx.organization_id, values, ctx.now)
        # Lago's legacy shortcut: the URL is the organization's first webhook endpoint.
        if "webhook_url" in values:
            set_first_endpoint_url(session, organization.id, values["webhook_url"], ctx.now)
        taxes = [
            tax_object(tax, organization.billing_entity_code)
            for tax in organization_default_taxes(session, organization.id)
        ]
        urls = endpoint_urls(session, organization.id)
        return ok({"organization": organization_object(organization, taxes, urls)})
