"""Every dashboard router, in the order their routes are matched.

A feature with pages adds its router here (one import, one entry); `dashboard.install`
includes them all. Routers are `APIRouter(include_in_schema=False)`: pages are not
part of the API reference.
"""

from __future__ import annotations

from fastapi import APIRouter

from meterbill.dashboard import analytics  # noqa: F401 (registers the customer tabs' figures)
from meterbill.dashboard.actions import router as actions_router
from meterbill.dashboard.auth_pages import router as auth_router
from meterbill.dashboard.customer_pages import router as customer_router
from meterbill.dashboard.section_pages import router as section_router
from meterbill.dashboard.subscription_pages import router as subscription_router

ROUTERS: list[APIRouter] = [
    auth_router,
    customer_router,
    actions_router,
    section_router,
    subscription_router,
]
