"""Stripe's answers to a step's claims, several calls in flight at once: one Stripe call
takes hundreds of milliseconds, so a billing day's thousands of invoices would
otherwise wait on each other in one worker. Each answer is recorded as it comes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

from meterbill.payment_providers.outcomes import Outcome

C = TypeVar("C")


def answers(
    claims: Sequence[C], call: Callable[[C], Outcome], concurrency: int
) -> Iterator[tuple[C, Outcome]]:
    if concurrency <= 1 or len(claims) <= 1:
        for claim in claims:
            yield claim, call(claim)
        return
    # The stripe package keeps one HTTP session per thread: a client is shared safely.
    with ThreadPoolExecutor(max_workers=min(concurrency, len(claims))) as pool:
        futures = {pool.submit(call, claim): claim for claim in claims}
        for future in as_completed(futures):
            yield futures[future], future.result()
