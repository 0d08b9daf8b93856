"""GET /customers filters, validated the way Lago's filter contract validates them.

Lago answers bad filters with human-readable messages, not codes, so these do too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, exists, false, not_, select
from starlette.datastructures import QueryParams

from meterbill.core.errors import NotFound, ValidationFailed
from meterbill.core.formats import COUNTRIES
from meterbill.core.money import CURRENCIES
from meterbill.core.text_search import escape_like
from meterbill.customers.models import Customer, CustomerMetadata
from meterbill.customers.schemas import ACCOUNT_TYPES, CUSTOMER_TYPES
from meterbill.organizations.models import Organization

_METADATA_PARAM = re.compile(r"^metadata\[([^\]]*)\](.*)$")
_BOOLEANS = {"true": True, "false": False}


@dataclass(frozen=True)
class CustomerFilters:
    search_term: str | None = None
    external_id: str | None = None
    countries: Sequence[str] = ()
    states: Sequence[str] = ()
    zipcodes: Sequence[str] = ()
    currencies: Sequence[str] = ()
    customer_type: str | None = None
    has_customer_type: bool | None = None
    has_tax_identification_number: bool | None = None
    account_types: Sequence[str] = ()
    billing_entity_codes: Sequence[str] = ()
    metadata: dict[str, str] = field(default_factory=dict)


def _one_of(values: Sequence[str]) -> str:
    return "must be one of: " + ", ".join(values)


def _checked_list(
    params: QueryParams, name: str, allowed: Sequence[str], errors: dict[str, Any]
) -> list[str]:
    values = params.getlist(f"{name}[]")
    bad = {str(i): [_one_of(allowed)] for i, value in enumerate(values) if value not in allowed}
    if bad:
        errors[name] = bad
    return values


def _flag(params: QueryParams, name: str, errors: dict[str, Any]) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in _BOOLEANS:
        errors[name] = [_one_of(list(_BOOLEANS))]
        return None
    return _BOOLEANS[raw]


def parse_filters(params: QueryParams) -> CustomerFilters:
    errors: dict[str, Any] = {}
    countries = _checked_list(params, "countries", sorted(COUNTRIES), errors)
    currencies = _checked_list(params, "currencies", sorted(CURRENCIES), errors)
    account_types = _checked_list(params, "account_type", ACCOUNT_TYPES, errors)
    customer_type = params.get("customer_type")
    if customer_type is not None and customer_type not in CUSTOMER_TYPES:
        errors["customer_type"] = [_one_of(CUSTOMER_TYPES)]
    has_customer_type = _flag(params, "has_customer_type", errors)
    if has_customer_type is False and customer_type is not None:
        errors["customer_type"] = ["must be nil when has_customer_type is false"]
    has_tin = _flag(params, "has_tax_identification_number", errors)

    metadata: dict[str, str] = {}
    metadata_errors: dict[str, list[str]] = {}
    for key, value in params.multi_items():
        match = _METADATA_PARAM.match(key)
        if not match:
            continue
        name, rest = match.groups()
        if rest:
            metadata_errors[name] = ["must be a string"]
        else:
            metadata[name] = value
    if metadata_errors:
        errors["metadata"] = metadata_errors
    if errors:
        raise ValidationFailed(errors)

    search_term = (params.get("search_term") or "").strip() or None
    return CustomerFilters(
        search_term=search_term,
        external_id=params.get("external_id"),
        countries=countries,
        states=params.getlist("states[]"),
        zipcodes=params.getlist("zipcodes[]"),
        currencies=currencies,
        customer_type=customer_type,
        has_customer_type=has_customer_type,
        has_tax_identification_number=has_tin,
        account_types=account_types,
        billing_entity_codes=params.getlist("billing_entity_codes[]"),
        metadata=metadata,
    )


def customer_ids_matching(organization_id: uuid.UUID, term: str) -> Select[tuple[uuid.UUID]]:
    """The ids of the organization's customers, deleted ones included, whose name, first
    or last name, legal name, external id or e-mail contains `term` (case-insensitive):
    the customer part of another list's search (invoices)."""
    term = term.strip().lower()
    if not term or "\x1f" in term:
        return select(Customer.id).where(false())
    return select(Customer.id).where(
        Customer.organization_id == organization_id,
        Customer.search_text.like(f"%{escape_like(term)}%", escape="\\"),
    )


def apply_filters(
    query: Select[tuple[Customer]], filters: CustomerFilters, organization: Organization
) -> Select[tuple[Customer]]:
    if any(code != organization.billing_entity_code for code in filters.billing_entity_codes):
        raise NotFound("billing_entity")
    if filters.external_id is not None:
        query = query.where(Customer.external_id == filters.external_id)
    elif filters.search_term:
        # Lago's case-insensitive substring match over name, first and last name, legal
        # name, external id and e-mail, on their lower-cased copy (service.search_text).
        term = filters.search_term.lower()
        if "\x1f" in term:
            return query.where(false())
        query = query.where(Customer.search_text.like(f"%{escape_like(term)}%", escape="\\"))
    for column, values in (
        (Customer.country, filters.countries),
        (Customer.state, filters.states),
        (Customer.zipcode, filters.zipcodes),
        (Customer.currency, filters.currencies),
        (Customer.account_type, filters.account_types),
    ):
        if values:
            query = query.where(column.in_(values))
    if filters.customer_type is not None:
        query = query.where(Customer.customer_type == filters.customer_type)
    if filters.has_customer_type is not None:
        present = Customer.customer_type.is_not(None)
        query = query.where(present if filters.has_customer_type else not_(present))
    if filters.has_tax_identification_number is not None:
        present = Customer.tax_identification_number.is_not(None)
        query = query.where(present if filters.has_tax_identification_number else not_(present))
    for key, value in filters.metadata.items():
        has_key = CustomerMetadata.customer_id == Customer.id, CustomerMetadata.key == key
        if value == "":
            query = query.where(~exists(select(1).where(*has_key)))
        else:
            query = query.where(
                exists(select(1).where(and_(*has_key, CustomerMetadata.value == value)))
            )
    return query
