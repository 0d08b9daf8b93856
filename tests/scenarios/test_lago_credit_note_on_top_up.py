"""Lago's scenario spec credit_notes/credit_note_spec.rb, "when invoice is prepaid credit":
a wallet top-up's invoice can be refunded by a credit note once paid, within the credits its
wallet still holds, and not at all once the wallet is terminated. Through the API, as a
client sends it.

Lago's spec also records a manual payment of the 15 EUR after marking the invoice
`succeeded`; meterbill already counts the invoice paid when it is marked so (README), and
a payment beyond what is due is refused, so that step is left out.
"""

from __future__ import annotations

from typing import Any

import httpx

TOP_UP = "/wallet_transactions"


def note_body(invoice: dict[str, Any], amount: int, **split: int) -> dict[str, Any]:
    items = [{"fee_id": invoice["fees"][0]["lago_id"], "amount_cents": amount}]
    return {"credit_note": {"invoice_id": invoice["lago_id"], "reason": "other", "items": items,
                            **split}}  # fmt: skip


def estimate(http: httpx.Client, invoice: dict[str, Any], amount: int) -> httpx.Response:
    body = note_body(invoice, amount)["credit_note"]
    return http.post("/credit_notes/estimate", json={"credit_note": {
        "invoice_id": body["invoice_id"], "items": body["items"]}})  # fmt: skip


def refund(http: httpx.Client, invoice: dict[str, Any], amount: int) -> httpx.Response:
    return http.post("/credit_notes", json=note_body(invoice, amount, credit_amount_cents=0,
                                                     refund_amount_cents=amount))  # fmt: skip


def wallet_balance(http: httpx.Client, wallet: str) -> int:
    return http.get(f"/wallets/{wallet}").json()["wallet"]["balance_cents"]


def test_refunding_a_paid_top_up(http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "cus", "timezone": "UTC"}})
    wallet = http.post("/wallets", json={"wallet": {
        "external_customer_id": "cus", "rate_amount": "1", "name": "Wallet1", "currency": "EUR",
        "invoice_requires_successful_payment": False}}).json()["wallet"]["lago_id"]  # fmt: skip
    made = http.post(TOP_UP, json={"wallet_transaction": {"wallet_id": wallet,
                                                          "paid_credits": "15"}})  # fmt: skip
    [bought] = made.json()["wallet_transactions"]
    assert (bought["status"], bought["transaction_status"]) == ("pending", "purchased")
    invoice = http.get(f"/invoices/{bought['lago_invoice_id']}").json()["invoice"]
    assert (invoice["status"], invoice["payment_status"]) == ("finalized", "pending")

    # Not paid yet: nothing to refund.
    for response in (estimate(http, invoice, 15), refund(http, invoice, 15)):
        assert response.status_code == 405
        assert response.json()["code"] == "invalid_type_or_status"

    paid = http.put(f"/invoices/{invoice['lago_id']}",
                    json={"invoice": {"payment_status": "succeeded"}})  # fmt: skip
    assert paid.status_code == 200
    assert wallet_balance(http, wallet) == 1_500

    estimated = estimate(http, invoice, 10).json()["estimated_credit_note"]
    assert (estimated["sub_total_excluding_taxes_amount_cents"],
            estimated["max_refundable_amount_cents"],
            estimated["max_creditable_amount_cents"]) == (10, 10, 0)  # fmt: skip
    # A top-up is refunded, never credited.
    credited = http.post("/credit_notes", json=note_body(invoice, 10, credit_amount_cents=10))
    assert credited.status_code == 422
    assert credited.json()["error_details"] == {"credit_amount_cents": ["cannot_credit_invoice"]}

    made = refund(http, invoice, 500)
    assert made.status_code == 200, made.text
    note = made.json()["credit_note"]
    assert (note["refund_amount_cents"], note["total_amount_cents"]) == (500, 500)
    # The refunded credits leave the wallet, on a transaction naming the note.
    transactions = http.get(f"/wallets/{wallet}/wallet_transactions").json()
    voided = [t for t in transactions["wallet_transactions"] if t["transaction_status"] == "voided"]
    assert [(t["status"], t["amount"], t["lago_credit_note_id"]) for t in voided] == [
        ("settled", "5.0", note["lago_id"])]  # fmt: skip
    assert wallet_balance(http, wallet) == 1_000

    # 9.95 of the 10 credits left are voided: 5 cents remain, less than asked.
    http.post(TOP_UP, json={"wallet_transaction": {"wallet_id": wallet, "voided_credits": "9.95"}})
    assert wallet_balance(http, wallet) == 5
    for response in (estimate(http, invoice, 10), refund(http, invoice, 10)):
        assert response.status_code == 422
        assert response.json()["error_details"] == {"amount_cents": ["higher_than_wallet_balance"]}
    assert wallet_balance(http, wallet) == 5

    # A terminated wallet takes no credits back: no refund any more.
    assert http.delete(f"/wallets/{wallet}").status_code == 200
    for response in (estimate(http, invoice, 1), refund(http, invoice, 1)):
        assert response.status_code == 405
        assert response.json()["code"] == "invalid_type_or_status"
