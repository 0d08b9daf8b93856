"""SQLite's one write slot: a real writer waiting passes rehearsals waiting before it."""

from __future__ import annotations

import threading
import time

from meterbill.core.db import WriteLock


def _until(condition: object) -> None:
    deadline = time.monotonic() + 10
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the waiter never queued"
        time.sleep(0.001)


def test_a_real_writer_passes_the_rehearsals_queued_before_it() -> None:
    lock, order = WriteLock(), []

    def take(name: str, yielding: bool) -> None:
        with lock.held(yielding=yielding):
            order.append(name)

    with lock.held(yielding=False):
        rehearsals = [threading.Thread(target=take, args=(f"rehearsal {n}", True)) for n in (1, 2)]
        for thread in rehearsals:
            thread.start()
        _until(lambda: len(lock._changed._waiters) == 2)  # type: ignore[attr-defined]
        real = threading.Thread(target=take, args=("real", False))
        real.start()
        _until(lambda: len(lock._changed._waiters) == 3)  # type: ignore[attr-defined]
    for thread in [*rehearsals, real]:
        thread.join(timeout=10)
    assert order[0] == "real"
    assert sorted(order[1:]) == ["rehearsal 1", "rehearsal 2"]


def test_writers_take_turns_one_at_a_time() -> None:
    lock, inside, most = WriteLock(), [0], [0]
    guard = threading.Lock()

    def write(yielding: bool) -> None:
        for _ in range(200):
            with lock.held(yielding=yielding):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=write, args=(n % 2 == 0,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert most[0] == 1
