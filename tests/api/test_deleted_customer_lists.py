"""Lists filtered by external_customer_id show only the live customer's objects
(issue 14, point 6): a customer re-created with a deleted customer's external id starts
with empty lists, and the deleted customer's documents stay reachable by id and in the
unfiltered lists."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models.applied_coupon import AppliedCoupon
from lago_python_client.models.credit_note import CreditNote, Item, Items
from lago_python_client.models.invoice import InvoiceFee, InvoiceFeesList, OneOffInvoice
from lago_python_client.models.payment import Payment
from lago_python_client.models.subscription import Subscription
from lago_python_client.models.wallet import Wallet

CUSTOMER_NOT_FOUND = {"status": 404, "error": "Not Found", "code": "customer_not_found"}
EVERY_SUBSCRIPTION = {"status[]": ["active", "pending", "terminated", "canceled"]}
# The lists the official client filters by external_customer_id, each with its root key.
FILTERED = ("invoices", "credit_notes", "subscriptions", "applied_coupons", "payments", "fees")
NESTED = ("invoices", "credit_notes", "subscriptions", "applied_coupons", "wallets", "payments")


def catalog(http: httpx.Client) -> None:
    add_on = {"name": "Setup", "code": "setup", "amount_cents": 10_000, "amount_currency": "EUR"}
    assert http.post("/add_ons", json={"add_on": add_on}).status_code == 200
    plan = {"name": "Basic", "code": "basic", "interval": "monthly", "amount_cents": 1_000,
            "amount_currency": "EUR"}  # fmt: skip
    assert http.post("/plans", json={"plan": plan}).status_code == 200
    coupon = {"name": "Off", "code": "off", "coupon_type": "percentage", "percentage_rate": "10",
              "frequency": "forever", "expiration": "no_expiration"}  # fmt: skip
    assert http.post("/coupons", json={"coupon": coupon}).status_code == 200


def one_off(lago: Client, units: int) -> Any:
    fees = InvoiceFeesList(__root__=[InvoiceFee(add_on_code="setup", units=units)])
    return lago.invoices.create(
        OneOffInvoice(external_customer_id="cus", currency="EUR", fees=fees)
    )


def ids(lago: Client, resource: str, options: dict[str, Any]) -> list[str]:
    found = getattr(lago, resource).find_all(options)[resource]
    return [item.lago_id for item in found]


def filtered(lago: Client, resource: str) -> list[str]:
    extra = EVERY_SUBSCRIPTION if resource == "subscriptions" else {}
    return ids(lago, resource, {"external_customer_id": "cus", **extra})


def every_filtered_list(lago: Client) -> dict[str, list[str]]:
    return {resource: filtered(lago, resource) for resource in FILTERED}


def test_a_recreated_customer_starts_with_empty_lists(lago: Client, http: httpx.Client) -> None:
    catalog(http)
    assert http.post("/customers", json={"customer": {"external_id": "cus"}}).status_code == 200
    subscription = lago.subscriptions.create(
        Subscription(external_customer_id="cus", plan_code="basic", external_id="sub")
    )
    applied = lago.applied_coupons.create(
        AppliedCoupon(external_customer_id="cus", coupon_code="off")
    )
    wallet = lago.wallets.create(
        Wallet(external_customer_id="cus", rate_amount="1", currency="EUR", granted_credits="10")
    )
    invoice = one_off(lago, 1)
    fee = invoice.fees.__root__[0].lago_id
    note = lago.credit_notes.create(
        CreditNote(invoice_id=invoice.lago_id, reason="other", credit_amount_cents=1_000,
                   items=Items(__root__=[Item(fee_id=fee, amount_cents=1_000)]))
    )  # fmt: skip
    payment = lago.payments.create(
        Payment(invoice_id=invoice.lago_id, amount_cents=2_000, reference="wire")
    )
    old = {
        "invoices": invoice.lago_id, "credit_notes": note.lago_id,
        "subscriptions": subscription.lago_id, "applied_coupons": applied.lago_id,
        "payments": payment.lago_id, "fees": fee,
    }  # fmt: skip
    # Each list holds the live customer's object before the deletion.
    for resource, lago_id in old.items():
        assert lago_id in filtered(lago, resource), resource
    assert ids(lago, "wallets", {"external_customer_id": "cus"}) == [wallet.lago_id]

    lago.customers.destroy("cus")

    # No live customer holds the id: the lists are empty, the wallet list (which needs
    # a customer, as Lago's) and every nested list answer 404.
    assert every_filtered_list(lago) == {resource: [] for resource in FILTERED}
    with pytest.raises(LagoApiError) as refused:
        lago.wallets.find_all({"external_customer_id": "cus"})
    assert refused.value.status_code == 404
    for resource in NESTED:
        response = http.get(f"/customers/cus/{resource}")
        assert (response.status_code, response.json()) == (404, CUSTOMER_NOT_FOUND), resource

    # The deleted customer's documents are still found by id and in unfiltered lists.
    assert lago.invoices.find(invoice.lago_id).lago_id == invoice.lago_id
    assert lago.credit_notes.find(note.lago_id).lago_id == note.lago_id
    assert lago.payments.find(payment.lago_id).lago_id == payment.lago_id
    assert lago.fees.find(fee).lago_id == fee
    assert lago.wallets.find(wallet.lago_id).status == "terminated"
    ended = lago.subscriptions.find("sub", {"status": "terminated"})
    assert (ended.lago_id, ended.status) == (subscription.lago_id, "terminated")
    assert invoice.lago_id in ids(lago, "invoices", {})
    assert ids(lago, "credit_notes", {}) == [note.lago_id]
    assert ids(lago, "payments", {}) == [payment.lago_id]
    assert fee in ids(lago, "fees", {})
    assert ids(lago, "subscriptions", EVERY_SUBSCRIPTION) == [subscription.lago_id]
    everything = ids(lago, "invoices", {})  # the one-off and the termination invoice

    # The external id belongs to a new customer whose lists start empty.
    assert http.post("/customers", json={"customer": {"external_id": "cus"}}).status_code == 200
    assert every_filtered_list(lago) == {resource: [] for resource in FILTERED}
    assert ids(lago, "wallets", {"external_customer_id": "cus"}) == []
    for resource in NESTED:
        response = http.get(f"/customers/cus/{resource}", params=EVERY_SUBSCRIPTION)
        assert (response.status_code, response.json()[resource]) == (200, []), resource

    # Its own invoice, and only that one, is listed under the id.
    mine = one_off(lago, 2)
    assert mine.total_amount_cents == 20_000
    assert filtered(lago, "invoices") == [mine.lago_id]
    assert filtered(lago, "fees") == [mine.fees.__root__[0].lago_id]
    nested = http.get("/customers/cus/invoices").json()["invoices"]
    assert [item["lago_id"] for item in nested] == [mine.lago_id]
    assert sorted(ids(lago, "invoices", {})) == sorted([*everything, mine.lago_id])
