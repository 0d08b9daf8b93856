"""Sharing an invoice between wallets (billing.md §9.3) and wallet credit rounding (§9.1)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from meterbill.wallets.allocation import Bucket, Payer, allocate, buckets_of
from meterbill.wallets.credits import cents_of_credits, credits_of_cents

METRICS = [uuid.UUID(int=n) for n in range(1, 4)]
FEE_TYPES = ["charge", "subscription", "commitment"]


def test_buckets_largest_first_and_summed() -> None:
    items = [("charge", METRICS[0], 300), ("subscription", None, 500), ("charge", METRICS[0], 400)]
    assert buckets_of(items) == [
        Bucket("charge", METRICS[0], 700),
        Bucket("subscription", None, 500),
    ]


def test_restricted_wallet_pays_only_its_buckets() -> None:
    buckets = [Bucket("subscription", None, 5000), Bucket("charge", METRICS[0], 1200)]
    limited = Payer("limited", 10_000, fee_types=frozenset({"charge"}))
    anyone = Payer("anyone", 10_000)
    assert allocate(buckets, [limited, anyone], 6200) == {"limited": 1200, "anyone": 5000}
    by_metric = Payer("metric", 700, metric_ids=frozenset({METRICS[0]}))
    assert allocate(buckets, [by_metric], 6200) == {"metric": 700}


def test_overflow_goes_to_the_last_able_wallet() -> None:
    buckets = [Bucket("charge", METRICS[0], 1000)]
    payers = [Payer("a", 300), Payer("b", 200), Payer("c", 0, fee_types=frozenset({"x"}))]
    assert allocate(buckets, payers, overflow=True) == {"a": 300, "b": 700, "c": 0}


def test_credits_rounding_examples() -> None:
    # 10.123456 credits floored to 10.12345; at 2 EUR: 20.2469 -> 20.25 EUR.
    assert cents_of_credits(Decimal("10.123456"), Decimal(2), "EUR") == 2025
    assert credits_of_cents(2025, Decimal(2), "EUR") == Decimal("10.125")
    assert cents_of_credits(Decimal("0.01"), Decimal("0.3"), "EUR") == 0
    assert cents_of_credits(Decimal("7"), Decimal("150"), "JPY") == 1050


payer_strategy = st.builds(
    Payer,
    key=st.uuids(),
    balance_cents=st.integers(min_value=0, max_value=100_000),
    fee_types=st.frozensets(st.sampled_from(FEE_TYPES), max_size=2),
    metric_ids=st.frozensets(st.sampled_from(METRICS), max_size=2),
)
fee_strategy = st.tuples(
    st.sampled_from(FEE_TYPES),
    st.sampled_from([None, *METRICS]),
    st.integers(min_value=0, max_value=50_000),
)


@given(
    fees=st.lists(fee_strategy, max_size=8),
    payers=st.lists(payer_strategy, max_size=4, unique_by=lambda payer: payer.key),
    total=st.integers(min_value=0, max_value=200_000),
)
def test_consumption_never_exceeds_balances_total_or_caps(
    fees: list[tuple[str, uuid.UUID | None, int]], payers: list[Payer], total: int
) -> None:
    buckets = buckets_of(fees)
    paid = allocate(buckets, payers, total)
    assert all(0 <= paid[payer.key] <= payer.balance_cents for payer in payers)
    assert sum(paid.values()) <= total
    assert sum(paid.values()) <= sum(bucket.cents for bucket in buckets)
    # A wallet pays no more than the fees it may pay.
    for payer in payers:
        cap = sum(bucket.cents for bucket in buckets if payer.pays(bucket))
        assert paid[payer.key] <= cap
    # An unrestricted wallet with balance left means everything payable was paid.
    if any(not p.fee_types and not p.metric_ids and paid[p.key] < p.balance_cents for p in payers):
        assert sum(paid.values()) == min(total, sum(bucket.cents for bucket in buckets))


def test_a_bucket_targeting_a_wallet_is_paid_by_it_alone() -> None:
    items = [("charge", METRICS[0], 300, "w2"), ("charge", METRICS[0], 200, None),
             ("charge", METRICS[0], 100, "w2")]  # fmt: skip
    buckets = buckets_of(items)
    assert buckets == [Bucket("charge", METRICS[0], 400, "w2"),
                       Bucket("charge", METRICS[0], 200)]  # fmt: skip
    first = Payer("first", 1_000, code="w1")
    second = Payer("second", 1_000, code="w2", fee_types=frozenset({"subscription"}))
    # The targeted bucket ignores the wallets' limits and order; the other one keeps them.
    assert allocate(buckets, [first, second]) == {"first": 200, "second": 400}
    # A target no wallet answers to is paid by none, even in full allocation.
    lost = [Bucket("charge", None, 50, "gone")]
    assert allocate(lost, [first, second], overflow=True) == {"first": 0, "second": 0}
