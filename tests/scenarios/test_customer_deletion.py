"""Deleting a customer: the guide's cascade, one transaction (customers.md §7.3-§7.4,
customer-management-guide "Deleting a customer")."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lago_python_client.client import Client
from lago_python_client.models.wallet import Wallet
from sqlalchemy import text

from meterbill.core.db import Database
from tests.conftest import Org, make_org
from tests.scenarios.billing import utc
from tests.scenarios.credit_notes import notes
from tests.scenarios.deletion import Deletion


@pytest.fixture
def deletion(database: Database, org: Org) -> Deletion:
    return Deletion(database, org)


def per_call(metric_id: str, amount: str = "1") -> dict[str, Any]:
    return {"billable_metric_id": metric_id, "charge_model": "standard",
            "properties": {"amount": amount}}  # fmt: skip


def movements(deletion: Deletion, wallet: str) -> list[tuple[str, str, int]]:
    return [(t.transaction_status, t.status, t.amount_cents)
            for t in deletion.transactions(wallet)]  # fmt: skip


def build_customer_mid_period(deletion: Deletion) -> str:
    """A plan paid in advance with usage, a recurring coupon, a wallet with paid and
    granted credits, a draft in its grace period and a subscription still to start.
    Returns the wallet's id."""
    calls = deletion.metric("calls")
    deletion.plan("pro", [per_call(calls)], amount_cents=2_900, pay_in_advance=True)
    deletion.plan("basic", [], amount_cents=1_000)
    deletion.customer("cus", timezone="UTC", invoice_grace_period=15)
    deletion.coupon("fix", coupon_type="fixed_amount", amount_cents=500, amount_currency="EUR",
                    frequency="recurring", frequency_duration=6)  # fmt: skip
    deletion.apply("cus", "fix", utc(2024, 1, 1))
    deletion.subscribe("cus", "pro", "sub", utc(2024, 1, 1))
    deletion.tick(utc(2024, 1, 1, 1))
    deletion.tick(utc(2024, 1, 16, 1))  # January's invoice leaves its grace period
    wallet = deletion.wallet("cus", utc(2024, 1, 20), granted_credits="10", paid_credits="20")
    [credit_invoice] = [i for i in deletion.invoices("cus") if i.fees[0].fee_type == "credit"]
    deletion.pay(credit_invoice.id, utc(2024, 1, 21))
    deletion.events("sub", "calls", *[(utc(2024, 1, 20 + n, 12), {}) for n in range(5)])
    deletion.tick(utc(2024, 2, 1, 1))  # February: a draft until Feb 16
    deletion.events("sub", "calls", *[(utc(2024, 2, 5, n), {}) for n in range(10)])
    deletion.schedule("cus", "basic", "later", utc(2024, 3, 1), utc(2024, 2, 2))
    return wallet


def test_deleting_mid_period_completes_every_document(deletion: Deletion) -> None:
    wallet = build_customer_mid_period(deletion)
    before = deletion.invoices("cus")
    assert [(i.status, i.totals) for i in before] == [
        ("finalized", (2_900, 500, 2_400, 0, 2_400, 2_400)),
        ("finalized", (2_000, 0, 2_000, 0, 2_000, 2_000)),  # the paid credits
        ("draft", (3_400, 0, 3_400, 0, 3_400, 3_400)),  # February in advance + January's calls
    ]  # fmt: skip
    assert deletion.balance(wallet) == 3_000
    customer_id = deletion.customer_row("cus").id

    deletion.delete("cus", utc(2024, 2, 11))

    after = deletion.invoices("cus")
    assert [(i.number[-3:], i.status, i.issuing_date.isoformat(), i.totals, i.payment_status)
            for i in after] == [
        ("001", "finalized", "2024-01-16", (2_900, 500, 2_400, 0, 2_400, 2_400), "pending"),
        ("002", "finalized", "2024-01-20", (2_000, 0, 2_000, 0, 2_000, 2_000), "succeeded"),
        # The draft, finalized at once with the coupon and paid by the wallet.
        ("003", "finalized", "2024-02-11", (3_400, 500, 2_900, 0, 2_900, 0), "succeeded"),
        # The termination: February's 10 calls, the coupon, then the credit note.
        ("004", "finalized", "2024-02-11", (1_000, 500, 500, 0, 500, 0), "succeeded"),
    ]  # fmt: skip
    february, termination = after[2], after[3]
    assert february.credits == [("fix", 500)]
    [note] = notes(deletion)
    # 18 unused days of 29 (Feb 12-29): 1 800 less the coupon's share of the fee,
    # 1 800 × 500 / 3 400 = 264.71 → 1 535; 500 of it paid the termination invoice.
    assert (note.number, note.reason, note.sub_total_excluding_taxes_amount_cents,
            note.total_amount_cents, note.credit_amount_cents, note.balance_amount_cents,
            note.credit_status) == (f"{february.number}-CN001", "order_cancellation",
                                    1_535, 1_535, 1_535, 1_035, "available")  # fmt: skip
    assert termination.credits == [("fix", 500), (note.number, 500)]
    assert [(p["reason"], p["charges_from"], p["charges_to"]) for p in termination.periods] == [
        ("subscription_terminating", utc(2024, 2, 1), utc(2024, 2, 11))]  # fmt: skip
    assert movements(deletion, wallet) == [
        ("granted", "settled", 1_000), ("purchased", "settled", 2_000),
        ("invoiced", "settled", 2_900), ("voided", "settled", 100)]  # fmt: skip
    assert deletion.balance(wallet) == 0
    assert deletion.read(wallet, utc(2024, 2, 11))["status"] == "terminated"
    assert deletion.subscriptions(customer_id) == {
        "sub": ("terminated", utc(2024, 2, 11)),
        "later": ("canceled", utc(2024, 2, 11)),
    }
    # Used in January, February and on the termination invoice: 3 of 6 periods left.
    assert deletion.applied_coupons(customer_id) == [("terminated", 3)]
    assert deletion.customer_row("cus").deleted_at == utc(2024, 2, 11)
    # Nothing is billed for the deleted customer afterwards (the shared test database
    # holds other tests' subscriptions: count ours only).
    deletion.tick(utc(2024, 3, 1, 1))
    assert len(deletion.invoices("cus")) == 4


def test_documents_stay_and_the_external_id_starts_afresh(
    deletion: Deletion, http: httpx.Client
) -> None:
    build_customer_mid_period(deletion)
    deletion.delete("cus", utc(2024, 2, 11))
    invoices = deletion.invoices("cus")
    for invoice in invoices:
        body = http.get(f"/invoices/{invoice.id}").json()["invoice"]
        assert (body["number"], body["status"]) == (invoice.number, "finalized")
    # Listed without a filter (this organization has no other customer); a filter by
    # the external id names the live customer only, and there is none.
    listed = http.get("/invoices").json()["invoices"]
    assert sorted(item["number"] for item in listed) == [i.number for i in invoices]
    by_id = {"external_customer_id": "cus"}
    assert http.get("/invoices", params=by_id).json()["invoices"] == []
    assert http.get("/credit_notes", params=by_id).json()["credit_notes"] == []
    [note] = http.get("/credit_notes").json()["credit_notes"]
    assert (
        http.get(f"/credit_notes/{note['lago_id']}").json()["credit_note"]["balance_amount_cents"]
        == 1_035
    )
    for path in ("/customers/cus", "/customers/cus/invoices", "/customers/cus/credit_notes",
                 "/customers/cus/wallets"):  # fmt: skip
        assert http.get(path).json()["error"] == "Not Found", path
    usage = http.get("/customers/cus/current_usage", params={"external_subscription_id": "sub"})
    assert (usage.status_code, usage.json()["code"]) == (404, "customer_not_found")

    # New credit notes and refunds on the deleted customer's invoices still work.
    january = invoices[0]
    fee = http.get(f"/invoices/{january.id}").json()["invoice"]["fees"][0]["lago_id"]
    paid = http.put(f"/invoices/{january.id}", json={"invoice": {"payment_status": "succeeded"}})
    assert paid.json()["invoice"]["payment_status"] == "succeeded"
    # 1 000 of the 2 900 fee, less its share of the 500 coupon (172.41): 828.
    refund = http.post("/credit_notes", json={"credit_note": {
        "invoice_id": str(january.id), "reason": "other", "refund_amount_cents": 828,
        "items": [{"fee_id": fee, "amount_cents": 1_000}]}})  # fmt: skip
    assert refund.status_code == 200, refund.text
    made = refund.json()["credit_note"]
    assert (made["refund_amount_cents"], made["refund_status"], made["number"]) == (
        828, "pending", f"{january.number}-CN001")  # fmt: skip

    # The external id belongs to a new customer whose lists start empty.
    old = deletion.customer_row("cus")
    created = http.post("/customers", json={"customer": {"external_id": "cus"}}).json()
    assert created["customer"]["lago_id"] != str(old.id)
    assert created["customer"]["sequential_id"] == old.sequential_id + 1
    assert http.get("/customers/cus/invoices").json()["invoices"] == []
    assert http.get("/customers/cus/credit_notes").json()["credit_notes"] == []
    assert http.get("/wallets", params={"external_customer_id": "cus"}).json()["wallets"] == []
    assert http.get("/subscriptions", params={"external_customer_id": "cus"}).json()[
        "subscriptions"] == []  # fmt: skip
    assert http.get("/applied_coupons", params={"external_customer_id": "cus"}).json()[
        "applied_coupons"] == []  # fmt: skip


FAULT_SQLITE = """
CREATE TRIGGER injected_fault BEFORE INSERT ON wallet_transactions
WHEN NEW.transaction_status = 'voided'
BEGIN SELECT RAISE(ABORT, 'injected fault'); END
"""
FAULT_POSTGRES = (
    "CREATE FUNCTION injected_fault() RETURNS trigger AS $$"
    " BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER injected_fault BEFORE INSERT ON wallet_transactions FOR EACH ROW"
    " WHEN (NEW.transaction_status = 'voided') EXECUTE FUNCTION injected_fault()",
)


def test_a_failing_step_leaves_everything_unchanged(fresh: Database) -> None:
    """The last step (voiding the wallet's credits) fails in the database: the
    terminations, invoices, credit note and finalized drafts before it are undone."""
    deletion = Deletion(fresh, make_org(fresh))
    wallet = build_customer_mid_period(deletion)
    customer = deletion.customer_row("cus")

    def state() -> tuple[Any, ...]:
        return (
            [(i.number, i.status, i.totals, i.credits) for i in deletion.invoices("cus")],
            [(n.number, n.balance_amount_cents) for n in notes(deletion)],
            deletion.balance(wallet), movements(deletion, wallet),
            deletion.read(wallet, utc(2024, 2, 11))["status"],
            deletion.subscriptions(customer.id), deletion.applied_coupons(customer.id),
            deletion.customer_row("cus").deleted_at,
        )  # fmt: skip

    before = state()
    with fresh.engine.begin() as connection:
        for statement in [FAULT_SQLITE] if fresh.sqlite else FAULT_POSTGRES:
            connection.execute(text(statement))
    with pytest.raises(Exception, match="injected fault"):
        deletion.delete("cus", utc(2024, 2, 11))
    assert state() == before
    assert before[0][2][1] == "draft" and before[5]["sub"][0] == "active"


def test_in_arrears_subscription_is_billed_to_the_deletion_day(deletion: Deletion) -> None:
    calls = deletion.metric("calls")
    deletion.plan("arrears", [per_call(calls)], amount_cents=3_100)
    deletion.customer("cus", timezone="UTC")
    deletion.subscribe("cus", "arrears", "sub", utc(2024, 1, 1))
    deletion.events("sub", "calls", (utc(2024, 1, 3), {}), (utc(2024, 1, 9), {}))
    deletion.delete("cus", utc(2024, 1, 16))
    # January 1-16 of 31 days, the deletion day counting as used: 3 100 × 16/31 = 1 600.
    [invoice] = deletion.invoices("cus")
    assert (invoice.status, invoice.totals) == ("finalized", (1_800, 0, 1_800, 0, 1_800, 1_800))
    assert sorted((f.fee_type, f.amount_cents) for f in invoice.fees) == [
        ("charge", 200), ("subscription", 1_600)]  # fmt: skip
    assert notes(deletion) == []


def test_delete_through_the_official_client(lago: Client, http: httpx.Client) -> None:
    http.post("/customers", json={"customer": {"external_id": "cus", "currency": "EUR"}})
    wallet = lago.wallets.create(
        Wallet(external_customer_id="cus", rate_amount="1", currency="EUR", granted_credits="12.5")
    )
    http.post("/coupons", json={"coupon": {"name": "Off", "code": "off",
              "coupon_type": "percentage", "percentage_rate": "10", "frequency": "forever",
              "expiration": "no_expiration"}})  # fmt: skip
    http.post("/applied_coupons", json={"applied_coupon": {
        "external_customer_id": "cus", "coupon_code": "off"}})  # fmt: skip
    deleted = lago.customers.destroy("cus")
    assert deleted.external_id == "cus"
    ended = lago.wallets.find(wallet.lago_id)
    assert (ended.status, ended.balance_cents, ended.credits_balance) == ("terminated", 0, "0.0")
    path = f"/wallets/{wallet.lago_id}/wallet_transactions"
    voided = http.get(path, params={"transaction_status": "voided"}).json()
    voided = voided["wallet_transactions"]
    assert [(t["transaction_type"], t["status"], t["amount"]) for t in voided] == [
        ("outbound", "settled", "12.5")]  # fmt: skip
    coupons = http.get("/applied_coupons", params={"status": "terminated"}).json()
    assert [c["coupon_code"] for c in coupons["applied_coupons"]
            if c["external_customer_id"] == "cus"] == ["off"]  # fmt: skip
    assert http.delete("/customers/cus").status_code == 404
