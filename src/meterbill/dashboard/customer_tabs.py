"""The customer view's tabs, and how other pages add what a tab needs.

A feature that renders part of a tab (the Billing overview on Overview, the Current
usage report on Analytics) registers a context provider for that tab:

    from meterbill.dashboard.customer_tabs import register_tab_context

    def billing_overview(session: Session, page: PageContext, customer: Customer) -> dict:
        return {"billing_overview": ...}

    register_tab_context("overview", billing_overview)

The customer view calls every provider of the tab it renders, inside its one read
transaction, and merges what they return into the template's context: the partials
`customers/_billing_overview.html` (Overview) and `customers/_analytics.html`
(Analytics) then read those names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from meterbill.customers.models import Customer
from meterbill.dashboard.web import PageContext

# (slug, label): /customers/{id} is the overview, /customers/{id}/{slug} the others.
TABS: list[tuple[str, str]] = [
    ("overview", "Overview"),
    ("analytics", "Analytics"),
    ("invoices", "Invoices"),
    ("credit-notes", "Credit notes"),
    ("information", "Information"),
]

TabContext = Callable[[Session, PageContext, Customer], dict[str, Any]]
_PROVIDERS: dict[str, list[TabContext]] = {slug: [] for slug, _label in TABS}


def register_tab_context(tab: str, provider: TabContext) -> None:
    if tab not in _PROVIDERS:
        raise ValueError(f"no customer tab {tab!r}")
    if provider not in _PROVIDERS[tab]:
        _PROVIDERS[tab].append(provider)


def tab_context(tab: str, session: Session, page: PageContext, customer: Customer) -> dict:
    context: dict[str, Any] = {}
    for provider in _PROVIDERS.get(tab, []):
        context.update(provider(session, page, customer))
    return context
