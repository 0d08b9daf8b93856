"""Lago ids of ingested events: version 4 UUIDs, made many at once from one read of the
system's randomness."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from meterbill.events.service import random_uuids


@given(st.integers(min_value=0, max_value=3_000))
def test_a_batch_of_ids_is_that_many_distinct_version_4_uuids(count: int) -> None:
    ids = random_uuids(count)
    assert len(ids) == count == len(set(ids))
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
