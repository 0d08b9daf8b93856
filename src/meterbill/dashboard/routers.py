"""Every dashboard router, in the order their routes are matched.

A feature with pages adds its router here (one import, one entry); `dashboard.install`
includes them all. Routers are `APIRouter(include_in_schema=False)`: pages are not
part of the API reference.
"""

from __future__ import annotations

from fastapi import APIRouter

from meterbill.dashboard import analytics  # noqa: F401 (registers the customer tabs' figures)
from meterbill.dashboard.actions import router as actions_router
from meterbill.dashboard.analytics_page import router as analytics_router
from meterbill.dashboard.auth_pages import router as auth_router
from meterbill.dashboard.catalog_pages import router as catalog_router
from meterbill.dashboard.credit_note_pages import router as credit_note_router
from meterbill.dashboard.customer_pages import router as customer_router
from meterbill.dashboard.developer_pages import router as developer_router
from meterbill.dashboard.event_pages import router as event_router
from meterbill.dashboard.integration_pages import router as integration_router
from meterbill.dashboard.invoice_pages import router as invoice_router
from meterbill.dashboard.member_pages import router as member_router
from meterbill.dashboard.plan_pages import router as plan_router
from meterbill.dashboard.settings_pages import router as settings_router
from meterbill.dashboard.subscription_pages import router as subscription_router
from meterbill.dashboard.webhook_pages import router as webhook_router

ROUTERS: list[APIRouter] = [
    auth_router,
    customer_router,
    actions_router,
    plan_router,
    invoice_router,
    catalog_router,
    settings_router,
    integration_router,
    member_router,
    developer_router,
    webhook_router,
    event_router,
    credit_note_router,
    subscription_router,
    analytics_router,
]
