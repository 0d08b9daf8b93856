"""Lago's scenario spec invoices/preview_spec.rb, its spending-minimum case: the
preview of a subscription ending Mar 31, 2026 trues its charge up to the whole month's
minimum (2,337 EUR; 16.25 used; 23 % tax). Its wallet cases restrict a wallet to fixed
charges, which meterbill does not have.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from meterbill.core.db import Database
from meterbill.invoices import preview
from meterbill.invoices.models import Invoice
from tests.conftest import Org
from tests.scenarios.billing import Billing, utc


def totals(session: Session, invoices: list[Invoice]) -> list[dict[str, Any]]:
    return [{"fees": i.fees_amount_cents, "taxes": i.taxes_amount_cents,
             "total": i.total_amount_cents} for i in invoices]  # fmt: skip


def test_preview_trues_up_a_spending_minimum_on_the_whole_period(
    database: Database, org: Org
) -> None:
    billing = Billing(database, org)
    billing.tax("vat", "23", applied_to_organization=True)
    amount = billing.metric("amount", "sum_agg", field_name="amount")
    billing.plan("p", [{"billable_metric_id": amount, "charge_model": "standard",
                        "properties": {"amount": "1"}, "min_amount_cents": 233_700}],
                 amount_cents=0)  # fmt: skip
    billing.customer("cus", timezone="UTC")
    billing.subscribe("cus", "p", "sub", utc(2026, 3, 1), billing_time="calendar",
                      ending_at=utc(2026, 3, 31).isoformat())  # fmt: skip
    billing.events("sub", "amount", (utc(2026, 3, 2, 10), {"amount": 16.25}))
    billing.usage("cus", "sub", utc(2026, 3, 3, 12))
    data = preview.parse_preview(
        {"customer": {"external_id": "cus"}, "subscriptions": {"external_ids": ["sub"]}}
    )
    found = preview.preview_invoice(database, org.id, data, utc(2026, 3, 3, 12), totals)
    # 16.25 EUR of usage topped up to 2,337 EUR (all of March), + 23 % = 537.51.
    assert found == {"fees": 233_700, "taxes": 53_751, "total": 287_451}
