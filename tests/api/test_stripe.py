"""Collecting through Stripe (issue 20), against the fake Stripe of tests/fake_stripe.py
driven by the official `stripe` package: connecting an account, creating customers,
collecting invoices from the clock, Stripe's webhooks, refunds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from lago_python_client.client import Client
from lago_python_client.models.customer import Customer as LagoCustomer
from lago_python_client.models.customer import CustomerBillingConfiguration
from lago_python_client.models.invoice import InvoiceFee, InvoiceFeesList, OneOffInvoice
from sqlalchemy import func, select

from meterbill.clock import ClockOptions, TickReport, tick
from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.invoices.scope import Scope
from meterbill.payment_providers.models import PaymentProvider, ProviderCustomer, ProviderEvent
from meterbill.payment_providers.options import ProviderOptions
from meterbill.payments.models import Payment
from tests.conftest import ENCRYPTION_KEY, Org
from tests.fake_stripe import (
    CARD_DECLINED,
    CARD_OK,
    CARD_PROCESSING,
    FakeStripe,
    shared_fake_stripe,
)
from tests.webhook_receiver import delivery_log, ok

TOTAL = 12_000  # the one-off invoice: 10 000 + 20 % VAT


@dataclass
class Stripe:
    fake: FakeStripe
    secret_key: str
    webhook_secret: str
    webhook_url: str

    @property
    def account(self) -> Any:
        return self.fake.account(self.secret_key)

    def options(self, api_base: str | None = None, public_url: str | None = None) -> ClockOptions:
        return ClockOptions(
            payments=ProviderOptions(
                encryption_key=ENCRYPTION_KEY,
                stripe_api_base=api_base or self.fake.url,
                network_retries=0,
                public_url=public_url,
                register_webhooks=public_url is not None,
            )
        )

    def send(self, event_type: str, obj: dict[str, Any], **kwargs: Any) -> httpx.Response:
        event = self.fake.event(event_type, obj)
        return self.fake.deliver(self.webhook_url, event, self.webhook_secret, **kwargs)


@pytest.fixture
def stripe_account(http: httpx.Client, server: str, org: Org) -> Stripe:
    secret_key = f"sk_test_{uuid.uuid4().hex}"
    webhook_secret = f"whsec_{uuid.uuid4().hex}"
    body = {"provider_type": "stripe", "code": "stripe_prod", "name": "Stripe",
            "secret_key": secret_key, "webhook_secret": webhook_secret}  # fmt: skip
    connection = ok(http.post("/payment_providers", json={"payment_provider": body}))
    url = f"{server}/webhooks/stripe/{org.id}?code=stripe_prod"
    # At the public address (METERBILL_PUBLIC_URL, else METERBILL_API_URL).
    path = f"/webhooks/stripe/{org.id}?code=stripe_prod"
    assert connection["payment_provider"]["webhook_url"] == "http://localhost:3000" + path
    # Every webhook of the organization lands in the delivery log.
    ok(http.post("/webhook_endpoints", json={"webhook_endpoint": {"webhook_url": server}}))
    return Stripe(shared_fake_stripe(), secret_key, webhook_secret, url)


def _catalog(http: httpx.Client) -> None:
    ok(http.post("/taxes", json={"tax": {"name": "VAT", "code": "vat", "rate": 20}}))
    body = {"name": "Setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR",
            "tax_codes": ["vat"]}  # fmt: skip
    ok(http.post("/add_ons", json={"add_on": body}))


def _customer(lago: Client, external_id: str = "cus", **billing: Any) -> Any:
    config = CustomerBillingConfiguration(payment_provider="stripe", **billing)
    return lago.customers.create(
        LagoCustomer(
            external_id=external_id,
            name="Jane Doe",
            email="jane@example.com",
            country="FR",
            billing_configuration=config,
        )
    )


def _one_off(lago: Client, external_id: str = "cus") -> Any:
    fees = InvoiceFeesList(__root__=[InvoiceFee(add_on_code="setup", units=1)])
    return lago.invoices.create(
        OneOffInvoice(external_customer_id=external_id, currency="EUR", fees=fees)
    )


def _run(
    database: Database, stripe: Stripe, customer: Any, now: datetime, api_base: str | None = None
) -> TickReport:
    scope = Scope(uuid.UUID(customer.lago_id), uuid.UUID(customer.lago_id))
    with database.transaction() as session:
        from meterbill.customers.models import Customer

        row = session.get(Customer, uuid.UUID(customer.lago_id))
        assert row is not None
        scope = Scope(row.id, row.organization_id)
    report = tick(database, now, scope, options=stripe.options(api_base))
    assert report.failures == []
    return report


def _intent_requests(stripe: Stripe) -> list[tuple[dict[str, Any], str | None]]:
    return [
        (params, key)
        for method, path, params, key in stripe.account.requests
        if (method, path) == ("POST", "/v1/payment_intents")
    ]


def _payments(http: httpx.Client, invoice_id: str) -> list[dict[str, Any]]:
    return list(ok(http.get("/payments", params={"invoice_id": invoice_id}))["payments"])


def _webhooks(http: httpx.Client, webhook_type: str) -> list[dict[str, Any]]:
    return [w["payload"] for w in delivery_log(http, webhook_type=webhook_type)]


def _collected_customer(
    lago: Client, http: httpx.Client, stripe: Stripe, card: str = CARD_OK
) -> Any:
    """A customer already at Stripe (its id given), with a card."""
    _catalog(http)
    stripe_id = stripe.fake.add_customer(stripe.secret_key, payment_method=card)
    return _customer(lago, provider_customer_id=stripe_id, sync_with_provider=False)


# --- 1. connecting an account ------------------------------------------------------


def test_the_secret_key_is_stored_encrypted_and_never_shown_again(
    http: httpx.Client, database: Database, org: Org, stripe_account: Stripe
) -> None:
    shown = ok(http.get("/payment_providers/stripe_prod"))["payment_provider"]
    assert shown["secret_key"] == "••••••••" + stripe_account.secret_key[-4:]
    assert shown["webhook_secret_configured"] is True
    assert stripe_account.secret_key not in str(ok(http.get("/payment_providers")))
    with database.transaction() as session:
        row = session.scalars(
            select(PaymentProvider).where(PaymentProvider.organization_id == org.id)
        ).one()
    assert stripe_account.secret_key not in row.secret_key
    assert Fernet(ENCRYPTION_KEY).decrypt(row.secret_key.encode()).decode() == (
        stripe_account.secret_key
    )
    # A code per connection, as Lago has.
    again = {"code": "stripe_prod", "name": "Again", "secret_key": "sk_test_other_key"}
    refused = http.post("/payment_providers", json={"payment_provider": again})
    assert refused.status_code == 422
    assert refused.json()["error_details"] == {"code": ["value_already_exist"]}
    bad = {"code": "other", "name": "Bad", "secret_key": "pk_test_publishable"}
    refused = http.post("/payment_providers", json={"payment_provider": bad})
    assert refused.json()["error_details"] == {"secret_key": ["value_is_invalid"]}
    renamed = {"payment_provider": {"name": "Stripe EU", "secret_key": "sk_test_rotated9876"}}
    updated = ok(http.put("/payment_providers/stripe_prod", json=renamed))["payment_provider"]
    assert (updated["name"], updated["secret_key"]) == ("Stripe EU", "••••••••9876")
    assert http.get("/payment_providers/nope").status_code == 404


def test_without_a_signing_secret_meterbill_registers_its_endpoint_at_stripe(
    http: httpx.Client, server: str, database: Database, org: Org
) -> None:
    fake = shared_fake_stripe()
    secret_key = f"sk_test_{uuid.uuid4().hex}"
    body = {"code": "stripe_auto", "name": "Stripe", "secret_key": secret_key}
    ok(http.post("/payment_providers", json={"payment_provider": body}))
    stripe = Stripe(fake, secret_key, "", f"{server}/webhooks/stripe/{org.id}?code=stripe_auto")
    scope = Scope(uuid.uuid4(), org.id)
    report = tick(database, utc_now(), scope, options=stripe.options(public_url=server))
    assert report.payments.webhooks_registered == ["stripe_auto"]
    [endpoint] = fake.account(secret_key).webhook_endpoints.values()
    assert endpoint["url"] == stripe.webhook_url
    assert "payment_intent.succeeded" in endpoint["enabled_events"]
    shown = ok(http.get("/payment_providers/stripe_auto"))["payment_provider"]
    assert (shown["webhook_secret_configured"], shown["webhook_endpoint_id"]) == (
        True,
        endpoint["id"],
    )
    # Stripe's events signed with that endpoint's secret are taken.
    stripe.webhook_secret = endpoint["secret"]
    assert stripe.send("customer.updated", {"id": "cus_unknown"}).status_code == 200
    # Registered once.
    tick(database, utc_now(), scope, options=stripe.options(public_url=server))
    assert len(fake.account(secret_key).webhook_endpoints) == 1


def test_without_an_encryption_key_nothing_is_connected() -> None:
    from meterbill.core.errors import ValidationFailed
    from meterbill.payment_providers.secrets import SecretBox

    with pytest.raises(ValidationFailed) as refused:
        SecretBox(None).encrypt("sk_test_123")
    assert refused.value.details == {"base": ["encryption_key_missing"]}


# --- 2. customers -------------------------------------------------------------------


def test_creating_a_synced_customer_creates_it_at_stripe_from_the_clock(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _customer(lago, sync_with_provider=True)
    # The request answered without calling Stripe.
    assert customer.billing_configuration.provider_customer_id is None
    assert stripe_account.account.requests == []
    _run(database, stripe_account, customer, utc_now())
    [(method, path, params, key)] = stripe_account.account.requests
    assert (method, path) == ("POST", "/v1/customers")
    assert params["name"] == "Jane Doe" and params["email"] == "jane@example.com"
    assert params["metadata"] == {"lago_customer_id": customer.lago_id, "customer_id": "cus"}
    assert key is not None and key.startswith(f"meterbill-customer-{customer.lago_id}-")
    [stripe_id] = stripe_account.account.customers
    found = lago.customers.find("cus")
    assert found.billing_configuration.provider_customer_id == stripe_id
    [created] = _webhooks(http, "customer.payment_provider_created")
    assert created["customer"]["billing_configuration"]["provider_customer_id"] == stripe_id
    # Done once: the next tick sends nothing.
    _run(database, stripe_account, customer, utc_now() + timedelta(hours=1))
    assert len(stripe_account.account.requests) == 1


def test_an_existing_provider_customer_id_is_used_as_given(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    _run(database, stripe_account, customer, utc_now())
    assert "/v1/customers" not in stripe_account.account.paths("POST")
    [(params, _key)] = _intent_requests(stripe_account)
    assert params["customer"] == customer.billing_configuration.provider_customer_id
    assert lago.invoices.find(invoice.lago_id).payment_status == "succeeded"


def test_a_refused_customer_is_recorded_reported_and_tried_again_once_changed(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    stripe_account.account.refused_email = "jane@example.com"
    customer = _customer(lago, sync_with_provider=True)
    _run(database, stripe_account, customer, utc_now())
    assert lago.customers.find("cus").billing_configuration.provider_customer_id is None
    with database.transaction() as session:
        state = session.get(ProviderCustomer, uuid.UUID(customer.lago_id))
        assert state is not None
        assert (state.sync_status, state.error_code) == ("failed", "email_invalid")
    [error] = _webhooks(http, "customer.payment_provider_error")
    assert error["object_type"] == "payment_provider_customer_error"
    assert error["payment_provider_customer_error"] == {
        "lago_customer_id": customer.lago_id,
        "external_customer_id": "cus",
        "provider_customer_id": None,
        "payment_provider": "stripe",
        "payment_provider_code": "stripe_prod",
        "provider_error": {"message": "Invalid email address", "error_code": "email_invalid"},
    }
    # Refused: not asked again while the customer stays as it is...
    _run(database, stripe_account, customer, utc_now() + timedelta(hours=1))
    assert len(stripe_account.account.requests) == 1
    # ...and asked again once it changed.
    ok(http.post("/customers", json={"customer": {"external_id": "cus", "email": "j@x.io"}}))
    _run(database, stripe_account, customer, utc_now() + timedelta(hours=2))
    assert lago.customers.find("cus").billing_configuration.provider_customer_id is not None
    with database.transaction() as session:
        state = session.get(ProviderCustomer, uuid.UUID(customer.lago_id))
        assert state is not None and (state.sync_status, state.error_code) == ("synced", None)


def test_stripe_unreachable_leaves_the_customer_to_a_later_tick(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _customer(lago, sync_with_provider=True)
    now = utc_now()
    # Nothing listens there: connection refused.
    report = _run(database, stripe_account, customer, now, api_base="http://127.0.0.1:9")
    assert report.payments.customers.deferred == ["cus"]
    with database.transaction() as session:
        state = session.get(ProviderCustomer, uuid.UUID(customer.lago_id))
        assert state is not None
        assert (state.sync_status, state.error_code) == ("pending", None)
        assert state.next_attempt_at == now + timedelta(minutes=1)
    # meterbill works on meanwhile.
    ok(http.post("/customers", json={"customer": {"external_id": "other"}}))
    _run(database, stripe_account, customer, now + timedelta(seconds=30))
    assert stripe_account.account.requests == []  # not due yet (backoff)
    _run(database, stripe_account, customer, now + timedelta(minutes=1))
    assert lago.customers.find("cus").billing_configuration.provider_customer_id is not None


# --- 3. collection --------------------------------------------------------------------


def test_a_finalized_invoice_is_charged_off_session_by_the_clock(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    # Finalized in the request; Stripe was not called by it.
    assert (invoice.status, invoice.payment_status) == ("finalized", "pending")
    assert _intent_requests(stripe_account) == []
    report = _run(database, stripe_account, customer, utc_now())
    assert report.payments.collection.succeeded == [invoice.number]
    [(params, key)] = _intent_requests(stripe_account)
    assert key == f"meterbill-invoice-{invoice.lago_id}-1"
    assert params["amount"] == str(TOTAL) and params["currency"] == "eur"
    assert params["payment_method"] == CARD_OK
    assert (params["off_session"], params["confirm"]) == ("true", "true")
    assert params["metadata"]["lago_invoice_id"] == invoice.lago_id
    assert [charge["amount"] for charge in stripe_account.account.charges] == [TOTAL]
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_paid_amount_cents) == ("succeeded", TOTAL)
    [payment] = _payments(http, invoice.lago_id)
    assert {key: payment[key] for key in ("amount_cents", "status", "payment_status", "type",
            "payment_provider_code", "payment_provider_type", "provider_customer_id")} == {
        "amount_cents": TOTAL, "status": "succeeded", "payment_status": "succeeded",
        "type": "provider", "payment_provider_code": "stripe_prod",
        "payment_provider_type": "stripe",
        "provider_customer_id": customer.billing_configuration.provider_customer_id,
    }  # fmt: skip
    assert payment["provider_payment_id"].startswith("pi_")
    [updated] = _webhooks(http, "invoice.payment_status_updated")
    assert updated["invoice"]["payment_status"] == "succeeded"
    # Paid: never charged again.
    _run(database, stripe_account, customer, utc_now() + timedelta(days=1))
    assert len(stripe_account.account.charges) == 1


def test_an_answer_lost_on_the_network_is_retried_without_charging_twice(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    now = utc_now()
    # The first attempt reaches Stripe, which charges; its answer never comes back.
    stripe_account.account.fail("/v1/payment_intents", "drop_after")
    report = _run(database, stripe_account, customer, now)
    assert report.payments.collection.deferred == [invoice.number]
    assert len(stripe_account.account.charges) == 1
    assert lago.invoices.find(invoice.lago_id).payment_status == "pending"
    [payment] = _payments(http, invoice.lago_id)
    assert (payment["status"], payment["provider_payment_id"]) == ("pending", None)
    # The next tick after the backoff sends the same key: Stripe answers with the charge
    # it made, and makes no other.
    _run(database, stripe_account, customer, now + timedelta(minutes=1))
    keys = [key for _params, key in _intent_requests(stripe_account)]
    assert keys == [f"meterbill-invoice-{invoice.lago_id}-1"] * 2
    assert len(stripe_account.account.charges) == 1
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_paid_amount_cents) == ("succeeded", TOTAL)


@pytest.mark.parametrize("failure", ["drop", 500, 429])
def test_network_failures_and_rate_limits_are_retried_with_backoff(
    lago: Client,
    http: httpx.Client,
    database: Database,
    stripe_account: Stripe,
    failure: Any,
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    now = utc_now()
    stripe_account.account.fail("/v1/payment_intents", failure, failure)
    _run(database, stripe_account, customer, now)
    _run(database, stripe_account, customer, now + timedelta(minutes=1))
    assert lago.invoices.find(invoice.lago_id).payment_status == "pending"
    with database.transaction() as session:
        payment = session.scalars(
            select(Payment).where(Payment.invoice_id == uuid.UUID(invoice.lago_id))
        ).one()
        # 1 then 2 minutes after each failed attempt.
        assert (payment.status, payment.attempts) == ("queued", 2)
        assert payment.next_attempt_at == now + timedelta(minutes=3)
    _run(database, stripe_account, customer, now + timedelta(minutes=2))
    assert len(_intent_requests(stripe_account)) == 2  # not due yet
    _run(database, stripe_account, customer, now + timedelta(minutes=3))
    assert lago.invoices.find(invoice.lago_id).payment_status == "succeeded"
    assert len(stripe_account.account.charges) == 1


def test_a_declined_card_fails_the_payment_and_retry_payment_charges_again(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account, card=CARD_DECLINED)
    stripe_id = customer.billing_configuration.provider_customer_id
    invoice = _one_off(lago)
    now = utc_now()
    _run(database, stripe_account, customer, now)
    assert lago.invoices.find(invoice.lago_id).payment_status == "failed"
    [payment] = _payments(http, invoice.lago_id)
    assert (payment["status"], payment["payment_status"]) == ("failed", "failed")
    [failure] = _webhooks(http, "invoice.payment_failure")
    assert failure["object_type"] == "payment_provider_invoice_payment_error"
    assert failure["payment_provider_invoice_payment_error"] == {
        "lago_invoice_id": invoice.lago_id,
        "lago_customer_id": customer.lago_id,
        "external_customer_id": "cus",
        "provider_customer_id": stripe_id,
        "payment_provider": "stripe",
        "payment_provider_code": "stripe_prod",
        "provider_error": {"message": "Your card was declined.", "error_code": "card_declined"},
    }
    # Stripe's webhook about the same refusal tells nothing new.
    [intent] = stripe_account.account.payment_intents.values()
    failed = {**intent, "status": "requires_payment_method"}
    assert stripe_account.send("payment_intent.payment_failed", failed).status_code == 200
    assert len(_webhooks(http, "invoice.payment_failure")) == 1
    # Not retried by itself.
    _run(database, stripe_account, customer, now + timedelta(hours=1))
    assert len(_intent_requests(stripe_account)) == 1
    # The customer gives another card (Stripe tells through customer.updated).
    stripe_account.fake.attach(stripe_account.secret_key, stripe_id, CARD_OK)
    updated = {"id": stripe_id, "object": "customer",
               "invoice_settings": {"default_payment_method": CARD_OK}}  # fmt: skip
    assert stripe_account.send("customer.updated", updated).status_code == 200
    assert lago.invoices.retry_payment(invoice.lago_id) is None
    again = http.post(f"/invoices/{invoice.lago_id}/retry_payment")
    assert again.status_code == 405
    assert again.json()["code"] == "payment_processor_is_currently_handling_payment"
    _run(database, stripe_account, customer, now + timedelta(hours=2))
    [(_first, key1), (second, key2)] = _intent_requests(stripe_account)
    assert (key1, key2) == (
        f"meterbill-invoice-{invoice.lago_id}-1",
        f"meterbill-invoice-{invoice.lago_id}-2",
    )
    assert second["payment_method"] == CARD_OK
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_paid_amount_cents) == ("succeeded", TOTAL)
    paid = http.post(f"/invoices/{invoice.lago_id}/retry_payment")
    assert (paid.status_code, paid.json()["code"]) == (405, "invalid_status")


def test_payment_url_gives_a_checkout_page_and_its_payment_settles_the_invoice(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account, card=CARD_DECLINED)
    invoice = _one_off(lago)
    _run(database, stripe_account, customer, utc_now())
    url = lago.invoices.payment_url(invoice.lago_id)
    [checkout] = stripe_account.account.sessions.values()
    assert url == checkout["url"]
    assert checkout["mode"] == "payment"
    assert checkout["line_items"][0]["price_data"]["unit_amount"] == str(TOTAL)
    metadata = checkout["payment_intent_data"]["metadata"]
    assert (metadata["lago_invoice_id"], metadata["payment_type"]) == (invoice.lago_id, "one-time")
    # Paid on that page: Stripe tells through its webhook.
    intent = {"id": "pi_checkout_1", "object": "payment_intent", "amount": TOTAL,
              "amount_received": TOTAL, "currency": "eur", "status": "succeeded",
              "metadata": metadata}  # fmt: skip
    assert stripe_account.send("payment_intent.succeeded", intent).status_code == 200
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_paid_amount_cents) == ("succeeded", TOTAL)
    statuses = sorted((p["provider_payment_id"] is None, p["status"]) for p in
                      _payments(http, invoice.lago_id))  # fmt: skip
    assert statuses == [(False, "failed"), (False, "succeeded")]
    refused = http.post(f"/invoices/{invoice.lago_id}/payment_url")
    assert refused.status_code == 422
    assert refused.json()["error_details"] == {"base": ["invalid_invoice_status_or_payment_status"]}


def test_payment_url_needs_a_payment_provider(http: httpx.Client, lago: Client) -> None:
    _catalog(http)
    ok(http.post("/customers", json={"customer": {"external_id": "cus"}}))
    invoice = _one_off(lago)
    refused = http.post(f"/invoices/{invoice.lago_id}/payment_url")
    assert refused.status_code == 422
    assert refused.json()["error_details"] == {"base": ["no_linked_payment_provider"]}
    assert http.post(f"/invoices/{uuid.uuid4()}/payment_url").status_code == 404


# --- 4. Stripe's webhooks ---------------------------------------------------------------


def test_webhooks_are_verified_with_the_signing_secret(
    http: httpx.Client, server: str, org: Org, stripe_account: Stripe
) -> None:
    event = stripe_account.fake.event("customer.updated", {"id": "cus_x", "object": "customer"})
    forged = stripe_account.fake.deliver(stripe_account.webhook_url, event, "whsec_wrong")
    assert forged.status_code == 400
    # Signed too long ago (Stripe's five minutes).
    old = stripe_account.fake.deliver(
        stripe_account.webhook_url, event, stripe_account.webhook_secret, timestamp=1_000_000
    )
    assert old.status_code == 400
    unsigned = httpx.post(stripe_account.webhook_url, content=b"{}")
    assert unsigned.status_code == 400
    elsewhere = f"{server}/webhooks/stripe/{uuid.uuid4()}?code=stripe_prod"
    assert stripe_account.fake.deliver(elsewhere, event, "whsec_x").status_code == 404
    assert stripe_account.send("customer.updated", {"id": "cus_x"}).status_code == 200


def test_payment_intent_events_settle_a_processing_payment_once(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account, card=CARD_PROCESSING)
    invoice = _one_off(lago)
    report = _run(database, stripe_account, customer, utc_now())
    assert report.payments.collection.processing == [invoice.number]
    [payment] = _payments(http, invoice.lago_id)
    assert (payment["status"], payment["payment_status"]) == ("processing", "processing")
    assert lago.invoices.find(invoice.lago_id).payment_status == "pending"
    [intent] = stripe_account.account.payment_intents.values()
    succeeded = stripe_account.fake.event(
        "payment_intent.succeeded", {**intent, "status": "succeeded", "amount_received": TOTAL}
    )
    send = stripe_account.fake.deliver
    assert send(stripe_account.webhook_url, succeeded, stripe_account.webhook_secret).is_success
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_paid_amount_cents) == ("succeeded", TOTAL)
    # Stripe sends it again: nothing changes (nor with another id for the same news).
    assert send(stripe_account.webhook_url, succeeded, stripe_account.webhook_secret).is_success
    assert stripe_account.send("payment_intent.succeeded", {**intent, "status": "succeeded"})
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_paid_amount_cents) == ("succeeded", TOTAL)
    assert len(_webhooks(http, "invoice.payment_status_updated")) == 1
    with database.transaction() as session:
        kept = session.scalar(select(func.count()).where(ProviderEvent.event_id == succeeded["id"]))
    assert kept == 1


def test_payment_failed_event_fails_the_invoice(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account, card=CARD_PROCESSING)
    invoice = _one_off(lago)
    _run(database, stripe_account, customer, utc_now())
    [intent] = stripe_account.account.payment_intents.values()
    error = {"code": "insufficient_funds", "message": "Insufficient funds."}
    failed = {**intent, "status": "requires_payment_method", "last_payment_error": error}
    assert stripe_account.send("payment_intent.payment_failed", failed).status_code == 200
    assert lago.invoices.find(invoice.lago_id).payment_status == "failed"
    [failure] = _webhooks(http, "invoice.payment_failure")
    assert failure["payment_provider_invoice_payment_error"]["provider_error"] == {
        "message": "Insufficient funds.",
        "error_code": "insufficient_funds",
    }


def test_setup_intent_succeeded_makes_the_card_the_default(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account, card=CARD_DECLINED)
    stripe_id = customer.billing_configuration.provider_customer_id
    stripe_account.fake.attach(stripe_account.secret_key, stripe_id, CARD_OK)
    setup = {"id": "seti_1", "object": "setup_intent", "customer": stripe_id,
             "payment_method": CARD_OK, "status": "succeeded"}  # fmt: skip
    assert stripe_account.send("setup_intent.succeeded", setup).status_code == 200
    invoice = _one_off(lago)
    _run(database, stripe_account, customer, utc_now())
    [(params, _key)] = _intent_requests(stripe_account)
    assert params["payment_method"] == CARD_OK
    assert lago.invoices.find(invoice.lago_id).payment_status == "succeeded"


def test_a_lost_dispute_marks_the_invoice(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    _run(database, stripe_account, customer, utc_now())
    [intent_id] = stripe_account.account.payment_intents
    won = {"id": "dp_1", "object": "dispute", "payment_intent": intent_id, "status": "won"}
    assert stripe_account.send("charge.dispute.closed", won).status_code == 200
    assert lago.invoices.find(invoice.lago_id).payment_dispute_lost_at is None
    lost = {**won, "status": "lost", "reason": "fraudulent"}
    event = stripe_account.fake.event("charge.dispute.closed", lost, created=1_790_000_000)
    assert stripe_account.fake.deliver(
        stripe_account.webhook_url, event, stripe_account.webhook_secret
    ).is_success
    found = lago.invoices.find(invoice.lago_id)
    assert found.payment_dispute_lost_at == "2026-09-21T14:13:20Z"
    [reported] = _webhooks(http, "invoice.payment_dispute_lost")
    assert reported["object_type"] == "payment_dispute_lost"
    assert reported["payment_dispute_lost"]["lago_id"] == invoice.lago_id
    assert reported["payment_dispute_lost"]["provider_error"] == "fraudulent"


# --- 5. refunds ---------------------------------------------------------------------------


def _refund_note(http: httpx.Client, invoice: Any, refund: int) -> dict[str, Any]:
    fee = invoice.fees.__root__[0]
    # The fee's share before its 20 % VAT.
    items = [{"fee_id": fee.lago_id, "amount_cents": refund * 10 // 12}]
    body = {"credit_note": {"invoice_id": invoice.lago_id, "refund_amount_cents": refund,
                            "reason": "duplicated_charge", "items": items}}  # fmt: skip
    return dict(ok(http.post("/credit_notes", json=body))["credit_note"])


def test_a_credit_note_refund_is_sent_to_stripe_and_followed(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    now = utc_now()
    _run(database, stripe_account, customer, now)
    [intent_id] = stripe_account.account.payment_intents
    stripe_account.account.refund_status = "pending"
    note = _refund_note(http, invoice, 6_000)
    assert note["refund_status"] == "pending"
    assert stripe_account.account.refunds == {}  # not in the request
    stripe_account.account.fail("/v1/refunds", "drop")
    _run(database, stripe_account, customer, now + timedelta(minutes=1))
    assert stripe_account.account.refunds == {}
    _run(database, stripe_account, customer, now + timedelta(minutes=2))
    [refund] = stripe_account.account.refunds.values()
    assert (refund["payment_intent"], refund["amount"], refund["reason"]) == (
        intent_id,
        6_000,
        "duplicate",
    )
    keys = {key for method, path, _p, key in stripe_account.account.requests
            if path == "/v1/refunds"}  # fmt: skip
    assert keys == {note["lago_id"]}
    assert ok(http.get(f"/credit_notes/{note['lago_id']}"))["credit_note"]["refund_status"] == (
        "pending"
    )
    updated = {**refund, "status": "succeeded"}
    assert stripe_account.send("charge.refund.updated", updated).status_code == 200
    shown = ok(http.get(f"/credit_notes/{note['lago_id']}"))["credit_note"]
    assert (shown["refund_status"], shown["refunded_at"] is not None) == ("succeeded", True)
    # Sent once: later ticks send nothing more.
    _run(database, stripe_account, customer, now + timedelta(hours=1))
    assert len(stripe_account.account.refunds) == 1


def test_a_failed_refund_is_reported(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    _run(database, stripe_account, customer, utc_now())
    stripe_account.account.refund_status = "failed"
    note = _refund_note(http, invoice, 1_200)
    _run(database, stripe_account, customer, utc_now() + timedelta(minutes=1))
    shown = ok(http.get(f"/credit_notes/{note['lago_id']}"))["credit_note"]
    assert shown["refund_status"] == "failed"
    [failure] = _webhooks(http, "credit_note.refund_failure")
    assert failure["object_type"] == "credit_note_payment_provider_refund_error"
    body = failure["credit_note_payment_provider_refund_error"]
    assert (body["lago_credit_note_id"], body["provider_error"]) == (
        note["lago_id"],
        {"message": "Payment refund failed", "error_code": None},
    )


# --- 7. deleting a customer ------------------------------------------------------------


def test_deleting_a_customer_leaves_stripe_alone_and_its_invoices_are_still_collected(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    ok(http.delete("/customers/cus"))
    _run(database, stripe_account, customer, utc_now())
    assert stripe_account.account.paths("DELETE") == []
    assert not any("cancel" in path for path in stripe_account.account.paths())
    # Lago cancels nothing: the finalized invoice is collected as any other.
    assert lago.invoices.find(invoice.lago_id).payment_status == "succeeded"


def test_an_invoice_paid_another_way_meanwhile_is_not_charged(
    lago: Client, http: httpx.Client, database: Database, stripe_account: Stripe
) -> None:
    customer = _collected_customer(lago, http, stripe_account)
    invoice = _one_off(lago)
    now = utc_now()
    stripe_account.account.fail("/v1/payment_intents", "drop")
    _run(database, stripe_account, customer, now)
    payment = {"invoice_id": invoice.lago_id, "amount_cents": TOTAL, "reference": "wire"}
    ok(http.post("/payments", json={"payment": payment}))
    _run(database, stripe_account, customer, now + timedelta(minutes=1))
    assert len(_intent_requests(stripe_account)) == 1  # the dropped one only
    assert stripe_account.account.charges == []
    statuses = sorted((p["type"], p["status"]) for p in _payments(http, invoice.lago_id))
    assert statuses == [("manual", "succeeded"), ("provider", "canceled")]
    found = lago.invoices.find(invoice.lago_id)
    assert (found.payment_status, found.total_paid_amount_cents) == ("succeeded", TOTAL)


def test_customers_of_an_organization_without_a_connection_are_left_alone(
    lago: Client, http: httpx.Client, database: Database
) -> None:
    customer = _customer(lago, sync_with_provider=True)
    stripe = Stripe(shared_fake_stripe(), "sk_test_none", "", "")
    report = _run(database, stripe, customer, utc_now())
    assert report.payments.customers == type(report.payments.customers)()
    with database.transaction() as session:
        assert session.get(ProviderCustomer, uuid.UUID(customer.lago_id)) is None


def test_a_signed_event_not_of_stripe_s_shape_is_refused_and_changes_nothing(
    stripe_account: Stripe, database: Database, org: Org
) -> None:
    fake = stripe_account.fake
    shapes = [
        {"id": "evt_a", "type": "payment_intent.succeeded", "data": {"object": []}},
        {"id": "evt_b", "type": "payment_intent.succeeded",
         "data": {"object": {"id": "pi_x", "metadata": "lago", "amount": "many"}}},
        {"id": "evt_c", "type": "customer.updated", "data": {"object": {"id": 5,
         "invoice_settings": "none"}}},
    ]  # fmt: skip
    answers = [
        fake.deliver(stripe_account.webhook_url, event, stripe_account.webhook_secret).status_code
        for event in shapes
    ]
    assert answers == [400, 400, 200]
    not_json = b"not json"
    headers = {"stripe-signature": fake.signature(not_json, stripe_account.webhook_secret)}
    assert (
        httpx.post(stripe_account.webhook_url, content=not_json, headers=headers).status_code == 400
    )
    with database.transaction() as session:
        kept = session.scalars(
            select(ProviderEvent.event_id).where(ProviderEvent.organization_id == org.id)
        ).all()
    assert kept == ["evt_c"]
