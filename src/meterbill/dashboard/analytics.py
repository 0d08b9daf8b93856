"""The customer view's figures: the Billing overview (Overview tab) and the Current
usage report with its charts (Analytics tab).

Both are context providers of the customer view (dashboard/customer_tabs.py), run in
its read transaction. The figures are the API's: the overview adds up the analytics
reports for this customer (analytics/service.py), the usage report renders the
`customer_usage` object of each active subscription exactly as GET .../current_usage
answers it (usage/report.py), uncached.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from meterbill.analytics.service import billing_overview, monthly_gross_revenue
from meterbill.core.errors import MeterbillError
from meterbill.customers.models import Customer
from meterbill.dashboard.action_forms import message
from meterbill.dashboard.charts import Bar, bar_chart
from meterbill.dashboard.customer_tabs import register_tab_context
from meterbill.dashboard.formats import money, number
from meterbill.dashboard.web import PageContext
from meterbill.organizations.service import get_organization
from meterbill.usage.report import UsageBlock, usage_report
from meterbill.usage.schemas import customer_usage_object

logger = logging.getLogger("meterbill.dashboard")
GROSS_REVENUE_MONTHS = 12


def _utc_offset(instant: datetime, timezone: str) -> str:
    offset = instant.astimezone(ZoneInfo(timezone)).utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def overview_context(session: Session, page: PageContext, customer: Customer) -> dict[str, Any]:
    """Gross revenue and total overdue; a failure leaves the card saying so, never the
    page broken (Lago's cards degrade on their own)."""
    try:
        overview = billing_overview(session, page.organization_id, customer.external_id, page.now)
    except (SQLAlchemyError, MeterbillError):
        logger.exception("billing overview of customer %s", customer.id)
        return {"billing_overview": None, "billing_overview_failed": True}
    return {"billing_overview": overview, "billing_overview_failed": False}


def usage_block_view(block: UsageBlock) -> dict[str, Any]:
    view: dict[str, Any] = {
        "title": block.subscription.name or block.plan.name,
        "external_id": block.subscription.external_id,
        "plan_name": block.plan.name,
        "error": message("base", block.error) if block.error else None,
        "usage": None,
        "charts": [],
    }
    if block.usage is None:
        return view
    usage = customer_usage_object(block.usage)
    start = block.usage.period.start
    view.update(
        usage=usage,
        period_from=block.period_from,
        period_to=block.period_to,
        utc_offset=_utc_offset(start, block.timezone),
        timezone=block.timezone,
    )
    for series in block.daily:
        top = max((value for _day, value in series.days), default=Decimal(0))
        unit = "units" if series.measure == "units" else "events"
        view["charts"].append(
            {
                "charge_id": str(series.charge_id),
                "label": series.label,
                "measure": unit,
                "svg": bar_chart(
                    [
                        Bar(day.strftime("%-d %b"), value, f"{day:%b %-d}: {number(value)} {unit}")
                        for day, value in series.days
                    ],
                    title=f"{series.label}: {unit} per day of the current period",
                    top_label=f"{number(top)} {unit}",
                    width=420,
                    height=120,
                ),
            }
        )
    return view


def analytics_context(session: Session, page: PageContext, customer: Customer) -> dict[str, Any]:
    """The Current usage report (one block per active subscription) and the customer's
    gross revenue per month in its currency (else the organization's)."""
    blocks = usage_report(session, page.organization_id, customer.external_id, page.now)
    currency = customer.currency or get_organization(session, page.organization_id).default_currency
    revenue_chart = None
    months = []
    if currency:
        months = monthly_gross_revenue(
            session, page.organization_id, customer.external_id, currency, page.now,
            months=GROSS_REVENUE_MONTHS,
        )  # fmt: skip
        top = max((Decimal(m.amount_cents) for m in months), default=Decimal(0))
        revenue_chart = bar_chart(
            [
                Bar(
                    m.month.strftime("%b %y"),
                    Decimal(m.amount_cents),
                    f"{m.month:%B %Y}: {money(m.amount_cents, currency)}"
                    f" for {m.invoices_count} invoice{'s' if m.invoices_count != 1 else ''}",
                )
                for m in months
            ],
            title=f"Gross revenue per month in {currency}",
            top_label=money(int(top), currency),
            width=900,
            height=180,
            every=1 if len(months) <= 12 else 2,
        )
    return {
        "usage_blocks": [usage_block_view(block) for block in blocks],
        "revenue_chart": revenue_chart,
        "revenue_currency": currency,
        "revenue_months": months,
    }


register_tab_context("overview", overview_context)
register_tab_context("analytics", analytics_context)
