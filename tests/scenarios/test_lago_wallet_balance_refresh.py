"""Lago's scenario spec wallets/customer_wallets_balance_refresh_spec.rb: three wallets of
10 credits (one for each of two metrics, one for everything) share the current usage in
priority then creation order, what a limited wallet cannot cover spilling onto the
catch-all one; a pay-in-advance charge's usage is billed already and reaches no wallet.

Not matched: its cases with a progressive billing invoice (README, "Not yet"), and its
draft invoice built by hand with a coupon share that stands for one.
"""

from __future__ import annotations

from typing import Any

import pytest

from meterbill.core.db import Database
from tests.conftest import Org
from tests.scenarios.billing import utc
from tests.scenarios.wallets import Wallets, standard

NOW = utc(2024, 5, 10, 12)


def ongoing(body: dict[str, Any]) -> tuple[int, str, int, str]:
    return (body["ongoing_usage_balance_cents"], body["credits_ongoing_usage_balance"],
            body["ongoing_balance_cents"], body["credits_ongoing_balance"])  # fmt: skip


@pytest.mark.parametrize("bm3_charged_in_advance", [False, True])
def test_usage_cascades_from_limited_wallets_to_the_catch_all(
    database: Database, org: Org, bm3_charged_in_advance: bool
) -> None:
    wallets = Wallets(database, org)
    bm1, bm2, bm3 = (wallets.metric(code) for code in ("bm1", "bm2", "bm3"))
    charges = [standard(bm1, "10"), standard(bm2, "5")]
    if bm3_charged_in_advance:
        charges.append(standard(bm3, "9999", pay_in_advance=True, invoiceable=False))
    wallets.plan("p", charges)
    wallets.customer("cus", timezone="UTC")
    wallets.subscribe("cus", "p", "sub", utc(2022, 5, 1))
    wallets.tick(utc(2024, 5, 1, 1))
    found = [
        wallets.wallet("cus", utc(2024, 5, 2), code="w1", granted_credits="10",
                       applies_to={"billable_metric_codes": ["bm1"]}),
        wallets.wallet("cus", utc(2024, 5, 2, 1), code="w2", granted_credits="10",
                       applies_to={"billable_metric_codes": ["bm2"]}),
        wallets.wallet("cus", utc(2024, 5, 2, 2), code="w3", name="wallet 3",
                       granted_credits="10"),
    ]  # fmt: skip
    wallets.events("sub", "bm1", *[(NOW, {})] * 3)
    wallets.events("sub", "bm2", (NOW, {}))
    wallets.events("sub", "bm3", (NOW, {}))
    wallets.tick(utc(2024, 5, 10, 13))
    # bm1: 30 EUR, 10 on its wallet, 20 on the catch-all; bm2: 5 EUR on its wallet.
    assert [ongoing(wallets.read(w, utc(2024, 5, 10, 13))) for w in found] == [
        (1_000, "10.0", 0, "0.0"), (500, "5.0", 500, "5.0"),
        (2_000, "20.0", -1_000, "-10.0")]  # fmt: skip
