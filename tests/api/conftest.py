from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhook_receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on a local port for webhook deliveries."""
    with running_receiver() as running:
        yield running
