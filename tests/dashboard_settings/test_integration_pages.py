"""Settings › Integrations: connecting, editing and disconnecting a Stripe account from
the dashboard, through the API's parser and service."""

from __future__ import annotations

import html
import uuid

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lago_python_client.client import Client
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.payment_providers.models import PaymentProvider, ProviderCustomer
from tests.conftest import Org
from tests.dashboard.conftest import log_in, make_user
from tests.dashboard_settings.conftest import error_under, post

KEY = "sk_test_dashboard0000abcd"
FORM = {
    "name": "Stripe",
    "code": "stripe_prod",
    "secret_key": KEY,
    "webhook_secret": "whsec_dashboard",
    "success_redirect_url": "https://shop.example/ok",
}


def _stored(database: Database, org: Org) -> list[PaymentProvider]:
    with database.transaction(write=False) as session:
        return list(
            session.scalars(
                select(PaymentProvider).where(
                    PaymentProvider.organization_id == org.id,
                    PaymentProvider.deleted_at.is_(None),
                )
            )
        )


def test_a_stripe_account_is_connected_edited_and_disconnected(
    client: TestClient, database: Database, org: Org
) -> None:
    response = post(client, "/settings/integrations/stripe", FORM)
    assert (response.status_code, response.headers["location"]) == (303, "/settings/integrations")
    page = client.get("/settings/integrations").text
    assert "Stripe connected" in page
    assert "••••••••abcd" in page and KEY not in page and "whsec_dashboard" not in page
    assert html.escape(f"/webhooks/stripe/{org.id}?code=stripe_prod") in page
    [stored] = _stored(database, org)
    assert (stored.code, stored.success_redirect_url) == ("stripe_prod", "https://shop.example/ok")
    assert KEY not in stored.secret_key

    # A blank secret keeps the stored one.
    response = post(client, "/settings/integrations/stripe_prod/edit",
                    {"name": "Stripe EU", "secret_key": "", "webhook_secret": ""})  # fmt: skip
    assert response.status_code == 303
    [edited] = _stored(database, org)
    assert (edited.name, edited.secret_key, edited.webhook_secret) == (
        "Stripe EU", stored.secret_key, stored.webhook_secret,
    )  # fmt: skip

    response = post(client, "/settings/integrations/stripe_prod/delete")
    assert response.status_code == 303
    assert _stored(database, org) == []
    assert "Stripe disconnected" in client.get("/settings/integrations").text


def test_refused_values_are_explained_and_nothing_is_written(
    client: TestClient, database: Database, org: Org
) -> None:
    refused = {**FORM, "secret_key": "pk_live_publishable", "success_redirect_url": "ok"}
    response = post(client, "/settings/integrations/stripe", refused)
    assert response.status_code == 422
    assert error_under(response.text, "secret_key") == "Not a Stripe secret key (sk_... or rk_...)."
    assert error_under(response.text, "success_redirect_url") == "Not a web address (https://...)."
    assert _stored(database, org) == []
    post(client, "/settings/integrations/stripe", FORM)
    again = post(client, "/settings/integrations/stripe", FORM)
    assert again.status_code == 422
    assert error_under(again.text, "code") == "Another connection has this code."
    assert len(_stored(database, org)) == 1


def test_only_admins_see_integrations(dashboard_app: FastAPI, database: Database, org: Org) -> None:
    email = make_user(database, org, "finance@acme.test", role="finance")
    with TestClient(dashboard_app) as finance:
        assert log_in(finance, email).status_code == 303
        assert finance.get("/settings/integrations").status_code == 403
        assert "/settings/integrations" not in finance.get("/settings").text


def test_a_customer_stripe_refused_shows_why_on_its_information_tab(
    client: TestClient, database: Database, org: Org
) -> None:
    from datetime import UTC, datetime

    from meterbill.customers.schemas import parse_customer
    from meterbill.customers.service import upsert_customer

    now = datetime(2026, 1, 15, tzinfo=UTC)
    with database.transaction() as session:
        body = {"external_id": "refused", "billing_configuration": {"payment_provider": "stripe"}}
        customer, _ = upsert_customer(session, org.id, parse_customer(body), now)
        session.add(
            ProviderCustomer(
                customer_id=customer.id,
                organization_id=org.id,
                sync_status="failed",
                error_code="email_invalid",
                error_message="Invalid email address",
                attempts=1,
                created_at=now,
                updated_at=now,
            )
        )
        customer_id = customer.id
    page = client.get(f"/customers/{customer_id}/information").text
    assert "Refused by Stripe: Invalid email address (email_invalid)" in page


def test_a_failed_stripe_payment_is_retried_from_the_invoice_page(
    client: TestClient, http: httpx.Client, lago: Client, database: Database, org: Org
) -> None:
    from tests.api.test_stripe import Stripe, _collected_customer, _one_off, _run
    from tests.fake_stripe import CARD_DECLINED, shared_fake_stripe

    secret_key = f"sk_test_{uuid.uuid4().hex}"
    body = {"code": "stripe_prod", "name": "Stripe", "secret_key": secret_key}
    assert http.post("/payment_providers", json={"payment_provider": body}).status_code == 200
    stripe = Stripe(shared_fake_stripe(), secret_key, "", "")
    customer = _collected_customer(lago, http, stripe, card=CARD_DECLINED)
    invoice = _one_off(lago)
    _run(database, stripe, customer, utc_now())
    page = client.get(f"/invoices/{invoice.lago_id}").text
    assert "Retry payment" in page
    response = post(client, f"/invoices/{invoice.lago_id}/retry-payment")
    assert response.status_code == 303
    assert "Payment retry sent to the provider" in client.get(f"/invoices/{invoice.lago_id}").text
    again = post(client, f"/invoices/{invoice.lago_id}/retry-payment")
    assert again.status_code == 422
    assert "already under way at the payment provider" in again.text
