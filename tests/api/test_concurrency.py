"""Races settled by the database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from meterbill.core.db import Database
from meterbill.customers.models import Customer
from tests.conftest import Org


def test_fifty_concurrent_upserts_leave_one_customer(
    server: str, database: Database, org: Org
) -> None:
    def upsert(index: int) -> int:
        with httpx.Client(
            base_url=f"{server}/api/v1",
            headers={"Authorization": f"Bearer {org.api_key}"},
            timeout=60,
        ) as client:
            response = client.post(
                "/customers",
                json={"customer": {"external_id": "race", "name": f"writer {index}"}},
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(upsert, range(50)))

    assert statuses == [200] * 50
    with database.transaction(write=False) as session:
        rows = session.execute(
            select(func.count(), func.max(Customer.sequential_id)).where(
                Customer.organization_id == org.id
            )
        ).one()
    assert tuple(rows) == (1, 1)


def test_concurrent_creates_get_distinct_sequential_ids(
    server: str, database: Database, org: Org
) -> None:
    def create(index: int) -> int:
        with httpx.Client(
            base_url=f"{server}/api/v1",
            headers={"Authorization": f"Bearer {org.api_key}"},
            timeout=60,
        ) as client:
            body = client.post("/customers", json={"customer": {"external_id": f"c{index}"}})
            return int(body.json()["customer"]["sequential_id"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        sequential_ids = sorted(pool.map(create, range(40)))
    assert sequential_ids == list(range(1, 41))
