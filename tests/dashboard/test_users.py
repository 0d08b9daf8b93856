"""Dashboard users: the CLI, the start-up bootstrap, passwords stored as argon2 hashes."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from meterbill.app import bootstrap
from meterbill.cli import app as cli
from meterbill.core.db import Database
from meterbill.settings import Settings
from meterbill.users.models import User
from meterbill.users.service import log_in
from tests.conftest import NOW, Org


def emails(db: Database) -> list[str]:
    with db.transaction(write=False) as session:
        return list(session.scalars(select(User.email).order_by(User.email)))


def can_log_in(db: Database, email: str, password: str) -> bool:
    with db.transaction() as session:
        return log_in(session, email, password, NOW).token is not None


def test_cli_creates_a_user_from_stdin(
    database: Database, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERBILL_DATABASE_URL", database.url)
    email = f"Cli-{org.id.hex[:8]}@Example.test"
    result = CliRunner().invoke(
        cli, ["user", "create", email, "--org", str(org.id), "--password-stdin"],
        input="s3cret-password\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == f"user {email.lower()} created in organization {org.id}\n"
    assert can_log_in(database, email, "s3cret-password")
    with database.transaction(write=False) as session:
        stored = session.scalar(select(User.password_hash).where(User.email == email.lower()))
    assert stored is not None and stored.startswith("$argon2id$")
    again = CliRunner().invoke(
        cli, ["user", "create", email, "--org", str(org.id), "--password-stdin"],
        input="another-password\n",
    )  # fmt: skip
    assert again.exit_code == 1
    assert "refused: email is already taken" in again.output


def test_cli_prompts_and_refuses_short_passwords(
    database: Database, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METERBILL_DATABASE_URL", database.url)
    email = f"prompt-{org.id.hex[:8]}@example.test"
    short = CliRunner().invoke(
        cli, ["user", "create", email, "--org", str(org.id)], input="short\nshort\n"
    )
    assert short.exit_code == 1
    assert "refused: password is too short (8 characters at least)" in short.output
    typed = CliRunner().invoke(
        cli, ["user", "create", email, "--org", str(org.id)], input="long enough\nlong enough\n"
    )
    assert typed.exit_code == 0, typed.output
    assert can_log_in(database, email, "long enough")
    unknown = CliRunner().invoke(
        cli, ["user", "create", "x@example.test", "--org", "not-an-id", "--password-stdin"],
        input="long enough\n",
    )  # fmt: skip
    assert unknown.exit_code != 0


def test_first_start_prints_a_one_time_password_beside_the_api_key(
    fresh: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=fresh.url, api_key=None, port=3000)
    with caplog.at_level(logging.WARNING, logger="meterbill"):
        bootstrap(fresh, settings, "http://127.0.0.1:3000/")
    text = caplog.text
    assert "export METERBILL_API_KEY=mb_" in text
    assert "Log in at http://127.0.0.1:3000/ with:" in text
    password = re.search(r"password +(\S+)\n", text)
    assert password
    assert emails(fresh) == ["admin@meterbill.local"]
    assert can_log_in(fresh, "admin@meterbill.local", password.group(1))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="meterbill"):
        bootstrap(fresh, settings, "http://127.0.0.1:3000/")
    assert caplog.text == ""
    assert emails(fresh) == ["admin@meterbill.local"]


def test_admin_from_the_environment_is_idempotent(
    fresh: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=fresh.url,
        api_key="my-key",
        admin_email="Boss@Example.test",
        admin_password="first password",
    )
    with caplog.at_level(logging.WARNING, logger="meterbill"):
        bootstrap(fresh, settings)
    assert "created dashboard user boss@example.test" in caplog.text
    assert "password" not in caplog.text.split("created dashboard user")[1]
    # A later start with another password keeps the user as it is.
    caplog.clear()
    changed = settings.model_copy(update={"admin_password": "second password"})
    with caplog.at_level(logging.WARNING, logger="meterbill"):
        bootstrap(fresh, changed)
    assert caplog.text == ""
    assert emails(fresh) == ["boss@example.test"]
    assert can_log_in(fresh, "boss@example.test", "first password")
    assert not can_log_in(fresh, "boss@example.test", "second password")


def test_admin_email_without_password_creates_nobody(
    fresh: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=fresh.url, api_key="k2", admin_email="a@example.test")
    with caplog.at_level(logging.WARNING, logger="meterbill"):
        bootstrap(fresh, settings)
    assert "go together: no user created" in caplog.text
    assert emails(fresh) == []
