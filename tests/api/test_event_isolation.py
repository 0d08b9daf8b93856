"""Group commit isolation: one organization's refused events never fail another's requests.

Concurrent requests share one database transaction (events/group_commit.py). A row
the database would refuse must fail only its own request: it is refused with Lago's
422 envelope before it joins a group, and what validation cannot foresee is retried
request by request (tests/db/test_group_commit.py).
"""

from __future__ import annotations

import itertools
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from meterbill.core.db import Database
from meterbill.events.models import Event as EventRow
from meterbill.usage.aggregation import MetricSpec, Window, aggregate
from tests.conftest import Org, make_org
from tests.factories import make_metric

UNPROCESSABLE = {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors"}


def stored(database: Database, organization_id: uuid.UUID) -> list[str]:
    with database.transaction(write=False) as session:
        return sorted(
            session.scalars(
                select(EventRow.transaction_id).where(EventRow.organization_id == organization_id)
            )
        )


def counted(database: Database, organization_id: uuid.UUID) -> int:
    with database.transaction(write=False) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(EventRow)
                .where(EventRow.organization_id == organization_id)
            )
            or 0
        )


def client(server: str, org: Org) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {org.api_key}"}, timeout=60
    )


def event(transaction_id: str, **fields: Any) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "external_subscription_id": "sub",
            "code": "calls", "timestamp": 1767225600, **fields}  # fmt: skip


def bad_requests(tx: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The noisy organization's requests, each refused, with the details it must get.

    Its `calls` metric sums `units`, so a number no column holds is refused there.
    """
    big = {"units": "1" + "0" * 24}
    nul = {"deep": [{"x": "\u0000"}]}
    return [
        ("/events", {"event": event(tx, properties={"k\u0000": "v"})},
         {"properties": ["value_is_invalid"]}),
        ("/events", {"event": event(tx, properties={"units": 1e25})},
         {"properties": ["value_is_out_of_range"]}),
        ("/events", {"event": event(tx, properties={"note": "a\u0000b"})},
         {"properties": ["value_is_invalid"]}),
        ("/events", {"event": event(tx + "x" * 300)},
         {"transaction_id": ["value_is_too_long"]}),
        ("/events/batch", {"events": [event(tx + "-ok"), event(tx + "-big", properties=big)]},
         {"1": {"properties": ["value_is_out_of_range"]}}),
        ("/events/batch", {"events": [event(tx + "-ok"), event(tx + "-nul", properties=nul)]},
         {"1": {"properties": ["value_is_invalid"]}}),
    ]  # fmt: skip


def test_refused_events_of_one_organization_never_fail_another_organizations(
    server: str, database: Database
) -> None:
    noisy, quiet = make_org(database, "Noisy"), make_org(database, "Quiet")
    make_metric(database, noisy.id, "calls", field_name="units")
    counter = itertools.count()

    def send_bad(thread: int) -> list[tuple[int, Any, Any]]:
        answers = []
        with client(server, noisy) as http:
            for round_ in range(8):
                for path, body, details in bad_requests(f"bad-{next(counter)}"):
                    response = http.post(path, json=body)
                    answers.append((response.status_code, response.json(), details))
                # Accepted: no metric reads `iccid`, so its 26 digits are an identifier
                # (its hourly rollup keeps no total, and no insert fails on it).
                big = event(f"big-{thread}-{round_}", properties={"iccid": "9" * 26, "units": 1})
                response = http.post("/events", json={"event": big})
                answers.append((response.status_code, response.json()["event"]["properties"],
                                big["properties"]))  # fmt: skip
        return answers

    def send_good(thread: int) -> list[int]:
        statuses = []
        with client(server, quiet) as http:
            for index in range(30):
                if index % 5 == 4:
                    batch = [event(f"g{thread}-{index}-{i}", properties={"units": i})
                             for i in range(10)]  # fmt: skip
                    response = http.post("/events/batch", json={"events": batch})
                else:
                    body = {"event": event(f"g{thread}-{index}", properties={"units": 1.5})}
                    response = http.post("/events", json=body)
                statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=6) as pool:
        bad = [pool.submit(send_bad, thread) for thread in range(2)]
        good = [pool.submit(send_good, thread) for thread in range(4)]
        bad_answers = [answer for future in bad for answer in future.result()]
        good_statuses = [status for future in good for status in future.result()]

    assert good_statuses == [200] * 120
    # 4 threads × (24 single events + 6 batches of 10), each stored exactly once.
    expected = sorted(
        [f"g{t}-{i}" for t in range(4) for i in range(30) if i % 5 != 4]
        + [f"g{t}-{i}-{j}" for t in range(4) for i in range(30) if i % 5 == 4 for j in range(10)]
    )
    assert stored(database, quiet.id) == expected
    assert counted(database, quiet.id) == 96 + 240
    assert len(bad_answers) == 2 * 8 * 7
    for status, body, details in bad_answers:
        if status == 200:
            assert body == details  # the accepted event's properties, echoed
        else:
            assert (status, body) == (422, {**UNPROCESSABLE, "error_details": details})
    assert stored(database, noisy.id) == sorted(f"big-{t}-{r}" for t in range(2) for r in range(8))
    # Usage (whole hours from the rollups) counts exactly what was stored.
    window = Window(quiet.id, "sub", datetime(2026, 1, 1, tzinfo=UTC),
                    datetime(2026, 1, 2, tzinfo=UTC), 1)  # fmt: skip
    with database.transaction(write=False) as session:
        [units] = aggregate(session, window, MetricSpec("calls", "sum_agg", "units")).values()
        [noisy_units] = aggregate(
            session,
            replace(window, organization_id=noisy.id),
            MetricSpec("calls", "sum_agg", "units"),
        ).values()
    # 96 single events of 1.5, and 24 batches of 0 + 1 + … + 9.
    assert (units.units, units.events_count) == (96 * Decimal("1.5") + 24 * 45, 336)
    assert (noisy_units.units, noisy_units.events_count) == (16, 16)
