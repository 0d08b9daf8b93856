"""No value typed in a settings, members or account form gives a 500: each is a page
(303 when the API accepts it, 422 with the reason when it does not)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.users.models import User
from tests.conftest import Org
from tests.dashboard.test_hostile_pages import HOSTILE_VALUES
from tests.dashboard_settings.conftest import organization_as_api, post

FORMS = {
    "/settings/information": [
        "name", "legal_name", "legal_number", "tax_identification_number", "email",
        "address_line1", "address_line2", "zipcode", "city", "state", "country",
    ],
    "/settings/timezone": ["timezone"],
    "/settings/invoices/currency": ["default_currency"],
    "/settings/invoices/locale": ["document_locale"],
    "/settings/invoices/grace-period": ["invoice_grace_period"],
    "/settings/invoices/net-payment-term": ["net_payment_term"],
    "/settings/invoices/footer": ["invoice_footer"],
    "/settings/invoices/numbering": ["document_numbering", "document_number_prefix"],
    "/settings/invoices/taxes": ["tax_codes"],
    "/settings/members/invite": ["email", "role"],
    "/settings/account/password": ["current_password", "password", "password_confirmation"],
}  # fmt: skip


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
def test_any_value_in_any_settings_field_is_a_page_not_a_500(
    client: TestClient, database: Database, org: Org, value: str
) -> None:
    for url, fields in FORMS.items():
        response = post(client, url, dict.fromkeys(fields, value))
        # A body over the server's 1 MB limit is refused before it is read (core.guards).
        expected = (413,) if len(value) * len(fields) > 1_000_000 else (303, 422)
        assert response.status_code in expected, (url, response.status_code)
    with database.transaction(write=False) as session:
        member = session.scalars(select(User).where(User.organization_id == org.id)).one()
    for url in (f"/settings/members/{member.id}/role", f"/settings/members/{member.id}/remove"):
        assert post(client, url, {"role": value}).status_code == 422
    for junk in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert post(client, f"/settings/members/{junk}/role", {"role": "admin"}).status_code == 404
        assert post(client, f"/settings/members/invitations/{junk}/revoke").status_code == 404
    # Whatever was accepted is what the API holds: the organization still reads back.
    assert organization_as_api(database, org)["name"]
