"""Sharing an amount to pay between wallets (billing.md §9.3), pure.

The amount comes in buckets, one per (fee_type, billable metric, target wallet), paid
largest first. Wallets pay in the order given (priority, then age); a restricted wallet
only pays the buckets whose fee type or metric it lists; a bucket that targets a wallet
(by its code) is paid by that wallet alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    fee_type: str
    metric_id: uuid.UUID | None
    cents: int
    target: str | None = None  # the code of the only wallet that may pay it


@dataclass(frozen=True)
class Payer:
    key: Hashable
    balance_cents: int
    fee_types: frozenset[str] = frozenset()
    metric_ids: frozenset[uuid.UUID] = frozenset()
    code: str | None = None

    def pays(self, bucket: Bucket) -> bool:
        if bucket.target is not None:
            return self.code == bucket.target
        if not self.fee_types and not self.metric_ids:
            return True
        return bucket.fee_type in self.fee_types or (
            bucket.metric_id is not None and bucket.metric_id in self.metric_ids
        )


Item = tuple[str, uuid.UUID | None, int] | tuple[str, uuid.UUID | None, int, str | None]


def buckets_of(items: Iterable[Item]) -> list[Bucket]:
    """Amounts summed by (fee_type, metric, target wallet), largest first (ties in
    first-seen order)."""
    sums: dict[tuple[str, uuid.UUID | None, str | None], int] = {}
    for fee_type, metric_id, cents, *target in items:
        key = (fee_type, metric_id, target[0] if target else None)
        sums[key] = sums.get(key, 0) + cents
    buckets = [Bucket(fee_type, metric, cents, target)
               for (fee_type, metric, target), cents in sums.items()]  # fmt: skip
    return sorted((b for b in buckets if b.cents > 0), key=lambda b: -b.cents)


def allocate(
    buckets: Sequence[Bucket],
    payers: Sequence[Payer],
    limit: int | None = None,
    *,
    overflow: bool = False,
) -> dict[Hashable, int]:
    """What each payer pays: never more than its balance, a bucket, or `limit` in all.

    With `overflow`, what no balance covers goes to the last payer able to pay the
    bucket (ongoing usage is allocated in full: a wallet's ongoing balance can go
    below zero).
    """
    left = {index: bucket.cents for index, bucket in enumerate(buckets)}
    paid: dict[Hashable, int] = {payer.key: 0 for payer in payers}
    remaining = limit
    for payer in payers:
        balance = payer.balance_cents
        for index, bucket in enumerate(buckets):
            if balance <= 0 or (remaining is not None and remaining <= 0):
                break
            if not payer.pays(bucket) or left[index] <= 0:
                continue
            share = min(left[index], balance)
            if remaining is not None:
                share = min(share, remaining)
                remaining -= share
            left[index] -= share
            balance -= share
            paid[payer.key] += share
    if overflow:
        for index, bucket in enumerate(buckets):
            able = [payer for payer in payers if payer.pays(bucket)]
            if left[index] > 0 and able:
                paid[able[-1].key] += left[index]
    return paid
