"""The organization's Analytics page: gross revenue, MRR, invoice collection and overdue
balance per month, one card each, for one currency over the last N months.

The figures are the analytics API's (analytics/service.py, the functions behind GET
/analytics/gross_revenue, /mrr, /invoice_collection and /overdue_balance) for the same
`currency` and `months`; months the API leaves out are shown at zero. Each card reads in
a transaction of its own and degrades on its own: a failing report leaves a message in
its card, the other cards and the page stand. Charts are server-drawn SVG
(dashboard/charts.py) with the exact figures in a table under each.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from meterbill.analytics.schemas import AnalyticsFilters
from meterbill.analytics.service import (
    gross_revenues,
    invoice_collections,
    invoiced_currencies,
    mrrs,
    overdue_balances,
    report_months,
)
from meterbill.core.errors import MeterbillError
from meterbill.dashboard.charts import Bar, bar_chart
from meterbill.dashboard.formats import money
from meterbill.dashboard.web import Page, PageContext, render, requires
from meterbill.organizations.service import get_organization

router = APIRouter(include_in_schema=False)
logger = logging.getLogger("meterbill.dashboard")

MONTH_CHOICES = (3, 6, 12, 24)
DEFAULT_MONTHS = 12
PAYMENT_STATUSES = (("succeeded", "Succeeded"), ("pending", "Pending"), ("failed", "Failed"))


@dataclass
class Card:
    """One report as the page shows it: a headline figure, a chart, the exact figures."""

    key: str
    title: str
    help: str
    headline: str = ""
    headline_label: str = ""
    chart: Markup | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    failed: bool = False


def _label(month: date) -> str:
    return month.strftime("%b %y")


def _chart(
    months: list[date], amounts: dict[date, int], currency: str, title: str, caption: str
) -> Markup:
    top = max((amounts.get(month, 0) for month in months), default=0)
    return bar_chart(
        [
            Bar(
                _label(month),
                Decimal(amounts.get(month, 0)),
                f"{month:%B %Y}: {money(amounts.get(month, 0), currency)} {caption}",
            )
            for month in months
        ],
        title=title,
        top_label=money(max(top, 0), currency),
        width=900,
        height=180,
        every=1 if len(months) <= 12 else 2,
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _gross_revenue(
    session: Session, page: PageContext, filters: AnalyticsFilters, months: list[date]
) -> Card:
    currency = filters.currency or ""
    found = {
        row.month: row for row in gross_revenues(session, page.organization_id, filters, page.now)
    }
    amounts = {month: row.amount_cents for month, row in found.items()}
    total = sum(amounts.values())
    return Card(
        key="gross-revenue",
        title="Gross revenue",
        help="Finalized invoices by issuing month, taxes included, refunds deducted.",
        headline=money(total, currency),
        headline_label=f"over {_plural(len(months), 'month')}",
        chart=_chart(months, amounts, currency, f"Gross revenue per month in {currency}", ""),
        columns=["Month", "Gross revenue ", "Invoices "],
        rows=[
            [
                f"{month:%B %Y}",
                money(found[month].amount_cents if month in found else 0, currency),
                str(found[month].invoices_count if month in found else 0),
            ]
            for month in months
        ],
    )


def _mrr(
    session: Session, page: PageContext, filters: AnalyticsFilters, months: list[date]
) -> Card:
    currency = filters.currency or ""
    amounts = {
        row.month: row.amount_cents or 0
        for row in mrrs(session, page.organization_id, filters, page.now)
        if row.currency == currency
    }
    latest = amounts.get(months[-1], 0) if months else 0
    return Card(
        key="mrr",
        title="MRR",
        help="Subscription fees per month; longer intervals spread over the months they cover.",
        headline=money(latest, currency),
        headline_label="this month",
        chart=_chart(months, amounts, currency, f"MRR per month in {currency}", ""),
        columns=["Month", "MRR "],
        rows=[[f"{month:%B %Y}", money(amounts.get(month, 0), currency)] for month in months],
    )


def _invoice_collection(
    session: Session, page: PageContext, filters: AnalyticsFilters, months: list[date]
) -> Card:
    currency = filters.currency or ""
    by_month: dict[date, dict[str, tuple[int, int]]] = {}
    for row in invoice_collections(session, page.organization_id, filters, page.now):
        if row.payment_status is None:
            continue
        by_month.setdefault(row.month, {})[row.payment_status] = (
            row.amount_cents,
            row.invoices_count,
        )
    collected = {
        month: statuses.get("succeeded", (0, 0))[0] for month, statuses in by_month.items()
    }
    invoiced = sum(amount for statuses in by_month.values() for amount, _n in statuses.values())
    rows = []
    for month in months:
        statuses = by_month.get(month, {})
        cells = [f"{month:%B %Y}"]
        for status, _label_text in PAYMENT_STATUSES:
            amount, count = statuses.get(status, (0, 0))
            cells.append(f"{money(amount, currency)} ({count})")
        total = sum(amount for amount, _n in statuses.values())
        cells.append(f"{money(total, currency)} ({sum(n for _a, n in statuses.values())})")
        rows.append(cells)
    return Card(
        key="invoice-collection",
        title="Invoice collection",
        help="Finalized invoices by issuing month and payment status (invoices in brackets).",
        headline=money(sum(collected.values()), currency),
        headline_label=f"collected of {money(invoiced, currency)} invoiced",
        chart=_chart(
            months, collected, currency, f"Collected per month in {currency}", "collected"
        ),
        columns=["Month"] + [f"{label} " for _s, label in PAYMENT_STATUSES] + ["Total "],
        rows=rows,
    )


def _overdue_balance(
    session: Session, page: PageContext, filters: AnalyticsFilters, months: list[date]
) -> Card:
    currency = filters.currency or ""
    found = {
        row.month: row for row in overdue_balances(session, page.organization_id, filters, page.now)
    }
    amounts = {month: row.amount_cents for month, row in found.items()}
    count = sum(len(row.lago_invoice_ids) for row in found.values())
    return Card(
        key="overdue-balance",
        title="Overdue balance",
        help="What remains to be paid on overdue invoices, by month of their payment due date.",
        headline=money(sum(amounts.values()), currency),
        headline_label=f"for {_plural(count, 'invoice')}",
        chart=_chart(
            months, amounts, currency, f"Overdue balance per month in {currency}", "overdue"
        ),
        columns=["Month", "Overdue balance ", "Invoices "],
        rows=[
            [
                f"{month:%B %Y}",
                money(amounts.get(month, 0), currency),
                str(len(found[month].lago_invoice_ids) if month in found else 0),
            ]
            for month in months
        ],
    )


Report = Callable[[Session, PageContext, AnalyticsFilters, list[date]], Card]
REPORTS: list[tuple[str, str, Report]] = [
    ("gross-revenue", "Gross revenue", _gross_revenue),
    ("mrr", "MRR", _mrr),
    ("invoice-collection", "Invoice collection", _invoice_collection),
    ("overdue-balance", "Overdue balance", _overdue_balance),
]


def _card(
    page: PageContext,
    filters: AnalyticsFilters,
    months: list[date],
    report: tuple[str, str, Report],
) -> Card:
    key, title, build = report
    try:
        # A transaction per card: on PostgreSQL a failed statement spoils its transaction.
        with page.db.transaction(write=False) as session:
            return build(session, page, filters, months)
    except (SQLAlchemyError, MeterbillError):
        logger.exception("analytics card %s of organization %s", key, page.organization_id)
        return Card(key=key, title=title, help="", failed=True)


def _currencies(session: Session, organization_id: uuid.UUID) -> tuple[list[str], str]:
    """The currencies offered and the one shown first: the organization's default when
    it has invoices in it (or none at all), else the first one invoiced."""
    invoiced = invoiced_currencies(session, organization_id)
    default = get_organization(session, organization_id).default_currency
    if invoiced and default not in invoiced:
        default = invoiced[0]
    return sorted({*invoiced, default}), default


@router.get("/analytics", dependencies=[requires("analytics:view")])
def analytics(request: Request, page: Page) -> HTMLResponse:
    params = request.query_params
    with page.db.transaction(write=False) as session:
        currencies, default = _currencies(session, page.organization_id)
        notes: list[str] = []
        currency = params.get("currency", "").strip().upper() or default
        if currency not in currencies:
            notes.append(f"No invoice in {currency}: showing {default}.")
            currency = default
        raw = params.get("months", str(DEFAULT_MONTHS))
        months_count = int(raw) if raw.isascii() and raw.isdigit() else 0
        if months_count not in MONTH_CHOICES:
            notes.append(f"Choose 3, 6, 12 or 24 months: showing {DEFAULT_MONTHS}.")
            months_count = DEFAULT_MONTHS
        filters = AnalyticsFilters(currency=currency, months=months_count)
        months = report_months(session, page.organization_id, filters, page.now)
    cards = [_card(page, filters, months, report) for report in REPORTS]
    context: dict[str, Any] = {
        "section": "analytics",
        "cards": cards,
        "currency": currency,
        "currencies": currencies,
        "months_count": months_count,
        "month_choices": MONTH_CHOICES,
        "notes": notes,
        "first_month": months[0] if months else None,
        "last_month": months[-1] if months else None,
    }
    return render(request, "analytics/page.html", context)
