"""Credit note pages' fixtures: Lago's E15 invoice (billing.md §14: two in-advance plans,
a 250 EUR coupon on the second, 10 % VAT on the first and 10 % + 10 % on the second),
1 200 of it paid, and a logged-in dashboard user (tests/dashboard_actions' `web`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.dashboard.browser import chromium  # noqa: F401  (fixture)
from tests.dashboard_actions.conftest import PASSWORD, Web, login_as, text_of, web  # noqa: F401
from tests.scenarios.billing import Billing
from tests.scenarios.credit_notes import e15, plan_fee, record_payment

__all__ = ["E15", "PASSWORD", "Web", "login_as", "text_of"]


@dataclass(frozen=True)
class E15:
    invoice_id: uuid.UUID
    number: str
    fee_p1: uuid.UUID  # 179.00, 10 % VAT
    fee_p2: uuid.UUID  # 399.00, 250.00 of coupon, 10 % + 10 %


@pytest.fixture
def invoice(database: Database, org: Org) -> E15:
    billing = Billing(database, org)
    october = e15(billing)
    record_payment(billing, october.id, 12_00)
    return E15(
        october.id,
        october.number,
        plan_fee(billing, october.id, 17_900),
        plan_fee(billing, october.id, 39_900),
    )


@pytest.fixture
def member(server: str, database: Database, org: Org) -> Iterator[object]:
    """Log in members by role: `member("finance")`; their clients closed after the test."""
    opened: list[Web] = []

    def make(role: str) -> Web:
        opened.append(login_as(server, database, org, role))
        return opened[-1]

    yield make
    for session in opened:
        session.client.close()
