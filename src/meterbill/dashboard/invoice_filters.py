"""The Invoices list's state, read from its URL: Lago's quick filters, the filters form,
the search and the page, as the invoices service's InvoiceFilters.

A value the service cannot take (a date that is no date, an amount that is no amount)
is left out of the filters and explained under its field; the list still shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from meterbill.core.money import CURRENCIES
from meterbill.core.pagination import PageRequest
from meterbill.dashboard.action_forms import day, message, money_cents
from meterbill.dashboard.web import SEARCH_MIN, list_url
from meterbill.invoices.service import PAYMENT_STATUSES, InvoiceFilters

# Lago's quick filters (InvoiceStatusQuickFilter): key, label, what they keep.
QUICK_FILTERS: list[tuple[str, str, InvoiceFilters]] = [
    ("all", "All invoices", InvoiceFilters()),
    ("draft", "Draft", InvoiceFilters(statuses=("draft",))),
    (
        "outstanding",
        "Outstanding",
        InvoiceFilters(statuses=("finalized",), payment_statuses=("pending", "failed")),
    ),
    (
        "succeeded",
        "Succeeded",
        InvoiceFilters(statuses=("finalized",), payment_statuses=("succeeded",)),
    ),
    ("overdue", "Overdue", InvoiceFilters(payment_overdue=True)),
    ("voided", "Voided", InvoiceFilters(statuses=("voided",))),
]
TYPE_LABELS = {
    "subscription": "Subscription",
    "add_on": "Add-on",
    "credit": "Credit",
    "one_off": "One-off",
    "advance_charges": "Advance charges",
    "progressive_billing": "Progressive billing",
}
TYPES = list(TYPE_LABELS.items())
PAYMENT_LABELS = {"pending": "Pending", "succeeded": "Succeeded", "failed": "Failed"}
CURRENCY_OPTIONS = sorted(CURRENCIES)
# The filters form's fields, in the URL's order.
FIELDS = (
    "customer",
    "currency",
    "invoice_type",
    "payment_status",
    "issuing_date_from",
    "issuing_date_to",
    "amount_from",
    "amount_to",
)
PER_PAGE = 20
# What a BIGINT column holds: a larger bound would be refused by PostgreSQL.
MAX_CENTS = 2**63 - 1


@dataclass
class ListState:
    quick: str = "all"
    search: str = ""
    page: int = 1
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    filters: InvoiceFilters = field(default_factory=InvoiceFilters)

    @property
    def searching(self) -> bool:
        return len(self.search) >= SEARCH_MIN

    @property
    def filtered(self) -> bool:
        return any(self.values.values()) or self.searching

    def page_request(self) -> PageRequest:
        return PageRequest(page=self.page, per_page=PER_PAGE)

    def link(self, **changes: Any) -> str:
        """This list's URL with some of its state changed (page back to 1 unless given)."""
        state: dict[str, Any] = {
            "status": self.quick,
            "search": self.search,
            **self.values,
            "page": 1,
        }
        state.update(changes)
        return list_url("/invoices", state, {"status": "all"})


def read_state(params: Mapping[str, str]) -> ListState:
    quick = params.get("status", "all")
    if quick not in {key for key, _label, _filters in QUICK_FILTERS}:
        quick = "all"
    state = ListState(quick=quick, search=params.get("search", "").strip()[:200])
    state.page = PageRequest.from_query({"page": params.get("page", "1")}).page
    state.values = {name: params.get(name, "").strip()[:200] for name in FIELDS}
    base = next(filters for key, _label, filters in QUICK_FILTERS if key == quick)
    state.filters = replace(base, **_filters(state))
    return state


def _filters(state: ListState) -> dict[str, Any]:
    values, errors = state.values, state.errors
    chosen: dict[str, Any] = {}
    if values["customer"]:
        chosen["external_customer_id"] = values["customer"]
    currency = values["currency"].upper()
    if currency:
        if currency in CURRENCIES:
            chosen["currency"] = currency
        else:
            errors["currency"] = message("currency", "value_is_invalid")
    if values["invoice_type"]:
        if values["invoice_type"] in TYPE_LABELS:
            chosen["invoice_type"] = values["invoice_type"]
        else:
            errors["invoice_type"] = message("invoice_type", "value_is_invalid")
    if values["payment_status"]:
        if values["payment_status"] in PAYMENT_STATUSES:
            chosen["payment_status"] = values["payment_status"]
        else:
            errors["payment_status"] = message("payment_status", "value_is_invalid")
    for name in ("issuing_date_from", "issuing_date_to"):
        try:
            chosen[name] = day(values[name])
        except ValueError as error:
            errors[name] = message(name, str(error))
    if (
        chosen.get("issuing_date_from")
        and chosen.get("issuing_date_to")
        and chosen["issuing_date_from"] > chosen["issuing_date_to"]
    ):
        errors["issuing_date_to"] = "This date must not be before the first one."
    # Amounts are typed in currency units: the chosen currency's, else two decimals.
    for name in ("amount_from", "amount_to"):
        if not values[name]:
            continue
        try:
            cents = money_cents(values[name], currency if currency in CURRENCIES else "EUR")
        except ValueError as error:
            errors[name] = message(name, str(error))
            continue
        if abs(cents) > MAX_CENTS:
            errors[name] = message(name, "value_is_out_of_range")
            continue
        chosen[name] = cents
    if state.searching:
        chosen["search_term"] = state.search
    return chosen
