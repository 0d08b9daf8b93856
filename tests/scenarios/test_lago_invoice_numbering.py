"""Invoice numbers as Lago's scenario spec invoices/invoice_numbering_spec.rb has them:
three customers on a 129 EUR monthly plan paid in advance (and a 1,000 EUR yearly one),
the organization (Lago's billing entity) in Europe/Paris with the prefix BENT-1. Numbers
per customer are `{prefix}-{customer}-{invoice of the customer}`; per organization they
are `{prefix}-{YYYYMM of finalization}-{invoice of the organization}`, and that sequence
counts every numbered invoice, including those numbered per customer before the switch.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from meterbill.core.db import Database
from meterbill.invoices.service import finalize_invoice
from meterbill.organizations.schemas import parse_organization_update
from meterbill.organizations.service import update_organization
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc

SUBSCRIBED = utc(2023, 7, 19, 12, 12)
CUSTOMERS = ("first", "second", "third")


def configure(billing: Billing, **settings: Any) -> None:
    # Through the API's parser: Lago's organization API calls the setting per_organization.
    with billing.database.transaction() as session:
        update_organization(
            session, billing.org.id, parse_organization_update(settings), utc(2020, 1, 1)
        )


def setup(database: Database, org: Org, *, second_grace: int = 0, **settings: Any) -> Billing:
    billing = Billing(database, org)
    configure(billing, timezone="Europe/Paris", document_number_prefix="BENT-1", **settings)
    billing.plan("monthly", [], amount_cents=12_900, pay_in_advance=True)
    billing.plan("yearly", [], amount_cents=100_000, pay_in_advance=True, interval="yearly")
    billing.customer("first")
    billing.customer("second", invoice_grace_period=second_grace)
    billing.customer("third")
    return billing


def subscribe_all(billing: Billing, billing_time: str) -> None:
    for customer in CUSTOMERS:
        billing.subscribe(customer, "monthly", customer, SUBSCRIBED, billing_time=billing_time)


def numbers(billing: Billing) -> list[str]:
    # Sorted: Lago's spec compares the sets of numbers, not their order.
    return sorted(invoice.number for invoice in billing.invoices())


def latest(billing: Billing, count: int = 3) -> list[str]:
    return sorted(invoice.number for invoice in billing.invoices()[-count:])


def finalize_first_draft(billing: Billing, customer: str, now: datetime) -> None:
    draft = next(i for i in billing.invoices(customer) if i.status == "draft")
    with billing.database.transaction() as session:
        finalize_invoice(session, billing.org.id, str(draft.id), now)


def test_switching_between_per_customer_and_per_organization(database: Database, org: Org) -> None:
    billing = setup(database, org)
    subscribe_all(billing, "anniversary")
    assert latest(billing) == ["BENT-1-001-001", "BENT-1-002-001", "BENT-1-003-001"]
    billing.tick(utc(2023, 8, 19, 12, 12))
    assert latest(billing) == ["BENT-1-001-002", "BENT-1-002-002", "BENT-1-003-002"]
    billing.tick(utc(2023, 9, 19, 12, 12))
    assert latest(billing) == ["BENT-1-001-003", "BENT-1-002-003", "BENT-1-003-003"]

    configure(billing, document_numbering="per_organization", document_number_prefix="BENT-11")
    billing.tick(utc(2023, 10, 19, 12, 12))
    # Nine invoices were numbered before: the organization's sequence goes on at 10.
    assert latest(billing) == ["BENT-11-202310-010", "BENT-11-202310-011", "BENT-11-202310-012"]

    configure(billing, document_numbering="per_customer")
    billing.tick(utc(2023, 11, 19, 12, 12))
    # Each customer's own sequence went on counting under the other numbering.
    assert latest(billing) == ["BENT-11-001-005", "BENT-11-002-005", "BENT-11-003-005"]

    new = utc(2023, 11, 22, 12, 12)
    billing.subscribe("second", "yearly", "new_external_id", new, billing_time="anniversary")
    assert numbers(billing) == sorted([
        "BENT-1-001-001", "BENT-1-002-001", "BENT-1-003-001",
        "BENT-1-001-002", "BENT-1-002-002", "BENT-1-003-002",
        "BENT-1-001-003", "BENT-1-002-003", "BENT-1-003-003",
        "BENT-11-202310-010", "BENT-11-202310-011", "BENT-11-202310-012",
        "BENT-11-001-005", "BENT-11-002-005", "BENT-11-003-005",
        "BENT-11-002-006",
    ])  # fmt: skip

    configure(billing, document_numbering="per_organization")
    billing.tick(utc(2023, 12, 19, 12, 12))
    assert latest(billing) == ["BENT-11-202312-017", "BENT-11-202312-018", "BENT-11-202312-019"]
    billing.tick(utc(2024, 1, 19, 12, 12))
    assert latest(billing) == ["BENT-11-202401-020", "BENT-11-202401-021", "BENT-11-202401-022"]


def test_the_month_of_a_number_is_the_organization_timezone_s(database: Database, org: Org) -> None:
    billing = setup(database, org)
    subscribe_all(billing, "calendar")
    assert latest(billing) == ["BENT-1-001-001", "BENT-1-002-001", "BENT-1-003-001"]
    # Calendar periods in Europe/Paris: Aug 1 and Sep 1 start at 22:00 UTC the day before.
    billing.tick(utc(2023, 8, 1))
    assert latest(billing) == ["BENT-1-001-002", "BENT-1-002-002", "BENT-1-003-002"]
    billing.tick(utc(2023, 9, 1))
    assert latest(billing) == ["BENT-1-001-003", "BENT-1-002-003", "BENT-1-003-003"]
    for customer in CUSTOMERS:
        billing.customer(customer, timezone="Europe/Paris")
    configure(billing, document_numbering="per_organization", document_number_prefix="BENT-11")
    # Sep 30, 23:10 UTC is October 1 in Paris: October's billing and October's month.
    billing.tick(utc(2023, 9, 30, 23, 10))
    assert latest(billing) == ["BENT-11-202310-010", "BENT-11-202310-011", "BENT-11-202310-012"]


def test_drafts_take_their_number_when_finalized_per_customer(database: Database, org: Org) -> None:
    billing = setup(database, org, second_grace=2)
    subscribe_all(billing, "anniversary")
    assert numbers(billing) == ["BENT-1-001-001", "BENT-1-003-001", "BENT-1-DRAFT"]
    later = SUBSCRIBED + timedelta(days=1)
    billing.subscribe("first", "yearly", "new_external_id", later, billing_time="anniversary")
    later = SUBSCRIBED + timedelta(days=2)
    billing.subscribe("second", "yearly", "new_external_id_2", later, billing_time="anniversary")
    july = ["BENT-1-001-001", "BENT-1-001-002", "BENT-1-003-001"]
    assert numbers(billing) == [*july, "BENT-1-DRAFT", "BENT-1-DRAFT"]
    finalize_first_draft(billing, "second", later + timedelta(hours=1))
    assert numbers(billing) == sorted([*july, "BENT-1-002-001", "BENT-1-DRAFT"])
    finalize_first_draft(billing, "second", later + timedelta(hours=2))
    july = sorted([*july, "BENT-1-002-001", "BENT-1-002-002"])
    assert numbers(billing) == july
    billing.tick(utc(2023, 8, 19, 12, 12))
    august = ["BENT-1-001-003", "BENT-1-003-002"]
    assert numbers(billing) == sorted([*july, *august, "BENT-1-DRAFT"])
    # August's draft of the second customer was finalized when its grace period ended.
    billing.tick(utc(2023, 9, 19, 12, 12))
    assert numbers(billing) == sorted([
        *july, *august, "BENT-1-002-003", "BENT-1-001-004", "BENT-1-DRAFT", "BENT-1-003-003",
    ])  # fmt: skip


def test_drafts_take_their_number_when_finalized_per_organization(
    database: Database, org: Org
) -> None:
    billing = setup(database, org, second_grace=2, document_numbering="per_organization")
    subscribe_all(billing, "anniversary")
    assert numbers(billing) == ["BENT-1-202307-001", "BENT-1-202307-002", "BENT-1-DRAFT"]
    later = SUBSCRIBED + timedelta(days=1)
    billing.subscribe("first", "yearly", "new_external_id", later, billing_time="anniversary")
    later = SUBSCRIBED + timedelta(days=2)
    billing.subscribe("second", "yearly", "new_external_id_2", later, billing_time="anniversary")
    july = ["BENT-1-202307-001", "BENT-1-202307-002", "BENT-1-202307-003"]
    assert numbers(billing) == [*july, "BENT-1-DRAFT", "BENT-1-DRAFT"]
    finalize_first_draft(billing, "second", later + timedelta(hours=1))
    assert numbers(billing) == [*july, "BENT-1-202307-004", "BENT-1-DRAFT"]
    finalize_first_draft(billing, "second", later + timedelta(hours=2))
    july = [*july, "BENT-1-202307-004", "BENT-1-202307-005"]
    assert numbers(billing) == july
    billing.tick(utc(2023, 8, 19, 12, 12))
    august = ["BENT-1-202308-006", "BENT-1-202308-007"]
    assert numbers(billing) == [*july, *august, "BENT-1-DRAFT"]
    # Lago finalizes August's draft by hand on Sep 20; the clock does it on Sep 19 after
    # that day's invoices, so it takes the number Lago gives it.
    billing.tick(utc(2023, 9, 19, 12, 12))
    assert numbers(billing) == [
        *july, *august, "BENT-1-202309-008", "BENT-1-202309-009", "BENT-1-202309-010",
        "BENT-1-DRAFT",
    ]  # fmt: skip
    second = [i.number for i in billing.invoices("second") if i.billing_date.month == 8]
    assert second == ["BENT-1-202309-010"]
