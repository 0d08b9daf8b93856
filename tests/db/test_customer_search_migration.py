"""Migration 0011 fills customers.search_text for customers created before it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from meterbill.migrations.runner import upgrade


def test_existing_customers_become_searchable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before.db'}"
    upgrade(url, "0010")
    engine = create_engine(url)
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    organization = uuid.uuid4().hex
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organizations (id, name, billing_entity_code, document_number_prefix,"
                " document_numbering, timezone, default_currency, net_payment_term,"
                " invoice_grace_period, document_locale, finalize_zero_amount_invoice,"
                " email_settings, created_at, updated_at) VALUES (:id, 'Org', 'org', 'ORG',"
                " 'per_customer', 'UTC', 'USD', 0, 0, 'en', 1, '[]', :now, :now)"
            ),
            {"id": organization, "now": now},
        )
        connection.execute(
            text(
                "INSERT INTO customers (id, organization_id, external_id, sequential_id, slug,"
                " account_type, name, email, legal_name, finalize_zero_amount_invoice,"
                " skip_invoice_custom_sections, created_at, updated_at) VALUES (:id, :org,"
                " 'Ext_1', 1, 'ORG-001', 'customer', 'Jürgen Ärger', 'J@Example.test', NULL,"
                " 'inherit', 0, :now, :now)"
            ),
            {"id": uuid.uuid4().hex, "org": organization, "now": now},
        )
    engine.dispose()
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT search_text FROM customers")).scalar_one()
    engine.dispose()
    assert stored == "jürgen ärger\x1fext_1\x1fj@example.test"
