"""Hypothesis: a plan paid in advance that ends while its invoice is a draft gets, at
finalization, the very credit note it would have got had the invoice been finalized
already (billing.md §4.4, §10: Lago's draft note, finalized with its invoice)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterbill.core.db import Database
from meterbill.credit_notes.models import CreditNote
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc
from tests.scenarios.credit_notes import notes, terminate

NAMES = itertools.count()


@pytest.fixture
def billing(database: Database, org: Org) -> Billing:
    billing = Billing(database, org)
    billing.tax("vat", "19.6", applied_to_organization=True)
    return billing


def figures(note: CreditNote) -> tuple[Any, ...]:
    return (note.sub_total_excluding_taxes_amount_cents, note.taxes_amount_cents,
            note.total_amount_cents, note.credit_amount_cents, note.refund_amount_cents,
            note.offset_amount_cents, note.balance_amount_cents, note.issuing_date,
            note.reason)  # fmt: skip


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    amount=st.integers(1, 500_000),
    start_day=st.integers(1, 20),
    days_used=st.integers(0, 7),
    grace=st.integers(1, 10),
    timezone=st.sampled_from(["UTC", "America/Los_Angeles", "Asia/Tokyo"]),
    option=st.sampled_from(["credit", "refund", "offset"]),
)
def test_a_note_that_waited_for_its_draft_is_the_note_it_would_have_been(
    billing: Billing, amount: int, start_day: int, days_used: int, grace: int,
    timezone: str, option: str,
) -> None:  # fmt: skip
    n = next(NAMES)
    plan = f"p{n}"
    billing.plan(plan, [], amount_cents=amount, pay_in_advance=True)
    started, ended = utc(2024, 3, start_day, 12), utc(2024, 3, start_day + days_used, 12)
    made, starts = {}, {}
    for kind, customer_grace in (("finalized", 0), ("draft", grace)):
        customer, subscription = f"{kind}{n}", f"{kind}-s{n}"
        billing.customer(customer, timezone=timezone, invoice_grace_period=customer_grace)
        billing.subscribe(customer, plan, subscription, started)
        [start] = billing.invoices(customer)
        assert start.status == kind
        starts[kind] = start.id
        before = {note.id for note in notes(billing)}
        terminate(billing, subscription, ended, on_termination_credit_note=option)
        made[kind] = [note for note in notes(billing) if note.id not in before]
    assert made["draft"] == []
    billing.tick(utc(2024, 3, start_day + grace, 23, 59))  # past the grace period anywhere
    waited = [note for note in notes(billing) if note.invoice_id == starts["draft"]]
    assert [figures(note) for note in waited] == [figures(note) for note in made["finalized"]]
