"""The wallets' webhooks around their balances, in Lago's order, each carrying the object
as the API's GET returns it: wallet.updated for every move of a balance (top-ups granted
or paid, voids, consumption by an invoice, credits given back by a voided invoice,
refunds of a top-up), wallet_transaction.updated when a paid top-up settles or fails,
and wallet.depleted_ongoing_balance when an ongoing balance runs out (once, until it is
positive again)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from meterbill.clock import TickReport, tick
from meterbill.core.db import Database
from meterbill.core.times import utc_now
from meterbill.invoices.scope import Scope
from meterbill.wallets.models import Wallet
from tests.conftest import Org
from tests.webhook_receiver import Receiver
from tests.webhook_receiver import delivery_log as _log
from tests.webhook_receiver import ok as _ok

DEPLETED = "wallet.depleted_ongoing_balance"


def _since(http: httpx.Client, seen: int) -> list[dict[str, Any]]:
    return _log(http)[seen:]


def _bodies(webhooks: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(w["webhook_type"], w["payload"][w["object_type"]]) for w in webhooks]


def _endpoint(http: httpx.Client, receiver: Receiver, *types: str) -> None:
    body: dict[str, Any] = {"webhook_url": receiver.url}
    if types:
        body["event_types"] = list(types)
    _ok(http.post("/webhook_endpoints", json={"webhook_endpoint": body}))


def _customer(http: httpx.Client) -> None:
    customer = {"external_id": "cus", "name": "Cus", "currency": "EUR", "timezone": "UTC"}
    _ok(http.post("/customers", json={"customer": customer}))


def _wallet(http: httpx.Client, **credits: str) -> str:
    body = {"external_customer_id": "cus", "rate_amount": "1", "currency": "EUR",
            "invoice_requires_successful_payment": False, **credits}  # fmt: skip
    return str(_ok(http.post("/wallets", json={"wallet": body}))["wallet"]["lago_id"])


def _top_up(http: httpx.Client, wallet: str, **credits: str) -> list[dict[str, Any]]:
    body = {"wallet_transaction": {"wallet_id": wallet, **credits}}
    return list(_ok(http.post("/wallet_transactions", json=body))["wallet_transactions"])


def _get_wallet(http: httpx.Client, wallet: str) -> dict[str, Any]:
    return dict(_ok(http.get(f"/wallets/{wallet}"))["wallet"])


def _get_transaction(http: httpx.Client, transaction: str) -> dict[str, Any]:
    return dict(_ok(http.get(f"/wallet_transactions/{transaction}"))["wallet_transaction"])


def _get_invoice(http: httpx.Client, invoice: str) -> dict[str, Any]:
    return dict(_ok(http.get(f"/invoices/{invoice}"))["invoice"])


def _pay(http: httpx.Client, invoice: str, status: str) -> None:
    _ok(http.put(f"/invoices/{invoice}", json={"invoice": {"payment_status": status}}))


def test_top_ups_voids_and_payments(http: httpx.Client, receiver: Receiver) -> None:
    _endpoint(http, receiver)
    _customer(http)
    wallet = _wallet(http, granted_credits="10")
    seen = len(_log(http))

    # One request, three kinds: each balance move sends wallet.updated as it is made, the
    # transactions are announced together, the paid one's invoice comes last (Lago bills
    # it in a job after the commit).
    paid, granted, voided = _top_up(
        http, wallet, paid_credits="5", granted_credits="2", voided_credits="4"
    )
    assert [t["transaction_status"] for t in (paid, granted, voided)] == [
        "purchased", "granted", "voided"]  # fmt: skip
    now_wallet = _get_wallet(http, wallet)
    assert (now_wallet["balance_cents"], now_wallet["ongoing_balance_cents"]) == (800, 800)
    invoice = paid["lago_invoice_id"]
    assert _bodies(_since(http, seen)) == [
        ("wallet.updated", now_wallet),
        ("wallet.updated", now_wallet),
        ("wallet_transaction.created", _get_transaction(http, paid["lago_id"])),
        ("wallet_transaction.created", _get_transaction(http, granted["lago_id"])),
        ("wallet_transaction.created", _get_transaction(http, voided["lago_id"])),
        ("invoice.paid_credit_added", _get_invoice(http, invoice)),
    ]
    seen = len(_log(http))

    # Paid: the transaction settles (wallet_transaction.updated), then the balance grows.
    _pay(http, invoice, "succeeded")
    settled = _get_transaction(http, paid["lago_id"])
    assert (settled["status"], settled["settled_at"] is not None) == ("settled", True)
    now_wallet = _get_wallet(http, wallet)
    assert now_wallet["balance_cents"] == 1_300
    assert _bodies(_since(http, seen)) == [
        ("invoice.payment_status_updated", _get_invoice(http, invoice)),
        ("wallet_transaction.updated", settled),
        ("wallet.updated", now_wallet),
    ]
    seen = len(_log(http))

    # A failed payment fails the pending credits; the balance does not move.
    [second] = _top_up(http, wallet, paid_credits="3")
    seen = len(_log(http))
    _pay(http, second["lago_invoice_id"], "failed")
    failed = _get_transaction(http, second["lago_id"])
    assert (failed["status"], failed["failed_at"] is not None) == ("failed", True)
    assert _bodies(_since(http, seen)) == [
        ("invoice.payment_status_updated", _get_invoice(http, second["lago_invoice_id"])),
        ("wallet_transaction.updated", failed),
    ]
    assert _get_wallet(http, wallet)["balance_cents"] == 1_300


def test_a_voided_top_up_invoice_fails_its_pending_credits(
    http: httpx.Client, receiver: Receiver
) -> None:
    _endpoint(http, receiver)
    _customer(http)
    wallet = _wallet(http)
    [bought] = _top_up(http, wallet, paid_credits="5")
    seen = len(_log(http))
    invoice = bought["lago_invoice_id"]
    _ok(http.post(f"/invoices/{invoice}/void"))
    failed = _get_transaction(http, bought["lago_id"])
    assert failed["status"] == "failed"
    assert _bodies(_since(http, seen)) == [
        ("wallet_transaction.updated", failed),
        ("invoice.voided", _get_invoice(http, invoice)),
    ]
    assert _get_wallet(http, wallet)["balance_cents"] == 0


def test_a_grant_and_an_edit_each_update(http: httpx.Client, receiver: Receiver) -> None:
    _endpoint(http, receiver, "wallet.updated")
    _customer(http)
    wallet = _wallet(http, granted_credits="2")
    [moved] = _log(http)
    _ok(http.put(f"/wallets/{wallet}", json={"wallet": {"name": "Renamed"}}))
    moved, edited = _log(http)
    assert moved["payload"]["wallet"]["name"] is None
    assert edited["payload"]["wallet"] == _get_wallet(http, wallet)


def test_an_invoice_spends_credits_and_its_void_gives_them_back(
    http: httpx.Client, receiver: Receiver
) -> None:
    _endpoint(http, receiver)
    _customer(http)
    wallet = _wallet(http, granted_credits="30")
    plan = {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 1_000,
            "amount_currency": "EUR", "pay_in_advance": True}  # fmt: skip
    _ok(http.post("/plans", json={"plan": plan}))
    seen = len(_log(http))
    subscription = {"external_customer_id": "cus", "plan_code": "p", "external_id": "sub"}
    _ok(http.post("/subscriptions", json={"subscription": subscription}))

    [invoice] = _ok(http.get("/invoices", params={"external_customer_id": "cus"}))["invoices"]
    full = _get_invoice(http, invoice["lago_id"])
    assert full["prepaid_credit_amount_cents"] > 0
    listed = _ok(http.get(f"/wallets/{wallet}/wallet_transactions"))["wallet_transactions"]
    consumed = next(t for t in listed if t["transaction_status"] == "invoiced")
    now_wallet = _get_wallet(http, wallet)
    assert now_wallet["balance_cents"] == 3_000 - full["prepaid_credit_amount_cents"]
    # Lago's Credits::AppliedPrepaidCreditsService: the balance decreases (wallet.updated),
    # then the transaction is announced, then the invoice is finalized.
    webhooks = _bodies(_since(http, seen))
    types = [webhook_type for webhook_type, _ in webhooks]
    assert types == ["subscription.started", "wallet.updated", "wallet_transaction.created",
                     "invoice.created"]  # fmt: skip
    assert webhooks[1:] == [
        ("wallet.updated", now_wallet),
        ("wallet_transaction.created", _get_transaction(http, consumed["lago_id"])),
        ("invoice.created", full),
    ]
    seen = len(_log(http))

    # Voided, the invoice gives the credits back: announced inside the void, the balance's
    # wallet.updated at its end, then invoice.voided (Lago's order).
    _ok(http.post(f"/invoices/{invoice['lago_id']}/void"))
    listed = _ok(http.get(f"/wallets/{wallet}/wallet_transactions"))["wallet_transactions"]
    given_back = listed[0]  # the latest
    assert (given_back["transaction_status"], given_back["amount"]) == (
        "granted", consumed["amount"])  # fmt: skip
    now_wallet = _get_wallet(http, wallet)
    assert now_wallet["balance_cents"] == 3_000
    assert _bodies(_since(http, seen)) == [
        ("wallet_transaction.created", _get_transaction(http, given_back["lago_id"])),
        ("wallet.updated", now_wallet),
        ("invoice.voided", _get_invoice(http, invoice["lago_id"])),
    ]


def test_a_refunded_top_up_leaves_the_wallet(http: httpx.Client, receiver: Receiver) -> None:
    _endpoint(http, receiver)
    _customer(http)
    wallet = _wallet(http)
    [bought] = _top_up(http, wallet, paid_credits="15")
    invoice = _get_invoice(http, bought["lago_invoice_id"])
    _pay(http, invoice["lago_id"], "succeeded")
    seen = len(_log(http))
    items = [{"fee_id": invoice["fees"][0]["lago_id"], "amount_cents": 500}]
    note = {"invoice_id": invoice["lago_id"], "reason": "other", "items": items,
            "credit_amount_cents": 0, "refund_amount_cents": 500}  # fmt: skip
    made = _ok(http.post("/credit_notes", json={"credit_note": note}))["credit_note"]
    now_wallet = _get_wallet(http, wallet)
    assert now_wallet["balance_cents"] == 1_000
    # Lago voids the credits through WalletTransactions::VoidService: wallet.updated, and
    # no wallet_transaction.created; the note's webhook goes out after.
    assert _bodies(_since(http, seen)) == [
        ("wallet.updated", now_wallet),
        ("credit_note.created", _ok(http.get(f"/credit_notes/{made['lago_id']}"))["credit_note"]),
    ]


def _depleted(http: httpx.Client) -> list[dict[str, Any]]:
    return _log(http, webhook_type=DEPLETED)


def _flag(database: Database, wallet: str) -> bool:
    with database.transaction() as session:
        return bool(
            session.scalar(
                select(Wallet.depleted_ongoing_balance).where(Wallet.id == uuid.UUID(wallet))
            )
        )


def test_depleted_when_a_void_empties_the_wallet_and_again_after_a_top_up(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    _endpoint(http, receiver, DEPLETED)
    _customer(http)
    wallet = _wallet(http, granted_credits="10")
    assert _depleted(http) == []
    _top_up(http, wallet, voided_credits="10")
    [first] = _depleted(http)
    now_wallet = _get_wallet(http, wallet)
    assert first["payload"] == {"webhook_type": DEPLETED, "object_type": "wallet",
                                "organization_id": first["payload"]["organization_id"],
                                "wallet": now_wallet}  # fmt: skip
    assert (now_wallet["ongoing_balance_cents"], _flag(database, wallet)) == (0, True)
    # Still empty: told once.
    _tick(database, http, org)
    assert len(_depleted(http)) == 1
    # Positive again re-arms it (nothing sent), empty again tells again.
    _top_up(http, wallet, granted_credits="4")
    assert (len(_depleted(http)), _flag(database, wallet)) == (1, False)
    _top_up(http, wallet, voided_credits="4")
    assert len(_depleted(http)) == 2
    assert _depleted(http)[1]["payload"]["wallet"] == _get_wallet(http, wallet)


def _usage_setup(http: httpx.Client) -> None:
    metric = {"name": "Calls", "code": "calls", "aggregation_type": "sum_agg",
              "field_name": "units"}  # fmt: skip
    metric_id = _ok(http.post("/billable_metrics", json={"billable_metric": metric}))[
        "billable_metric"
    ]["lago_id"]
    charge = {"billable_metric_id": metric_id, "charge_model": "standard",
              "properties": {"amount": "2"}}  # fmt: skip
    plan = {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 0,
            "amount_currency": "EUR", "pay_in_advance": False, "charges": [charge]}  # fmt: skip
    _ok(http.post("/plans", json={"plan": plan}))
    subscription = {"external_customer_id": "cus", "plan_code": "p", "external_id": "sub"}
    _ok(http.post("/subscriptions", json={"subscription": subscription}))


def _use(http: httpx.Client, transaction_id: str, units: int) -> None:
    event = {"transaction_id": transaction_id, "external_subscription_id": "sub",
             "code": "calls", "properties": {"units": units}}  # fmt: skip
    _ok(http.post("/events", json={"event": event}))


def _tick(database: Database, http: httpx.Client, org: Org) -> TickReport:
    """The clock for this test's customer only: other tests' wallets share the database."""
    customer = uuid.UUID(_ok(http.get("/customers/cus"))["customer"]["lago_id"])
    return tick(database, utc_now() + timedelta(seconds=1), Scope(customer, org.id))


def test_the_clock_tells_when_usage_eats_the_ongoing_balance(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    _endpoint(http, receiver, DEPLETED)
    _customer(http)
    _usage_setup(http)
    wallet = _wallet(http, granted_credits="10")
    _use(http, "a", 4)  # 8 EUR of 10
    assert _tick(database, http, org).depleted_wallets == 0
    assert _depleted(http) == []

    _use(http, "b", 1)  # 10 EUR of 10: nothing left
    assert _tick(database, http, org).depleted_wallets == 1
    [first] = _depleted(http)
    now_wallet = _get_wallet(http, wallet)
    assert first["payload"]["wallet"] == now_wallet
    assert (now_wallet["balance_cents"], now_wallet["ongoing_balance_cents"]) == (1_000, 0)
    assert _tick(database, http, org).depleted_wallets == 0

    # A grant re-arms it at once (the ongoing balance is positive again)...
    _top_up(http, wallet, granted_credits="5")
    assert _flag(database, wallet) is False
    # ...and the next usage that eats it is told at the next tick.
    _use(http, "c", 3)
    assert _tick(database, http, org).depleted_wallets == 1
    assert len(_depleted(http)) == 2
    assert _depleted(http)[1]["payload"]["wallet"] == _get_wallet(http, wallet)


def test_no_check_without_an_endpoint_that_wants_it(
    database: Database, org: Org, http: httpx.Client, receiver: Receiver
) -> None:
    # An endpoint for other types: the clock skips the organization, nothing is flagged.
    _endpoint(http, receiver, "wallet.updated")
    _customer(http)
    _usage_setup(http)
    wallet = _wallet(http, granted_credits="1")
    _use(http, "a", 5)
    assert _tick(database, http, org).depleted_wallets == 0
    _top_up(http, wallet, voided_credits="1")
    assert _flag(database, wallet) is False
    assert [w["webhook_type"] for w in _log(http)] == ["wallet.updated"] * 2
