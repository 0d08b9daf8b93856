"""Wallet transactions through the official client: granted credits settle at once, paid
credits through a credit invoice that must be paid, voids, filters and refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.invoice import InvoicePaymentStatusChange
from lago_python_client.models.wallet_transaction import WalletTransaction

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


@pytest.fixture
def wallet(http: httpx.Client) -> dict[str, Any]:
    http.post("/customers", json={"customer": {"external_id": "cus"}})
    body = {"external_customer_id": "cus", "rate_amount": "0.5", "currency": "EUR"}
    return http.post("/wallets", json={"wallet": body}).json()["wallet"]


def balance(http: httpx.Client, wallet: dict[str, Any]) -> tuple[int, str]:
    body = http.get(f"/wallets/{wallet['lago_id']}").json()["wallet"]
    return body["balance_cents"], body["credits_balance"]


def refusal(response: httpx.Response, details: dict[str, list[str]]) -> None:
    assert response.status_code == 422
    assert response.json() == {**UNPROCESSABLE, "error_details": details}


def test_paid_and_granted_credits(lago: Client, http: httpx.Client, wallet: dict) -> None:
    made = lago.wallet_transactions.create(
        WalletTransaction(wallet_id=wallet["lago_id"], paid_credits="20", granted_credits="10",
                          name="Top-up", metadata=[{"key": "po", "value": "42"}])
    )["wallet_transactions"]  # fmt: skip
    paid, granted = made
    assert (paid.transaction_status, paid.transaction_type, paid.status, paid.amount,
            paid.credit_amount, paid.source) == (
        "purchased", "inbound", "pending", "10.0", "20.0", "manual")  # fmt: skip
    assert (granted.transaction_status, granted.status, granted.amount, granted.settled_at
            is not None) == ("granted", "settled", "5.0", True)  # fmt: skip
    assert (paid.name, paid.metadata) == ("Top-up", [{"key": "po", "value": "42"}])
    # Only the granted credits are in the balance until the credit invoice is paid.
    assert balance(http, wallet) == (500, "10.0")

    invoice = lago.invoices.find(paid.lago_invoice_id)
    assert (invoice.invoice_type, invoice.status, invoice.payment_status) == (
        "credit",
        "finalized",
        "pending",
    )
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents, invoice.total_amount_cents,
            invoice.coupons_amount_cents) == (1000, 0, 1000, 0)  # fmt: skip
    assert invoice.number.endswith("-001-001")
    [fee] = invoice.fees.__root__
    assert (fee.item.type, fee.units, fee.amount_cents) == ("credit", "20.0", 1000)

    lago.invoices.update(InvoicePaymentStatusChange(payment_status="succeeded"), invoice.lago_id)
    assert balance(http, wallet) == (1500, "30.0")
    settled = lago.wallet_transactions.find_all(wallet["lago_id"], {"transaction_status":
                                                                    "purchased"})  # fmt: skip
    [row] = settled["wallet_transactions"]
    assert (row.status, row.lago_invoice_id) == ("settled", paid.lago_invoice_id)
    # Paying again changes nothing.
    lago.invoices.update(InvoicePaymentStatusChange(payment_status="succeeded"), invoice.lago_id)
    assert balance(http, wallet) == (1500, "30.0")


def test_failed_payment_fails_the_purchase(lago: Client, http: httpx.Client, wallet: dict) -> None:
    [paid] = lago.wallet_transactions.create(
        WalletTransaction(wallet_id=wallet["lago_id"], paid_credits="4")
    )["wallet_transactions"]
    lago.invoices.update(InvoicePaymentStatusChange(payment_status="failed"), paid.lago_invoice_id)
    found = http.get(f"/wallet_transactions/{paid.lago_id}").json()["wallet_transaction"]
    assert (found["status"], found["failed_at"] is not None) == ("failed", True)
    assert balance(http, wallet) == (0, "0.0")


def test_invoice_requiring_payment_stays_open(lago: Client, http: httpx.Client,
                                              wallet: dict) -> None:  # fmt: skip
    [paid] = lago.wallet_transactions.create(
        WalletTransaction(wallet_id=wallet["lago_id"], paid_credits="6",
                          invoice_requires_successful_payment=True)
    )["wallet_transactions"]  # fmt: skip
    assert paid.invoice_requires_successful_payment is True
    listed = http.get("/invoices", params={"external_customer_id": "cus"}).json()["invoices"]
    assert listed == []
    assert http.get(f"/invoices/{paid.lago_invoice_id}").status_code == 404
    succeeded = {"invoice": {"payment_status": "succeeded"}}
    paid_now = http.put(f"/invoices/{paid.lago_invoice_id}", json=succeeded).json()["invoice"]
    assert (paid_now["status"], paid_now["payment_status"], paid_now["invoice_type"]) == (
        "finalized",
        "succeeded",
        "credit",
    )
    assert paid_now["number"].endswith("-001-001")
    assert balance(http, wallet) == (300, "6.0")


def test_void_credits_and_filters(lago: Client, http: httpx.Client, wallet: dict) -> None:
    lago.wallet_transactions.create(
        WalletTransaction(wallet_id=wallet["lago_id"], granted_credits="10")
    )
    [voided] = lago.wallet_transactions.create(
        WalletTransaction(wallet_id=wallet["lago_id"], voided_credits="3")
    )["wallet_transactions"]
    assert (voided.transaction_type, voided.transaction_status, voided.status, voided.amount) == (
        "outbound",
        "voided",
        "settled",
        "1.5",
    )
    assert balance(http, wallet) == (350, "7.0")
    every = lago.wallet_transactions.find_all(wallet["lago_id"])["wallet_transactions"]
    assert [t.transaction_status for t in every] == ["voided", "granted"]
    outbound = lago.wallet_transactions.find_all(wallet["lago_id"], {"transaction_type":
                                                                     "outbound"})  # fmt: skip
    assert [t.lago_id for t in outbound["wallet_transactions"]] == [voided.lago_id]
    pending = lago.wallet_transactions.find_all(wallet["lago_id"], {"status": "pending"})
    assert pending["wallet_transactions"] == []
    bad = http.get(f"/wallets/{wallet['lago_id']}/wallet_transactions", params={"status": "x"})
    refusal(bad, {"status": ["value_is_invalid"]})
    refusal(
        http.post(
            "/wallet_transactions",
            json={"wallet_transaction": {"wallet_id": wallet["lago_id"], "voided_credits": "7.5"}},
        ),
        {"voided_credits": ["insufficient_credits"]},
    )


def test_refusals(http: httpx.Client, wallet: dict) -> None:
    def post(**fields: Any) -> httpx.Response:
        body = {"wallet_id": wallet["lago_id"], **fields}
        return http.post("/wallet_transactions", json={"wallet_transaction": body})

    refusal(post(granted_credits="0.001"), {"granted_credits": ["amount_rounds_to_zero"]})
    refusal(post(paid_credits="ten"), {"paid_credits": ["invalid_paid_credits", "invalid_amount"]})
    refusal(post(wallet_id="6f1c0d38-0000-4000-8000-000000000000", granted_credits="1"),
            {"wallet_id": ["wallet_not_found"]})  # fmt: skip
    assert http.delete(f"/wallets/{wallet['lago_id']}").status_code == 200
    refusal(post(granted_credits="1"), {"wallet_id": ["wallet_is_terminated"]})
    assert http.get("/wallet_transactions/nope").json()["code"] == "wallet_transaction_not_found"
    assert balance(http, wallet) == (0, "0.0")
    transactions = http.get(f"/wallets/{wallet['lago_id']}/wallet_transactions").json()
    assert transactions["wallet_transactions"] == []


def test_paid_top_up_limits(http: httpx.Client, wallet: dict) -> None:
    limits = {"paid_top_up_min_amount_cents": 500, "paid_top_up_max_amount_cents": 2000}
    assert http.put(f"/wallets/{wallet['lago_id']}", json={"wallet": limits}).status_code == 200

    def post(**fields: Any) -> httpx.Response:
        body = {"wallet_id": wallet["lago_id"], **fields}
        return http.post("/wallet_transactions", json={"wallet_transaction": body})

    # At 0.5 EUR a credit: 2 credits are 1.00 EUR, 50 credits 25.00 EUR.
    refusal(post(paid_credits="2"), {"paid_credits": ["amount_below_minimum"]})
    refusal(post(paid_credits="50"), {"paid_credits": ["amount_above_maximum"]})
    assert post(paid_credits="2", granted_credits="100").status_code == 422
    ignored = post(paid_credits="50", ignore_paid_top_up_limits=True).json()
    assert [t["amount"] for t in ignored["wallet_transactions"]] == ["25.0"]
    assert post(granted_credits="100").status_code == 200
    refusal(
        http.post("/wallets", json={"wallet": {"external_customer_id": "cus", "rate_amount": "1",
                                               "code": "two", "paid_credits": "1",
                                               "paid_top_up_min_amount_cents": 500}}),
        {"paid_credits": ["amount_below_minimum"]},
    )  # fmt: skip
    created = http.post(
        "/wallets",
        json={
            "wallet": {
                "external_customer_id": "cus",
                "rate_amount": "1",
                "code": "two",
                "paid_credits": "1",
                "paid_top_up_min_amount_cents": 500,
                "ignore_paid_top_up_limits_on_creation": True,
            }
        },
    )
    assert created.status_code == 200
    refusal(
        http.put(f"/wallets/{wallet['lago_id']}",
                 json={"wallet": {"paid_top_up_min_amount_cents": 0}}),
        {"paid_top_up_min_amount_cents": ["value_is_out_of_range"]},
    )  # fmt: skip


def test_voided_credit_invoice_fails_the_purchase(http: httpx.Client, wallet: dict) -> None:
    body = {"wallet_id": wallet["lago_id"], "paid_credits": "8"}
    [paid] = http.post("/wallet_transactions", json={"wallet_transaction": body}).json()[
        "wallet_transactions"
    ]
    assert http.post(f"/invoices/{paid['lago_invoice_id']}/void").status_code == 200
    found = http.get(f"/wallet_transactions/{paid['lago_id']}").json()["wallet_transaction"]
    assert found["status"] == "failed"
    assert balance(http, wallet) == (0, "0.0")
