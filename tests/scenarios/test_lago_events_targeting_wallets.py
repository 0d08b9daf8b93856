"""Lago's scenario spec events_targeting_wallets_spec.rb: the events of a charge that
accepts target wallets name the wallet (`target_wallet_code`) that pays for them. Each
wallet's events are billed on a fee of their own, paid by that wallet alone, in arrears
or in advance; events naming none are paid as any fee is; a charge that does not accept
target wallets ignores the property.

Lago gates the feature behind a premium integration of the organization; meterbill needs
only the charge's `accepts_target_wallet`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from meterbill.core.db import Database
from meterbill.invoices.models import Invoice
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets, standard

JAN15 = utc(2023, 1, 15)
JAN16 = utc(2023, 1, 16)


@pytest.fixture
def wallets(database: Database, org: Org) -> Wallets:
    return Wallets(database, org)


def setup(
    wallets: Wallets, credits: dict[str, tuple[str, int | None]], **charge: Any
) -> dict[str, str]:
    """A plan of one sum charge and the customer's wallets: code -> (credits, priority)."""
    value = wallets.metric("value", "sum_agg", field_name="value")
    properties = charge.pop("properties", {"amount": "10"})
    wallets.plan("p", [{**standard(value, "10"), "properties": properties, **charge}])
    wallets.customer("cus", timezone="UTC")
    made = {}
    for code, (granted, priority) in credits.items():
        extra = {"priority": priority} if priority is not None else {}
        made[code] = wallets.wallet("cus", JAN15, code=code, name=code, granted_credits=granted,
                                    **extra)  # fmt: skip
    wallets.subscribe("cus", "p", "sub", JAN15)
    return made


def send(wallets: Wallets, *events: dict[str, Any]) -> None:
    wallets.events("sub", "value", *[(JAN16, event) for event in events])


def ongoing_usage(wallets: Wallets, made: dict[str, str]) -> dict[str, int]:
    return {code: wallets.read(wallet, utc(2023, 1, 16, 1))["ongoing_usage_balance_cents"]
            for code, wallet in made.items()}  # fmt: skip


def invoiced(wallets: Wallets, made: dict[str, str]) -> dict[str, list[int]]:
    return {code: [t.amount_cents for t in wallets.transactions(wallet)
                   if t.transaction_status == "invoiced"]
            for code, wallet in made.items()}  # fmt: skip


def charge_fees(wallets: Wallets) -> list[tuple[dict[str, Any], int, int]]:
    [invoice] = [i for i in wallets.invoices("cus") if i.fees]
    with wallets.database.transaction(write=False) as session:
        row = session.get(Invoice, invoice.id)
        assert row is not None
        rows = [(fee.grouped_by, int(fee.units), fee.amount_cents) for fee in row.fees
                if fee.fee_type == "charge"]  # fmt: skip
        fees = sorted(rows, key=lambda fee: json.dumps(fee[0]))
        assert row.prepaid_credit_amount_cents == sum(fee[2] for fee in fees)
    return fees


def test_each_wallet_pays_the_fee_of_its_events(wallets: Wallets) -> None:
    made = setup(wallets, {"wallet_1": ("200", None), "wallet_2": ("250", None)},
                 accepts_target_wallet=True)  # fmt: skip
    send(wallets, {"value": "10", "target_wallet_code": "wallet_1"},
         {"value": "5", "target_wallet_code": "wallet_1"},
         {"value": "20", "target_wallet_code": "wallet_2"})  # fmt: skip
    assert ongoing_usage(wallets, made) == {"wallet_1": 15_000, "wallet_2": 20_000}
    wallets.tick(utc(2023, 2, 1))
    assert charge_fees(wallets) == [({"target_wallet_code": "wallet_1"}, 15, 15_000),
                                    ({"target_wallet_code": "wallet_2"}, 20, 20_000)]  # fmt: skip
    assert [wallets.balance(made[code]) for code in ("wallet_1", "wallet_2")] == [5_000, 5_000]
    assert invoiced(wallets, made) == {"wallet_1": [15_000], "wallet_2": [20_000]}


def test_pricing_groups_and_target_wallets_together(wallets: Wallets) -> None:
    made = setup(wallets, {"wallet_1": ("200", None), "wallet_2": ("250", None)},
                 accepts_target_wallet=True,
                 properties={"amount": "5", "pricing_group_keys": ["region"]})  # fmt: skip
    send(wallets, {"value": "10", "region": "eu", "target_wallet_code": "wallet_1"},
         {"value": "15", "region": "us", "target_wallet_code": "wallet_1"},
         {"value": "20", "region": "eu", "target_wallet_code": "wallet_2"})  # fmt: skip
    assert ongoing_usage(wallets, made) == {"wallet_1": 12_500, "wallet_2": 10_000}
    wallets.tick(utc(2023, 2, 1))
    assert charge_fees(wallets) == [
        ({"region": "eu", "target_wallet_code": "wallet_1"}, 10, 5_000),
        ({"region": "eu", "target_wallet_code": "wallet_2"}, 20, 10_000),
        ({"region": "us", "target_wallet_code": "wallet_1"}, 15, 7_500)]  # fmt: skip
    assert [wallets.balance(made[code]) for code in ("wallet_1", "wallet_2")] == [7_500, 15_000]
    assert invoiced(wallets, made) == {"wallet_1": [12_500], "wallet_2": [10_000]}


def test_advance_fees_paid_by_their_wallet(wallets: Wallets) -> None:
    made = setup(wallets, {"wallet_1": ("150", None), "wallet_2": ("100", None)},
                 accepts_target_wallet=True, pay_in_advance=True, invoiceable=True)  # fmt: skip
    send(wallets, {"value": "10", "target_wallet_code": "wallet_1"})
    wallets.tick(utc(2023, 1, 16, 1))
    with wallets.database.transaction(write=False) as session:
        [fee] = [f for i in session.scalars(select(Invoice).where(
            Invoice.organization_id == wallets.org.id)) for f in i.fees]  # fmt: skip
        assert (fee.pay_in_advance, int(fee.units), fee.amount_cents, fee.grouped_by) == (
            True, 10, 10_000, {"target_wallet_code": "wallet_1"})  # fmt: skip
    assert [wallets.balance(made[code]) for code in ("wallet_1", "wallet_2")] == [5_000, 10_000]
    second = {"value": "5", "target_wallet_code": "wallet_2"}
    wallets.events("sub", "value", (utc(2023, 1, 17), second))
    wallets.tick(utc(2023, 1, 17, 1))
    assert [wallets.balance(made[code]) for code in ("wallet_1", "wallet_2")] == [5_000, 5_000]


def test_events_naming_no_wallet_are_paid_as_any_fee(wallets: Wallets) -> None:
    made = setup(wallets, {"wallet_1": ("150", None), "default_wallet": ("100", 1)},
                 accepts_target_wallet=True)  # fmt: skip
    send(wallets, {"value": "10", "target_wallet_code": "wallet_1"}, {"value": "5"})
    assert ongoing_usage(wallets, made) == {"wallet_1": 10_000, "default_wallet": 5_000}
    wallets.tick(utc(2023, 2, 1))
    assert charge_fees(wallets) == [({"target_wallet_code": "wallet_1"}, 10, 10_000),
                                    ({"target_wallet_code": None}, 5, 5_000)]  # fmt: skip
    assert invoiced(wallets, made) == {"wallet_1": [10_000], "default_wallet": [5_000]}
    assert [wallets.balance(made[c]) for c in ("wallet_1", "default_wallet")] == [5_000, 5_000]


def test_a_charge_not_accepting_target_wallets_ignores_them(wallets: Wallets) -> None:
    made = setup(wallets, {"wallet_1": ("200", 1), "wallet_2": ("250", 2)})
    send(wallets, {"value": "10", "target_wallet_code": "wallet_1"},
         {"value": "5", "target_wallet_code": "wallet_1"},
         {"value": "20", "target_wallet_code": "wallet_2"})  # fmt: skip
    # The usage cascades by priority: wallet_1 fills, the rest spills onto wallet_2.
    assert ongoing_usage(wallets, made) == {"wallet_1": 20_000, "wallet_2": 15_000}
    wallets.tick(utc(2023, 2, 1))
    assert charge_fees(wallets) == [({}, 35, 35_000)]
    assert invoiced(wallets, made) == {"wallet_1": [20_000], "wallet_2": [15_000]}
    assert [wallets.balance(made[code]) for code in ("wallet_1", "wallet_2")] == [0, 10_000]
