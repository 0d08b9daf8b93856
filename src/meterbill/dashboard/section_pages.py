"""The other entries of the side menu: the Invoices list and an invoice's page, and
plain lists of plans, billable metrics, coupons and add-ons, Settings, Developers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from meterbill.add_ons.service import list_add_ons
from meterbill.core.pagination import PageRequest
from meterbill.coupons.service import list_coupons
from meterbill.dashboard.web import Page, render, requires
from meterbill.metrics.service import list_metrics
from meterbill.organizations.service import get_organization
from meterbill.plans.service import list_plans

router = APIRouter(include_in_schema=False)


def _page_request(request: Request) -> PageRequest:
    return PageRequest.from_query({"page": request.query_params.get("page", "1"), "per_page": "20"})


CATALOG = {
    "plans": ("Plans", list_plans, ["Name", "Code", "Interval", "Amount "]),
    "billable-metrics": ("Billable metrics", list_metrics, ["Name", "Code", "Aggregation"]),
    "coupons": ("Coupons", list_coupons, ["Name", "Code", "Type", "Status"]),
    "add-ons": ("Add-ons", list_add_ons, ["Name", "Code", "Amount "]),
}


def _catalog(request: Request, page: Page, slug: str) -> HTMLResponse:
    title, lister, columns = CATALOG[slug]
    with page.db.transaction(write=False) as session:
        result = lister(session, page.organization_id, _page_request(request))
    return render(
        request,
        "catalog.html",
        {
            "section": slug,
            "slug": slug,
            "title": title,
            "columns": columns,
            "items": result.items,
            "meta": result.meta,
        },
    )


@router.get("/plans", dependencies=[requires("plans:view")])
def plans(request: Request, page: Page) -> HTMLResponse:
    return _catalog(request, page, "plans")


@router.get("/billable-metrics", dependencies=[requires("billable_metrics:view")])
def billable_metrics(request: Request, page: Page) -> HTMLResponse:
    return _catalog(request, page, "billable-metrics")


@router.get("/coupons", dependencies=[requires("coupons:view")])
def coupons(request: Request, page: Page) -> HTMLResponse:
    return _catalog(request, page, "coupons")


@router.get("/add-ons", dependencies=[requires("addons:view")])
def add_ons(request: Request, page: Page) -> HTMLResponse:
    return _catalog(request, page, "add-ons")


@router.get("/settings", dependencies=[requires("organization:view")])
def settings(request: Request, page: Page) -> HTMLResponse:
    with page.db.transaction(write=False) as session:
        organization = get_organization(session, page.organization_id)
    return render(request, "settings.html", {"section": "settings", "organization": organization})


@router.get("/developers", dependencies=[requires("developers:manage")])
def developers(request: Request, page: Page) -> HTMLResponse:
    return render(
        request,
        "developers.html",
        {"section": "developers", "organization_id": page.organization_id},
    )
