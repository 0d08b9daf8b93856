"""Operating the service: the CLI, start-up bootstrap, health."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from meterbill.app import bootstrap, create_app
from meterbill.core.auth import hash_key
from meterbill.core.db import Database
from meterbill.invoices.models import Invoice
from meterbill.organizations.models import ApiKey, Organization
from meterbill.organizations.service import create_organization
from meterbill.settings import Settings
from tests.conftest import NOW, _free_port, make_org
from tests.db.test_current_usage import Setup


def run_cli(*args: str, database_url: str) -> str:
    env = {**os.environ, "METERBILL_DATABASE_URL": database_url}
    env.pop("METERBILL_API_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "meterbill", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_health_reports_the_database(server: str) -> None:
    response = httpx.get(f"{server}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_health_says_when_the_database_does_not_answer(tmp_path: Path) -> None:
    unreachable = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    app = create_app(Settings(database_url=unreachable.url, clock_interval_seconds=0), unreachable)
    response = TestClient(app).get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "unreachable"}


def test_bootstrap_key_is_idempotent(database: Database) -> None:
    key = f"bootstrap-{time.monotonic_ns()}"
    settings = Settings(
        database_url=database.url, api_key=key, org_name="Boot Org", clock_interval_seconds=0
    )
    bootstrap(database, settings)
    bootstrap(database, settings)
    with database.transaction(write=False) as session:
        owners = session.scalars(
            select(ApiKey.organization_id).where(ApiKey.key_hash == hash_key(key))
        ).all()
        assert len(owners) == 1
        assert session.get(Organization, owners[0]).name == "Boot Org"  # type: ignore[union-attr]


def test_a_new_key_joins_the_named_organization_and_never_makes_a_second(
    fresh: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 14, point 8: Lago's bootstrap finds the organization by name."""
    with fresh.transaction() as session:
        create_organization(session, "Other", NOW)
        named = create_organization(session, "Acme", NOW)

    def owner(key: str) -> uuid.UUID:
        with fresh.transaction(write=False) as session:
            return session.scalars(
                select(ApiKey.organization_id).where(ApiKey.key_hash == hash_key(key))
            ).one()

    def organizations() -> list[str]:
        with fresh.transaction(write=False) as session:
            return sorted(session.scalars(select(Organization.name)))

    settings = Settings(database_url=fresh.url, api_key="k-acme", org_name="Acme")
    with caplog.at_level(logging.WARNING, logger="meterbill"):
        bootstrap(fresh, settings)
    assert owner("k-acme") == named.id
    assert organizations() == ["Acme", "Other"]
    assert f"attached to the existing organization 'Acme' ({named.id})" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="meterbill"):
        bootstrap(fresh, settings)
    assert caplog.text == ""

    bootstrap(fresh, Settings(database_url=fresh.url, api_key="k-new", org_name="Newco"))
    assert organizations() == ["Acme", "Newco", "Other"]
    assert owner("k-new") != named.id


def test_cli_migrates_creates_organizations_and_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert "up to date" in run_cli("migrate", database_url=url)
    output = run_cli("org", "create", "Initech", database_url=url)
    organization_id = re.search(r"organization (\S+)", output).group(1)  # type: ignore[union-attr]
    first_key = re.search(r"api key (\S+)", output).group(1)  # type: ignore[union-attr]
    second_key = re.search(  # type: ignore[union-attr]
        r"api key (\S+)", run_cli("org", "add-key", organization_id, database_url=url)
    ).group(1)
    assert first_key != second_key

    ticked = run_cli("tick", "--now", "2024-01-01T00:00:00Z", database_url=url)
    assert ticked.strip() == (
        "activated 0, terminated 0, downgraded 0, invoices 0, retried 0, finalized 0, "
        "overdue 0, failures 0"
    )

    db = Database(url, pool_size=1)
    with db.transaction(write=False) as session:
        hashes = set(session.scalars(select(ApiKey.key_hash)).all())
        assert session.scalar(select(func.count()).select_from(Organization)) == 1
    db.dispose()
    assert hashes == {hash_key(first_key), hash_key(second_key)}


def test_serve_migrates_bootstraps_and_answers(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "METERBILL_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "METERBILL_API_KEY": "served-key",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "meterbill", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert health.json()["database"] == "ok"
        created = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/customers",
            headers={"Authorization": "Bearer served-key"},
            json={"customer": {"external_id": "first"}},
        )
        assert created.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def _subscribed_database(tmp_path: Path) -> tuple[str, Database]:
    """A SQLite file with one customer on a 10.00 monthly plan since January 2024."""
    url = f"sqlite:///{tmp_path / 'clock.db'}"
    run_cli("migrate", database_url=url)
    db = Database(url, pool_size=1)
    org = make_org(db)
    setup = Setup(db, org)
    setup.plan("p", [], amount_cents=1_000)
    setup.customer("cus")
    setup.subscribe("cus", "p", "sub", datetime(2024, 1, 1, tzinfo=UTC))
    return url, db


def _invoices(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Invoice)) or 0)


def test_tick_command_bills_as_of_the_given_instant(tmp_path: Path) -> None:
    url, db = _subscribed_database(tmp_path)
    output = run_cli("tick", "--now", "2024-03-01T01:00:00Z", database_url=url)
    # February 1st and March 1st: the two billing days since the start.
    assert "invoices 2," in output
    assert "invoices 0," in run_cli("tick", "--now", "2024-03-01T02:00:00Z", database_url=url)
    assert _invoices(db) == 2
    db.dispose()


def _bills_every_month_since_2024(tmp_path: Path, command: list[str], **env: str) -> int:
    """Runs `meterbill COMMAND` on a database subscribed since January 2024 until its
    clock has billed; returns the process's exit code."""
    url, db = _subscribed_database(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "meterbill", *command],
        env={**os.environ, "METERBILL_DATABASE_URL": url, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # The clock ticks on the wall clock: every month since January 2024 is due, and
        # one subscription's months are billed in one transaction.
        deadline = time.monotonic() + 120
        while _invoices(db) == 0:
            assert time.monotonic() < deadline, "the clock billed nothing"
            time.sleep(0.1)
    finally:
        process.terminate()
        code = process.wait(timeout=30)
    today = datetime.now(UTC).date()
    assert _invoices(db) == (today.year - 2024) * 12 + today.month - 1
    db.dispose()
    return code


def test_worker_runs_the_clock_until_stopped(tmp_path: Path) -> None:
    assert _bills_every_month_since_2024(tmp_path, ["worker", "--interval", "0.2"]) == 0


def test_serve_runs_the_clock_in_the_background(tmp_path: Path) -> None:
    command = ["serve", "--port", str(_free_port())]
    _bills_every_month_since_2024(tmp_path, command, METERBILL_CLOCK_INTERVAL_SECONDS="0.2")
