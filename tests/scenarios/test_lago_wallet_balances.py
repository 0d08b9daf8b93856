"""Lago's scenario spec wallets/balance_spec.rb: a wallet's balance and ongoing
balance through a month of usage, a draft invoice in its grace period and its
finalization; wallets limited to one or two metrics each, or to fee types, by priority.
Not matched: its cases with usage thresholds (progressive billing, README "Not yet").
"""

from __future__ import annotations

from typing import Any

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets, standard


def figures(body: dict[str, Any]) -> tuple[int, int, int]:
    return (body["balance_cents"], body["ongoing_balance_cents"],
            body["ongoing_usage_balance_cents"])  # fmt: skip


def test_balance_and_ongoing_balance_through_a_grace_period(database: Database, org: Org) -> None:
    wallets = Wallets(database, org)
    total = wallets.metric("total", "sum_agg", field_name="total")
    wallets.plan("p", [standard(total, "1")], amount_cents=1_00)
    wallets.customer("cus", timezone="UTC", invoice_grace_period=10)
    wallet = wallets.wallet("cus", utc(2022, 11, 30), granted_credits="10", name="Wallet1")
    assert figures(wallets.read(wallet, utc(2022, 11, 30))) == (1_000, 1_000, 0)
    wallets.subscribe("cus", "p", "sub", utc(2022, 12, 1))
    wallets.events("sub", "total", (utc(2022, 12, 6), {"total": 5}))
    # 5 EUR of usage: the balance stays, the ongoing balance counts it.
    assert figures(wallets.read(wallet, utc(2022, 12, 6, 1))) == (1_000, 500, 500)
    wallets.tick(utc(2023, 1, 1))
    [draft] = wallets.invoices()
    assert (draft.status, draft.total_amount_cents) == ("draft", 600)
    # The draft (1 EUR plan + 5 EUR usage) counts in the ongoing balance.
    assert figures(wallets.read(wallet, utc(2023, 1, 1, 1))) == (1_000, 400, 600)
    wallets.events("sub", "total", (utc(2023, 1, 6), {"total": 3}))
    assert figures(wallets.read(wallet, utc(2023, 1, 6, 1))) == (1_000, 100, 900)
    wallets.tick(utc(2023, 1, 11))
    [final] = wallets.invoices()
    assert (final.status, final.total_amount_cents) == ("finalized", 0)
    assert figures(wallets.read(wallet, utc(2023, 1, 11, 1))) == (400, 100, 300)
    top_up, spent = wallets.transactions(wallet)
    assert (top_up.transaction_type, top_up.transaction_status, top_up.credit_amount) == (
        "inbound", "granted", 10)  # fmt: skip
    assert (spent.transaction_type, spent.transaction_status, spent.credit_amount,
            spent.status) == ("outbound", "invoiced", 6, "settled")  # fmt: skip


def test_wallets_limited_to_one_metric_each(database: Database, org: Org) -> None:
    wallets = Wallets(database, org)
    codes = ["storage", "seats", "api", "sms"]
    charges = [standard(wallets.metric(code, "sum_agg", field_name="total"), "1")
               for code in codes]  # fmt: skip
    wallets.plan("p", charges, amount_cents=1_00)
    wallets.customer("cus", timezone="UTC")
    found = []
    for n, (code, credits) in enumerate(zip(codes, (10, 20, 30, 40), strict=True)):
        limited = {"billable_metric_codes": [code]}
        found.append(wallets.wallet("cus", utc(2022, 12, 1), name=f"W{n + 1}",
                                    granted_credits=str(credits), priority=n + 1,
                                    applies_to=limited))  # fmt: skip
    wallets.subscribe("cus", "p", "sub", utc(2022, 12, 2))
    for code, amount in zip(codes, (10, 20, 30, 40), strict=True):
        wallets.events("sub", code, (utc(2022, 12, 6), {"total": amount}))
    # Each wallet's metric takes all its credits, no more.
    assert [figures(wallets.read(w, utc(2022, 12, 6, 1))) for w in found] == [
        (1_000, 0, 1_000), (2_000, 0, 2_000), (3_000, 0, 3_000), (4_000, 0, 4_000)]  # fmt: skip


def test_pay_in_advance_charge_with_tax_spends_the_wallet_at_once(
    database: Database, org: Org
) -> None:
    wallets = Wallets(database, org)
    wallets.tax("vat", "10", applied_to_organization=True)
    total = wallets.metric("total", "sum_agg", field_name="total")
    wallets.plan("p", [standard(total, "1", pay_in_advance=True)], amount_cents=1_00)
    wallets.customer("cus", timezone="UTC", invoice_grace_period=10)
    wallet = wallets.wallet("cus", utc(2022, 11, 30), granted_credits="100")
    wallets.subscribe("cus", "p", "sub", utc(2022, 12, 1))
    wallets.events("sub", "total", (utc(2022, 12, 6), {"total": 50}))
    wallets.tick(utc(2022, 12, 6, 1))
    # 50 EUR + 10 % = 55, paid by the wallet as the event's invoice is issued.
    [charge] = wallets.invoices()
    assert (charge.status, charge.total_amount_cents) == ("finalized", 0)
    assert figures(wallets.read(wallet, utc(2022, 12, 6, 2))) == (4_500, 4_500, 0)
    assert len(wallets.transactions(wallet)) == 2
    # January's invoice (1 EUR + 10 %) waits in its grace period: only the ongoing
    # balance counts it.
    wallets.tick(utc(2023, 1, 1))
    assert wallets.invoices()[-1].status == "draft"
    body = wallets.read(wallet, utc(2023, 1, 1, 1))
    assert figures(body) == (4_500, 4_390, 110)
    assert (body["credits_ongoing_balance"], body["credits_ongoing_usage_balance"]) == (
        "43.9", "1.1")  # fmt: skip


def test_wallets_limited_to_two_metrics_each_cascade_by_priority(
    database: Database, org: Org
) -> None:
    wallets = Wallets(database, org)
    codes = ["storage", "seats", "api", "sms"]
    charges = [standard(wallets.metric(code, "sum_agg", field_name="total"), "1")
               for code in codes]  # fmt: skip
    wallets.plan("p", charges, amount_cents=1_00)
    wallets.customer("cus", timezone="UTC")
    found = []
    for n, credits in enumerate((10, 20, 30, 40)):
        limited = {"billable_metric_codes": [codes[n], codes[(n + 1) % 4]]}
        found.append(wallets.wallet("cus", utc(2022, 12, 1), name=f"W{n + 1}",
                                    granted_credits=str(credits), priority=n + 1,
                                    applies_to=limited))  # fmt: skip
    wallets.subscribe("cus", "p", "sub", utc(2022, 12, 2))
    for code, amount in zip(codes, (10, 20, 30, 40), strict=True):
        wallets.events("sub", code, (utc(2022, 12, 6), {"total": amount}))
    # Each metric fills its highest-priority wallet, then spills to the next; what no
    # balance covers stays on the last wallet able to pay it (below zero).
    assert [figures(wallets.read(w, utc(2022, 12, 6, 1))) for w in found] == [
        (1_000, 0, 1_000), (2_000, -1_000, 3_000), (3_000, -1_000, 4_000),
        (4_000, 2_000, 2_000)]  # fmt: skip


def four_metrics(wallets: Wallets) -> list[str]:
    codes = ["storage", "seats", "api", "sms"]
    charges = [standard(wallets.metric(code, "sum_agg", field_name="total"), "1")
               for code in codes]  # fmt: skip
    wallets.plan("p", charges, amount_cents=1_00)
    wallets.customer("cus", timezone="UTC")
    return codes


def test_two_metric_wallets_cascade_with_filtered_events(database: Database, org: Org) -> None:
    """balance_spec.rb, "when each wallet limited to 2 billable metrics with filtered
    events": a property the charges do not filter on changes nothing."""
    wallets = Wallets(database, org)
    codes = four_metrics(wallets)
    found = []
    for n, credits in enumerate((10, 20, 30, 40)):
        limited = {"billable_metric_codes": [codes[n], codes[(n + 1) % 4]]}
        found.append(wallets.wallet("cus", utc(2022, 12, 1), name=f"W{n + 1}",
                                    granted_credits=str(credits), priority=n + 1,
                                    applies_to=limited))  # fmt: skip
    wallets.subscribe("cus", "p", "sub", utc(2022, 12, 2))
    for code, first in zip(codes, (7, 17, 27, 37), strict=True):
        wallets.events("sub", code, (utc(2022, 12, 6), {"total": first, "filter": "filter_01"}),
                       (utc(2022, 12, 6), {"total": 3, "filter": "filter_02"}))  # fmt: skip
    assert [figures(wallets.read(w, utc(2022, 12, 6, 1))) for w in found] == [
        (1_000, 0, 1_000), (2_000, -1_000, 3_000), (3_000, -1_000, 4_000),
        (4_000, 2_000, 2_000)]  # fmt: skip
    credits = [wallets.read(w, utc(2022, 12, 6, 1)) for w in found]
    assert [(c["credits_ongoing_usage_balance"], c["credits_ongoing_balance"])
            for c in credits] == [("10.0", "0.0"), ("30.0", "-10.0"), ("40.0", "-10.0"),
                                  ("20.0", "20.0")]  # fmt: skip


def test_charge_wallets_cascade_by_priority(database: Database, org: Org) -> None:
    """balance_spec.rb, "when wallets are limited to charges (fee type)": the wallet for the
    subscription fee takes no usage; the charges' 100 cascade over the charge wallets."""
    wallets = Wallets(database, org)
    codes = four_metrics(wallets)
    found = []
    for n, (credits, fee_type) in enumerate(
        ((10, "subscription"), (20, "charge"), (30, "charge"), (40, "charge"))
    ):
        found.append(wallets.wallet("cus", utc(2022, 12, 1), name=f"W{n + 1}",
                                    granted_credits=str(credits), priority=n + 1,
                                    applies_to={"fee_types": [fee_type]}))  # fmt: skip
    wallets.subscribe("cus", "p", "sub", utc(2022, 12, 2))
    for code, amount in zip(codes, (10, 20, 30, 40), strict=True):
        wallets.events("sub", code, (utc(2022, 12, 6), {"total": amount}))
    assert [figures(wallets.read(w, utc(2022, 12, 6, 1))) for w in found] == [
        (1_000, 1_000, 0), (2_000, 0, 2_000), (3_000, 0, 3_000),
        (4_000, -1_000, 5_000)]  # fmt: skip
